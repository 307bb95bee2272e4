import { Pool, escapeLiteral, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import { appError } from './errors';

/** The PostgreSQL role the services run as: owns nothing, not superuser, no BYPASSRLS. */
export const APP_ROLE = 'bridge_app';

export type Queryable = Pick<PoolClient, 'query'>;

export interface DatabaseOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
}

/** Postgres error codes that mean "the database is not there right now". */
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (!e) return false;
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || NETWORK_CODES.has(e.code))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e.message ?? '');
}

/**
 * A pg pool with the unit of work every repository runs in. Row-level security reads
 * `app.tenant_id` (set transaction-locally, so a pooled connection never carries it over); no
 * setting widens it. What must span tenants calls the platform functions (`unscoped`).
 */
export class Database {
  readonly pool: Pool;

  constructor(options: DatabaseOptions) {
    const config: PoolConfig = {
      connectionString: options.connectionString,
      max: options.max ?? 10,
      application_name: options.applicationName,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    };
    this.pool = new Pool(config);
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => undefined);
  }

  /** Runs `fn` in a transaction that sees only `tenantId`'s rows. */
  withTenant<T>(tenantId: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    if (!tenantId) throw new Error('withTenant requires a tenant id');
    // One round trip opens the transaction and scopes it (the id is quoted as a SQL literal).
    return this.transaction(`BEGIN; SELECT set_config('app.tenant_id', ${escapeLiteral(tenantId)}, true)`, fn);
  }

  /**
   * Runs one statement in no tenant's scope (autocommit, one round trip): every tenant table shows
   * it no rows, whatever the session sets. It is for calling the platform functions of migration
   * 1732060800020 (`api_key_by_hash`, `outbox_claim`, ...), SECURITY DEFINER functions that are
   * the only way across tenants and return only what their caller needs. Returns the rows;
   * throws 503 DATABASE_UNAVAILABLE when there is no database to be had.
   */
  async unscoped<R extends QueryResultRow = QueryResultRow>(query: string | { name: string; text: string }, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(typeof query === 'string' ? { text: query, values } : { ...query, values })).rows;
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw appError('DATABASE_UNAVAILABLE');
      throw err;
    }
  }

  private async transaction<T>(begin: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    // A connection that dies while checked out (between two queries) emits 'error' on the client;
    // unheard, that would crash the process. The next query fails instead, and is handled below.
    const onError = () => undefined;
    client.on('error', onError);
    let released = false;
    try {
      await client.query(begin);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (isDatabaseUnavailable(err)) {
        // A broken connection must not go back to the pool.
        client.release(err as Error);
        released = true;
        throw appError('DATABASE_UNAVAILABLE');
      }
      throw err;
    } finally {
      client.off('error', onError);
      if (!released) client.release();
    }
  }

  /** No connection to be had, whatever the reason, is "the database is unavailable" (503, retry later). */
  private async connect(): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch {
      throw appError('DATABASE_UNAVAILABLE');
    }
  }

  async query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<R[]> {
    const result = await this.pool.query<R>(text, params);
    return result.rows;
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Refuses to run as a role that row-level security does not bind: a superuser, a BYPASSRLS
   * role, or the owner of a tenant table.
   */
  async assertUnprivilegedRole(): Promise<void> {
    const [row] = await this.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; owns: boolean }>(
      `SELECT r.rolname, r.rolsuper, r.rolbypassrls,
              EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = current_schema() AND t.tableowner = r.rolname) AS owns
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    if (!row) throw new Error('Cannot read the current database role');
    if (row.rolsuper || row.rolbypassrls || row.owns) {
      throw new Error(
        `DATABASE_URL connects as "${row.rolname}", which row-level security does not bind ` +
          `(superuser, BYPASSRLS or table owner); services must connect as the application role "${APP_ROLE}"`,
      );
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * A named statement: PostgreSQL parses and plans it once per connection instead of on every call.
 * For the hot paths; use as `q.query({ ...STATEMENT, values })`.
 */
export function statement(name: string, text: string): { name: string; text: string } {
  return { name, text };
}

/** Builds the application role's connection string from an owner's one (same host and database). */
export function appRoleUrl(ownerUrl: string, password?: string): string {
  const url = new URL(ownerUrl);
  url.username = APP_ROLE;
  url.password = password ? encodeURIComponent(password) : '';
  return url.toString();
}
