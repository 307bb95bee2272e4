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
      await client.query(`ALTER ROLE ${APP_ROLE} PASSWORD ${client.escapeLiteral(options.appRolePassword)}`);
    }
    await client.query(`DO $$ BEGIN
      EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${APP_ROLE}', current_database());
    END $$`);
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
