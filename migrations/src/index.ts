import path from 'node:path';
import { Client } from 'pg';
import { runner } from 'node-pg-migrate';
import { APP_ROLE } from '@bridge/shared';

export const MIGRATIONS_DIR = path.join(__dirname, '..', 'sql');

export interface MigrateOptions {
  /** The owner's connection string: migrations create tables, so they run as the owner. */
  databaseUrl: string;
  /** Password for the application role; omit where the server trusts local connections. */
  appRolePassword?: string;
  direction?: 'up' | 'down';
  count?: number;
  log?: (message: string) => void;
}

/**
 * Runs a statement that updates a shared catalog row (the role, the database's ACL). Two
 * processes migrating databases of one server at once (replicas starting together, parallel test
 * files) can update the same row concurrently, and PostgreSQL then fails the second with
 * "tuple concurrently updated" (XX000) instead of waiting: the statement is simply run again.
 */
async function retryCatalogRace<T>(run: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= attempts || !/tuple concurrently (updated|deleted)/.test((err as Error).message)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 80) * attempt));
    }
  }
}

/**
 * Creates the application role the services connect as (cluster-wide, so idempotent and
 * race-tolerant), grants it what it needs on this database, then applies pending migrations
 * under node-pg-migrate's advisory lock.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const client = new Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    await client.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        CREATE ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
      END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$`);
    if (options.appRolePassword) {
      const sql = `ALTER ROLE ${APP_ROLE} PASSWORD ${client.escapeLiteral(options.appRolePassword)}`;
      await retryCatalogRace(() => client.query(sql));
    }
    await retryCatalogRace(() =>
      client.query(`DO $$ BEGIN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${APP_ROLE}', current_database());
      END $$`),
    );
    await client.query(`GRANT USAGE ON SCHEMA public TO ${APP_ROLE}`);
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: options.direction ?? 'up',
      count: options.count,
      migrationsTable: 'pgmigrations',
      singleTransaction: true,
      checkOrder: true,
      verbose: false,
      log: options.log ?? (() => undefined),
    });
    return applied.map((m) => m.name);
  } finally {
    await client.end();
  }
}
