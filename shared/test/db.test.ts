import { Client } from 'pg';
import express from 'express';
import { AppError, Database, dbTimeouts, loadConfig, serviceConfigSchema, startService, statement } from '@bridge/shared';
import { createTestDatabase, serverQuery, type TestDatabase } from '../../test/support/db';
import { uniqueTenantId } from '../../test/support/ids';

/**
 * The application's connections: what a unit of work does when the database makes it wait
 * (timeouts) or cannot serve it (a read-only server after a failover, a server shutting down).
 */
let tdb: TestDatabase;
const tenantId = uniqueTenantId('db');

beforeAll(async () => {
  tdb = await createTestDatabase();
  const owner = new Client({ connectionString: tdb.ownerUrl });
  await owner.connect();
  await owner.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, 'db test')`, [tenantId]);
  await owner.end();
});

afterAll(async () => {
  await serverQuery(`ALTER DATABASE ${tdb.name} RESET default_transaction_read_only`).catch(() => undefined);
  await tdb.drop();
});

/** An owner session holding the tenant's row locked until `release` is called. */
async function holdTenantRow(): Promise<{ release: () => Promise<void> }> {
  const owner = new Client({ connectionString: tdb.ownerUrl });
  await owner.connect();
  await owner.query('BEGIN');
  await owner.query('SELECT 1 FROM tenants WHERE tenant_id = $1 FOR UPDATE', [tenantId]);
  return {
    release: async () => {
      await owner.query('ROLLBACK');
      await owner.end();
    },
  };
}

const rename = (db: Database, name: string) => db.withTenant(tenantId, (q) => q.query('UPDATE tenants SET name = $2 WHERE tenant_id = $1', [tenantId, name]));

async function caught(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('timeouts on every application connection', () => {
  it('applies statement, lock and idle-in-transaction timeouts by default (15 s, 5 s, 30 s)', async () => {
    const db = new Database({ connectionString: tdb.appUrl });
    try {
      const settings = await db.withTenant(tenantId, async (q) => {
        const { rows } = await q.query<{ name: string; setting: string }>(
          `SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout') ORDER BY name`,
        );
        return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
      });
      expect(settings).toEqual({ idle_in_transaction_session_timeout: '30000', lock_timeout: '5000', statement_timeout: '15000' });
    } finally {
      await db.close();
    }
  });

  it('are read from DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS and DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', () => {
    const schema = serviceConfigSchema(1, {});
    const env = { DATABASE_URL: 'postgres://x@y/z' };
    expect(dbTimeouts(loadConfig(schema, env))).toEqual({ statementMs: 15_000, lockMs: 5_000, idleInTransactionMs: 30_000 });
    const set = { ...env, DB_STATEMENT_TIMEOUT_MS: '20000', DB_LOCK_TIMEOUT_MS: '1000', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '0' };
    expect(dbTimeouts(loadConfig(schema, set))).toEqual({ statementMs: 20_000, lockMs: 1_000, idleInTransactionMs: 0 });
    expect(() => loadConfig(schema, { ...env, DB_LOCK_TIMEOUT_MS: 'soon' })).toThrow(/DB_LOCK_TIMEOUT_MS/);
  });

  it('a statement waiting on a lock another session holds fails within the lock timeout: 503 DATABASE_BUSY, and the connection stays usable', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1, timeouts: { lockMs: 300 } });
    const lock = await holdTenantRow();
    try {
      const started = Date.now();
      const err = await caught(rename(db, 'blocked'));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect({ code: err.code, status: err.status }).toEqual({ code: 'DATABASE_BUSY', status: 503 });
      await lock.release();
      await rename(db, 'after the lock');
      expect(db.pool.totalCount).toBe(1);
    } finally {
      await lock.release().catch(() => undefined);
      await db.close();
    }
  });

  it('a statement running longer than the statement timeout is cancelled: 503 DATABASE_BUSY', async () => {
    const db = new Database({ connectionString: tdb.appUrl, timeouts: { statementMs: 200 } });
    try {
      const started = Date.now();
      const err = await caught(db.withTenant(tenantId, (q) => q.query('SELECT pg_sleep(5)')));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(err.code).toBe('DATABASE_BUSY');
    } finally {
      await db.close();
    }
  });

  it('a transaction left idle past the idle-in-transaction timeout is ended by the server, and the pool carries on', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1, timeouts: { idleInTransactionMs: 200 } });
    try {
      const err = await caught(
        db.withTenant(tenantId, async (q) => {
          await q.query('SELECT 1');
          await new Promise((r) => setTimeout(r, 600));
          await q.query('SELECT 1');
        }),
      );
      expect(err.code).toBe('DATABASE_UNAVAILABLE');
      await rename(db, 'after the idle timeout');
    } finally {
      await db.close();
    }
  });
});

describe('a server that cannot serve writes (read-only after a failover)', () => {
  afterEach(() => serverQuery(`ALTER DATABASE ${tdb.name} RESET default_transaction_read_only`));

  it('answers 503 DATABASE_UNAVAILABLE, not 500, and recovers without a restart once the server takes writes', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 3 });
    try {
      await serverQuery(`ALTER DATABASE ${tdb.name} SET default_transaction_read_only = on`);
      // Three connections to the read-only server, as a busy pool would hold after the failover.
      await Promise.all([1, 2, 3].map(() => db.withTenant(tenantId, (q) => q.query('SELECT pg_sleep(0.05)'))));
      expect(db.pool.totalCount).toBe(3);

      const err = await caught(rename(db, 'read-only'));
      expect({ code: err.code, status: err.status }).toEqual({ code: 'DATABASE_UNAVAILABLE', status: 503 });

      await serverQuery(`ALTER DATABASE ${tdb.name} RESET default_transaction_read_only`);
      // Every connection to the read-only server was retired, not only the one that failed:
      // three writes at once all succeed on the first try.
      await Promise.all([1, 2, 3].map((i) => rename(db, `writable ${i}`)));
    } finally {
      await db.close();
    }
  });

  it('a platform function across tenants (db.unscoped) is answered the same: 503 DATABASE_UNAVAILABLE, then DATABASE_BUSY past the statement timeout', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 2, timeouts: { statementMs: 200 } });
    try {
      await serverQuery(`ALTER DATABASE ${tdb.name} SET default_transaction_read_only = on`);
      // outbox_claim writes (it leases what it returns): a read-only server refuses it.
      const err = await caught(db.unscoped('SELECT * FROM outbox_claim(1, 1000, ARRAY[]::text[])'));
      expect({ code: err.code, status: err.status }).toEqual({ code: 'DATABASE_UNAVAILABLE', status: 503 });
      await serverQuery(`ALTER DATABASE ${tdb.name} RESET default_transaction_read_only`);
      expect(await db.unscoped('SELECT * FROM outbox_claim(1, 1000, ARRAY[]::text[])')).toEqual([]);
      expect((await caught(db.unscoped('SELECT pg_sleep(5)'))).code).toBe('DATABASE_BUSY');
    } finally {
      await db.close();
    }
  });

  it('keeps a connection whose transaction failed for an ordinary reason (a constraint), as before', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1 });
    try {
      const pid = () => db.withTenant(tenantId, async (q) => (await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      const before = await pid();
      await expect(db.withTenant(tenantId, (q) => q.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, 'dup')`, [tenantId]))).rejects.toMatchObject({ code: '23505' });
      expect(await pid()).toBe(before);
    } finally {
      await db.close();
    }
  });
});

describe('a server shutting connections down', () => {
  it('a terminated session answers 503 DATABASE_UNAVAILABLE and the next unit of work reconnects', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1 });
    try {
      const err = await caught(
        db.withTenant(tenantId, async (q) => {
          const { rows } = await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          const killer = new Client({ connectionString: tdb.ownerUrl });
          await killer.connect();
          await killer.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
          await killer.end();
          await q.query('SELECT 1');
        }),
      );
      expect(err.code).toBe('DATABASE_UNAVAILABLE');
      await rename(db, 'after the shutdown');
    } finally {
      await db.close();
    }
  });
});

describe('named statements, and a pooler in transaction mode (DB_NAMED_STATEMENTS)', () => {
  const COUNT = statement('db_test_count_tenant', 'SELECT count(*)::int AS n FROM tenants WHERE tenant_id = $1');
  /** The named statements the session holds (the pool has one connection, so it is the one that ran the query). */
  const prepared = (db: Database) => db.unscoped<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name').then((rows) => rows.map((r) => r.name));

  it('by default, a statement(name, text) is prepared once per connection under its name', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1 });
    try {
      for (let i = 0; i < 2; i++) {
        const rows = await db.withTenant(tenantId, async (q) => (await q.query<{ n: number }>({ ...COUNT, values: [tenantId] })).rows);
        expect(rows).toEqual([{ n: 1 }]);
      }
      expect(await db.unscoped({ ...COUNT }, [tenantId])).toEqual([{ n: 0 }]);
      expect(await prepared(db)).toEqual(['db_test_count_tenant']);
    } finally {
      await db.close();
    }
  });

  it('by default, a parameterized query(text, values) is prepared once per connection, under a name from its text', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1 });
    const text = 'SELECT name FROM tenants WHERE tenant_id = $1';
    try {
      for (let i = 0; i < 3; i++) {
        const rows = await db.withTenant(tenantId, async (q) => (await q.query<{ name: string }>(text, [tenantId])).rows);
        expect(rows).toEqual([{ name: expect.any(String) }]);
      }
      const held = await db.unscoped<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements');
      expect(held.filter((s) => s.statement === text)).toEqual([{ name: expect.stringMatching(/^p_[0-9a-f]{20}$/), statement: text }]);
      // Text without values (BEGIN, COMMIT, the scoping) is not prepared.
      expect(held.some((s) => /BEGIN|COMMIT/.test(s.statement))).toBe(false);
    } finally {
      await db.close();
    }
  });

  it('a connection prepares at most preparedPerConnection distinct texts; the rest run unnamed', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1, preparedPerConnection: 2 });
    try {
      for (let i = 0; i < 4; i++) expect(await db.query<{ n: number }>(`SELECT $1::int + ${i} AS n`, [1])).toEqual([{ n: 1 + i }]);
      const held = await db.unscoped<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY statement');
      expect(held.map((s) => s.statement)).toEqual(['SELECT $1::int + 0 AS n', 'SELECT $1::int + 1 AS n']);
    } finally {
      await db.close();
    }
  });

  it('a prepared statement a migration made stale ("cached plan must not change result type") costs its connection, not the next unit of work', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1 });
    const owner = new Client({ connectionString: tdb.ownerUrl });
    await owner.connect();
    const text = 'SELECT * FROM plans WHERE name = $1';
    try {
      await db.withTenant(tenantId, (q) => q.query(text, ['standard']));
      await owner.query('ALTER TABLE plans ADD COLUMN db_test_extra integer');
      const err = await caught(db.withTenant(tenantId, (q) => q.query(text, ['standard'])));
      expect(err.code).toBe('DATABASE_UNAVAILABLE');
      const rows = await db.withTenant(tenantId, async (q) => (await q.query<{ name: string; db_test_extra: null }>(text, ['standard'])).rows);
      expect(rows).toEqual([expect.objectContaining({ name: 'standard', db_test_extra: null })]);
    } finally {
      await owner.query('ALTER TABLE plans DROP COLUMN IF EXISTS db_test_extra');
      await owner.end();
      await db.close();
    }
  });

  it('with namedStatements false, the same statements run unnamed: nothing is left prepared on the server connection for the next transaction to miss', async () => {
    const db = new Database({ connectionString: tdb.appUrl, max: 1, namedStatements: false });
    try {
      for (let i = 0; i < 2; i++) {
        const rows = await db.withTenant(tenantId, async (q) => (await q.query<{ n: number }>({ ...COUNT, values: [tenantId] })).rows);
        expect(rows).toEqual([{ n: 1 }]);
      }
      expect(await db.unscoped({ ...COUNT }, [tenantId])).toEqual([{ n: 0 }]);
      expect(await db.query<{ n: number }>('SELECT $1::int AS n', [7])).toEqual([{ n: 7 }]);
      expect(await prepared(db)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it.each([
    ['true', ['db_test_count_tenant']],
    ['false', []],
  ])('a service started with DB_NAMED_STATEMENTS=%s gets a pool that does so', async (setting, expected) => {
    let seen: string[] | undefined;
    const service = await startService(
      {
        name: 'named-statements-test',
        configSchema: serviceConfigSchema(0, {}),
        createApp: async ({ db }) => {
          // One query after the other: the pool hands back the connection it just had.
          await db.unscoped({ ...COUNT }, [tenantId]);
          seen = await prepared(db);
          return { app: express(), close: async () => undefined };
        },
      },
      { DATABASE_URL: tdb.appUrl, LOG_LEVEL: 'silent', PORT: '0', DB_NAMED_STATEMENTS: setting },
    );
    await service.close();
    expect(seen).toEqual(expected);
  });

  it('is read from DB_NAMED_STATEMENTS (default true)', () => {
    const schema = serviceConfigSchema(1, {});
    const env = { DATABASE_URL: 'postgres://x@y/z' };
    expect(loadConfig(schema, env).DB_NAMED_STATEMENTS).toBe(true);
    expect(loadConfig(schema, { ...env, DB_NAMED_STATEMENTS: 'false' }).DB_NAMED_STATEMENTS).toBe(false);
    expect(loadConfig(schema, { ...env, DB_NAMED_STATEMENTS: '0' }).DB_NAMED_STATEMENTS).toBe(false);
    expect(() => loadConfig(schema, { ...env, DB_NAMED_STATEMENTS: 'no' })).toThrow(/DB_NAMED_STATEMENTS/);
  });
});
