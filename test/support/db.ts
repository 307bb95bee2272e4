import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { appRoleUrl } from '@bridge/shared';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is unset: run the tests with \`npm test\`, which prepares the databases`);
  return value;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function asOwner<T>(fn: (c: Client) => Promise<T>, database?: string): Promise<T> {
  const owner = required('TEST_OWNER_URL');
  const client = new Client({ connectionString: database ? withDatabase(owner, database) : owner });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  /** The application role's connection: not superuser, not owner, bound by row-level security. */
  appUrl: string;
  /** The owner's connection, for setting up what the application role may not do. */
  ownerUrl: string;
  drop(): Promise<void>;
}

/** A fresh database cloned from the run's migrated template. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `bridge_t_${required('TEST_RUN_ID')}_${randomBytes(4).toString('hex')}`;
  const template = options.migrated === false ? 'template0' : required('TEST_TEMPLATE_DB');
  // Concurrent clones of one template can collide on its lock; retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      await asOwner((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
      break;
    } catch (err) {
      if (attempt >= 10 || !/being accessed by other users/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  const ownerUrl = withDatabase(required('TEST_OWNER_URL'), name);
  return {
    name,
    ownerUrl,
    appUrl: appRoleUrl(ownerUrl, process.env.DB_APP_PASSWORD),
    drop: () => asOwner((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Runs SQL as the owner on a test database. */
export function ownerQuery<T = Record<string, unknown>>(db: TestDatabase, sql: string, params: unknown[] = []): Promise<T[]> {
  return asOwner(async (c) => (await c.query(sql, params)).rows as T[], db.name);
}

/** Runs SQL as the owner on the server's own database (for statements about a test database). */
export function serverQuery<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  return asOwner(async (c) => (await c.query(sql, params)).rows as T[]);
}
