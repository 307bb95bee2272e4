import { createHash } from 'node:crypto';
import { Pool, escapeLiteral, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import { appError } from './errors';

/** The PostgreSQL role the services run as: owns nothing, not superuser, no BYPASSRLS. */
export const APP_ROLE = 'bridge_app';

export type Queryable = Pick<PoolClient, 'query'>;

/**
 * How long the server lets one of our sessions wait or work before it gives up, in
 * milliseconds (0: no limit). Sent as the session's `statement_timeout`, `lock_timeout` and
 * `idle_in_transaction_session_timeout` when each connection opens, so no unit of work can
 * queue behind a lock, run, or hold a transaction open for ever and take a pooled connection
 * (and every request waiting for one) with it.
 */
export interface DatabaseTimeouts {
  /** Longest a statement may run. */
  statementMs: number;
  /** Longest a statement may wait for a lock (a row another transaction is changing, a table a migration alters). */
  lockMs: number;
  /** Longest a transaction may sit idle between statements; the server then ends the session. */
  idleInTransactionMs: number;
}

/** The defaults, and what DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS and DB_IDLE_IN_TRANSACTION_TIMEOUT_MS default to. */
export const DEFAULT_DB_TIMEOUTS: DatabaseTimeouts = { statementMs: 15_000, lockMs: 5_000, idleInTransactionMs: 30_000 };

export interface DatabaseOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** Any not given: DEFAULT_DB_TIMEOUTS. */
  timeouts?: Partial<DatabaseTimeouts>;
  /**
   * Whether statements made with `statement(name, text)` are sent as named prepared statements
   * (default true). false sends every one unnamed (parsed on each call), for a pooler in
   * transaction mode that hands each transaction a different server connection and does not carry
   * named statements between them (PgBouncer before 1.21, or with max_prepared_statements = 0):
   * there a name prepared on one server connection is unknown on the next ("prepared statement
   * ... does not exist"). DB_NAMED_STATEMENTS.
   */
  namedStatements?: boolean;
  /**
   * With named statements on: how many distinct parameterized texts each connection prepares
   * (default DEFAULT_PREPARED_PER_CONNECTION); texts past that run unnamed. A bound on what a
   * server session keeps should some code build its SQL text from data.
   */
  preparedPerConnection?: number;
}

/** Distinct parameterized statements each connection prepares (see DatabaseOptions.preparedPerConnection). */
export const DEFAULT_PREPARED_PER_CONNECTION = 256;

/**
 * SQLSTATEs that mean "this server cannot serve this session" (PostgreSQL, Appendix A "Error
 * Codes"): the connection is of no further use, so it is discarded and the pool opens a new one,
 * which may reach a recovered or newly promoted server. Class 08 (connection exceptions);
 * 25006 read_only_sql_transaction (a standby, or a primary demoted by a failover, refuses
 * writes); 25P03 idle_in_transaction_session_timeout; 53300 too_many_connections; 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P04 database_dropped, 57P05
 * idle_session_timeout. Not these: 40001/40P01 (serialization failure, deadlock) and constraint
 * errors, which are about the transaction, not the server.
 */
const UNAVAILABLE_CODES = new Set(['25006', '25P03', '53300', '57P01', '57P02', '57P03', '57P04', '57P05']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a statement the server gave up on for our own timeouts: 55P03 lock_not_available
 * (lock_timeout) and 57014 query_canceled (statement_timeout). The session is fine; the request
 * is answered 503 so that its sender retries later.
 */
const BUSY_CODES = new Set(['55P03', '57014']);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (!e) return false;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || NETWORK_CODES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e.message ?? '');
}

/** Whether `err` is the server giving up on a statement for its lock or statement timeout. */
export function isDatabaseBusy(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return typeof code === 'string' && BUSY_CODES.has(code);
}

/**
 * A pg pool with the unit of work every repository runs in. Row-level security reads
 * `app.tenant_id` (set transaction-locally, so a pooled connection never carries it over); no
 * setting widens it. What must span tenants calls the platform functions (`unscoped`).
 */
export class Database {
  readonly pool: Pool;
  readonly timeouts: DatabaseTimeouts;
  /**
   * Bumped when a connection turns out to reach a server that cannot serve us: every connection
   * opened before that reaches the same server, so each is closed instead of being reused.
   */
  private generation = 0;
  private readonly generationOf = new WeakMap<PoolClient, number>();

  constructor(options: DatabaseOptions) {
    this.timeouts = { ...DEFAULT_DB_TIMEOUTS, ...options.timeouts };
    const config: PoolConfig = {
      connectionString: options.connectionString,
      max: options.max ?? 10,
      application_name: options.applicationName,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      // Session settings sent when each connection opens (0 turns one off).
      statement_timeout: this.timeouts.statementMs,
      lock_timeout: this.timeouts.lockMs,
      idle_in_transaction_session_timeout: this.timeouts.idleInTransactionMs,
    };
    this.pool = new Pool(config);
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => {
      this.generationOf.set(client, this.generation);
      if (options.namedStatements === false) sendUnnamed(client);
      else prepareParameterized(client, options.preparedPerConnection ?? DEFAULT_PREPARED_PER_CONNECTION);
    });
  }

  /**
   * Runs `fn` in a transaction of no tenant: every tenant table shows it no rows. For the
   * platform's own data (plans) and its audit chain (appendAudit with tenantId null).
   */
  withoutTenant<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN', fn);
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
   * throws 503 DATABASE_UNAVAILABLE or DATABASE_BUSY as withTenant does.
   */
  unscoped<R extends QueryResultRow = QueryResultRow>(query: string | { name: string; text: string }, values: unknown[] = []): Promise<R[]> {
    const config = typeof query === 'string' ? { text: query, values } : { ...query, values };
    return this.onConnection(async (client) => (await client.query<R>(config)).rows, false);
  }

  private transaction<T>(begin: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    return this.onConnection(async (client) => {
      await client.query(begin);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    }, true);
  }

  /** Runs `fn` on a pooled connection; `inTransaction`: it opened one, rolled back if `fn` fails. */
  private async onConnection<T>(fn: (client: PoolClient) => Promise<T>, inTransaction: boolean): Promise<T> {
    const client = await this.connect();
    // A connection that dies while checked out (between two queries) emits 'error' on the client;
    // unheard, that would crash the process. The next query fails instead, and is handled below.
    const onError = () => undefined;
    client.on('error', onError);
    let released = false;
    try {
      return await fn(client);
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        // A connection to a server that cannot serve us must not go back to the pool, nor may
        // its siblings (opened to the same server) be handed out again.
        this.generation++;
        client.release(err as Error);
        released = true;
        throw appError('DATABASE_UNAVAILABLE');
      }
      if (isStalePreparedStatement(err)) {
        // A migration changed what a statement this connection prepared returns: the connection
        // is dropped (a new one prepares it afresh) and the caller tries again.
        client.release(err as Error);
        released = true;
        throw appError('DATABASE_UNAVAILABLE');
      }
      if (inTransaction) await client.query('ROLLBACK').catch(() => undefined);
      if (isDatabaseBusy(err)) throw appError('DATABASE_BUSY');
      throw err;
    } finally {
      client.off('error', onError);
      if (!released) client.release();
    }
  }

  /**
   * A pooled connection opened since the last "cannot serve" error (older ones are closed as
   * they come out of the pool). No connection to be had, whatever the reason, is "the database
   * is unavailable" (503, retry later).
   */
  private async connect(): Promise<PoolClient> {
    for (;;) {
      let client: PoolClient;
      try {
        client = await this.pool.connect();
      } catch {
        throw appError('DATABASE_UNAVAILABLE');
      }
      if ((this.generationOf.get(client) ?? this.generation) >= this.generation) return client;
      client.release(true);
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
 * PostgreSQL's "cached plan must not change result type" (SQLSTATE 0A000): a statement prepared
 * on this connection before a migration changed the columns it returns (e.g. `SELECT *` of a table
 * that gained one). The server refuses it on this connection until it is prepared again.
 */
function isStalePreparedStatement(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === '0A000' && /cached plan must not change result type/.test(e.message ?? '');
}

/**
 * Makes a connection prepare each parameterized statement it runs, `query(text, values)`, under a
 * name derived from its text (`p_` + 20 hex digits of its SHA-1), so that PostgreSQL parses it once
 * per connection and may keep its plan, instead of parsing and planning it on every call. Up to
 * `limit` distinct texts per connection; later ones run unnamed. Statements without values
 * (`BEGIN; ...`, `COMMIT`) and configs (`query({ text, values })`, named or not) are sent as they
 * are: a statement whose best plan depends on its values more than PostgreSQL's choice between a
 * custom and a generic plan can tell (the purge's batches, planned under SET LOCAL enable_sort =
 * off) is passed as `{ text, values }` to be planned afresh on every call.
 */
function prepareParameterized(client: PoolClient, limit: number): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const names = new Map<string, string>();
  const named = (config: unknown, values?: unknown, ...rest: unknown[]) => {
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
      let name = names.get(config);
      if (!name && names.size < limit) {
        name = `p_${createHash('sha1').update(config).digest('hex').slice(0, 20)}`;
        names.set(config, name);
      }
      if (name) return query({ name, text: config, values }, ...rest);
    }
    return query(config, values, ...rest);
  };
  (client as unknown as { query: typeof named }).query = named;
}

/**
 * Makes a connection send every query config `{ name, text, values }` without its name, so that
 * PostgreSQL parses it as the unnamed statement of that one call (see DatabaseOptions.namedStatements).
 * Every query of the pool goes through the client's `query`, so this covers them all.
 */
function sendUnnamed(client: PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const unnamed = (config: unknown, ...rest: unknown[]) =>
    query(config !== null && typeof config === 'object' && Object.getPrototypeOf(config) === Object.prototype && 'name' in config ? { ...config, name: undefined } : config, ...rest);
  (client as unknown as { query: typeof unnamed }).query = unnamed;
}

/**
 * JSON for a jsonb parameter. PostgreSQL's jsonb refuses U+0000 and lone surrogates (half an
 * emoji, e.g. where a sender cut a text), which JSON (and so a provider's payload) may carry: one
 * would fail the whole statement, on every retry. Each becomes U+FFFD. JSON.stringify writes
 * both as `\u` escapes and a backslash as `\\`; backslash pairs are matched first, so an escaped
 * backslash followed by `u0000` is left as it is.
 */
export function jsonbParam(value: unknown): string {
  return JSON.stringify(value).replace(/\\\\|\\u(?:0000|d[89a-f][0-9a-f]{2})/gi, (m) => (m === '\\\\' ? m : '\\ufffd'));
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
