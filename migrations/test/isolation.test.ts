import { readdirSync } from 'node:fs';
import { Client } from 'pg';
import { Database } from '@bridge/shared';
import { MIGRATIONS_DIR, migrate } from '../src';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';

/**
 * Row-level security as the application role: with app.tenant_id set to A, a query with no WHERE
 * clause sees none of B's rows; with nothing set it sees nothing at all.
 */
const TENANT_TABLES = [
  'tenants',
  'tenant_credentials',
  'tenant_api_keys',
  'conversation_mappings',
  'message_tracking',
  'tenant_usage_daily',
  'message_events',
  'outbox',
  'message_parts',
  'conversation_aliases',
  'account_events',
  'tenant_deletions',
  'message_templates',
  'api_idempotency_keys',
  'agentless_echoes',
  'audit_events',
  'tenant_notifications',
  'tenant_usage_monthly',
];

let tdb: TestDatabase;
let db: Database;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  for (const [t, phone] of [['tenant-a', '111111'], ['tenant-b', '222222']]) {
    await ownerQuery(tdb, `INSERT INTO tenants (tenant_id, name, subdomain) VALUES ($1, $1, $1)`, [t]);
    await ownerQuery(
      tdb,
      `INSERT INTO tenant_credentials (tenant_id, type, encrypted, phone_number_id, verify_token_hash) VALUES ($1, 'meta', '\\x01', $2, repeat(substr(md5($2), 1, 1), 64))`,
      [t, phone],
    );
    await ownerQuery(tdb, `INSERT INTO tenant_api_keys (tenant_id, key_hash, prefix, name) VALUES ($1, repeat(substr(md5($1), 1, 1), 64), 'sk_x', 'k')`, [t]);
    await ownerQuery(tdb, `INSERT INTO conversation_mappings (tenant_id, wa_id) VALUES ($1, '15550000000')`, [t]);
    await ownerQuery(tdb, `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type) VALUES ($1, 'inbound', '15550000000', 'wamid.same', 'text')`, [t]);
    await ownerQuery(tdb, `INSERT INTO message_events (tenant_id, source, kind, provider_key) VALUES ($1, 'meta', 'read', 'wamid.same:read')`, [t]);
    await ownerQuery(tdb, `INSERT INTO outbox (tenant_id, kind, lane) VALUES ($1, 'to_genesys_message', 'in:15550000000')`, [t]);
    await ownerQuery(
      tdb,
      `INSERT INTO message_parts (tenant_id, message_id, part, part_count, kind, wamid, status)
       SELECT tenant_id, id, 1, 1, 'text', 'wamid.part', 'sent' FROM message_tracking WHERE tenant_id = $1`,
      [t],
    );
    await ownerQuery(tdb, `INSERT INTO conversation_aliases (tenant_id, wa_id, moved_to) VALUES ($1, '15550000001', '15550000000')`, [t]);
    await ownerQuery(tdb, `INSERT INTO account_events (tenant_id, field, waba_id, payload) VALUES ($1, 'account_update', $2, '{}')`, [t, `waba-${phone}`]);
    await ownerQuery(tdb, `INSERT INTO tenant_deletions (tenant_id, state, finished_at) VALUES ($1, 'done', now())`, [t]);
    await ownerQuery(tdb, `INSERT INTO message_templates (tenant_id, name, language, category, status) VALUES ($1, 'order_update', 'en_US', 'UTILITY', 'APPROVED')`, [t]);
    await ownerQuery(tdb, `INSERT INTO api_idempotency_keys (tenant_id, key, request_hash, message_id) VALUES ($1, 'k1', repeat('a', 64), 1)`, [t]);
    await ownerQuery(tdb, `INSERT INTO agentless_echoes (tenant_id, message_id, wa_id, text_hash) VALUES ($1, 1, '15550000000', repeat('b', 64))`, [t]);
    await ownerQuery(tdb, `INSERT INTO audit_events (tenant_id, actor, action, at, prev_hash, hash) VALUES ($1, 'admin', 'tenant.created', now(), repeat('0', 64), repeat('c', 64))`, [t]);
    await ownerQuery(tdb, `INSERT INTO tenant_notifications (tenant_id, kind, key, severity, message) VALUES ($1, 'quota.warning', 'k', 'warning', 'm')`, [t]);
  }
  // Each tenant's WABA; a change held for each tenant's number and WABA, and one nobody owns.
  await ownerQuery(tdb, `UPDATE tenant_credentials SET waba_id = 'waba-' || phone_number_id`);
  await ownerQuery(
    tdb,
    `INSERT INTO unclaimed_webhook_changes (phone_number_id, waba_id, field, signed_by, payload)
     VALUES ('111111', NULL, 'messages', 'platform', '{"n": 1}'), (NULL, 'waba-222222', 'account_update', 'platform', '{"n": 2}'),
            ('333333', NULL, 'messages', 'platform', '{"n": 3}')`,
  );
});

afterAll(async () => {
  await db.close();
  await tdb.drop();
});

describe('row-level security, as the application role', () => {
  it('connects as a role that is neither superuser, nor BYPASSRLS, nor owner', async () => {
    await expect(db.assertUnprivilegedRole()).resolves.toBeUndefined();
    const [role] = await db.query<{ current_user: string }>('SELECT current_user');
    expect(role.current_user).toBe('bridge_app');
  });

  it.each(TENANT_TABLES)('%s: tenant A sees only its own rows', async (table) => {
    const rows = await db.withTenant('tenant-a', async (q) => (await q.query(`SELECT tenant_id FROM ${table}`)).rows);
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set(['tenant-a']));
  });

  it.each(TENANT_TABLES)('%s: no tenant set, no rows', async (table) => {
    expect(await db.query(`SELECT * FROM ${table}`)).toEqual([]);
  });

  it('refuses to write a row for another tenant, and to move a row to one', async () => {
    await expect(
      db.withTenant('tenant-a', (q) => q.query(`INSERT INTO conversation_mappings (tenant_id, wa_id) VALUES ('tenant-b', '15559999999')`)),
    ).rejects.toThrow(/row-level security/);
    await expect(
      db.withTenant('tenant-a', (q) => q.query(`UPDATE conversation_mappings SET tenant_id = 'tenant-b'`)),
    ).rejects.toThrow(/row-level security/);
    const updated = await db.withTenant('tenant-a', (q) => q.query(`UPDATE message_tracking SET status = 'failed' WHERE tenant_id = 'tenant-b'`));
    expect(updated.rowCount).toBe(0);
    const deleted = await db.withTenant('tenant-a', (q) => q.query(`DELETE FROM tenants WHERE tenant_id = 'tenant-b'`));
    expect(deleted.rowCount).toBe(0);
  });

  it('does not carry a tenant over to the next use of a pooled connection', async () => {
    const single = new Database({ connectionString: tdb.appUrl, max: 1 });
    try {
      await single.withTenant('tenant-a', (q) => q.query('SELECT 1'));
      expect(await single.query('SELECT * FROM conversation_mappings')).toEqual([]);
    } finally {
      await single.close();
    }
  });

  it('cannot turn row-level security off or read the owner-only tables', async () => {
    const client = new Client({ connectionString: tdb.appUrl });
    await client.connect();
    try {
      await expect(client.query('ALTER TABLE tenants DISABLE ROW LEVEL SECURITY')).rejects.toThrow(/must be owner/);
      await expect(client.query('SELECT * FROM pgmigrations')).rejects.toThrow(/permission denied/);
      await expect(client.query('SET row_security = off; SELECT * FROM tenants')).rejects.toThrow(/row-level security/);
    } finally {
      await client.end();
    }
  });
});

/** The hash the fixtures gave tenant `t`'s API key, and its Meta verify token (phone number `phone`). */
const keyHashOf = async (t: string) => (await ownerQuery<{ h: string }>(tdb, `SELECT repeat(substr(md5($1), 1, 1), 64) AS h`, [t]))[0].h;
const verifyHashOf = keyHashOf;

/** A connection of its own, as the application role, so that session settings stay on it. */
async function appSession<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: tdb.appUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const tenantsSeen = async (c: Client, table: string) => [...new Set((await c.query(`SELECT tenant_id FROM ${table}`)).rows.map((r) => r.tenant_id as string))].sort();

describe('no setting the application role can make widens what it sees (#9, kind 5)', () => {
  // Whatever an injection or a compromised service can run on its own connection.
  const SETTINGS = [
    "SELECT set_config('app.scope', 'platform', false)",
    "SET app.scope = 'platform'",
    "SELECT set_config('app.scope', 'platform', true)",
    "SELECT set_config('app.tenant_id', '', false)",
    "SELECT set_config('app.tenant_id', '%', false)",
    "SELECT set_config('app.tenant_id', '*', false)",
    "SET app.platform = 'on'",
  ];

  it.each(TENANT_TABLES)('%s: none of them shows a row without a tenant, nor another tenant’s rows within a tenant’s transaction', async (table) => {
    await appSession(async (c) => {
      for (const setting of SETTINGS) {
        await c.query(setting);
        expect({ setting, seen: await tenantsSeen(c, table) }).toEqual({ setting, seen: [] });
        await c.query('BEGIN');
        await c.query("SELECT set_config('app.tenant_id', 'tenant-a', true)");
        await c.query(setting);
        // Tenant A's rows at most (a setting that empties app.tenant_id leaves none).
        const seen = await tenantsSeen(c, table);
        expect({ setting, others: seen.filter((t) => t !== 'tenant-a') }).toEqual({ setting, others: [] });
        await c.query('ROLLBACK');
      }
    });
  });

  it.each(TENANT_TABLES)('%s: naming a tenant by hand shows that one tenant only, never two', async (table) => {
    await appSession(async (c) => {
      await c.query("SELECT set_config('app.scope', 'platform', false), set_config('app.tenant_id', 'tenant-b', false)");
      expect(await tenantsSeen(c, table)).toEqual(['tenant-b']);
    });
  });

  it('cannot become the functions’ owner, the database owner or anyone else', async () => {
    await appSession(async (c) => {
      for (const change of ['SET ROLE bridge_platform', 'SET ROLE postgres', 'SET SESSION AUTHORIZATION postgres', 'SET SESSION AUTHORIZATION bridge_platform']) {
        await expect(c.query(change)).rejects.toThrow(/permission denied/);
      }
      await expect(c.query('ALTER POLICY tenant_isolation ON tenants USING (true)')).rejects.toThrow(/must be owner/);
      await expect(c.query('CREATE POLICY mine ON tenants USING (true)')).rejects.toThrow(/must be owner/);
    });
  });

  it('no policy reads app.scope; each is the tenant’s rows or the platform functions’ owner’s', async () => {
    const policies = await ownerQuery<{ tablename: string; policyname: string; roles: string; qual: string | null; with_check: string | null }>(
      tdb,
      `SELECT tablename, policyname, roles::text, qual, with_check FROM pg_policies WHERE schemaname = current_schema() ORDER BY 1, 2`,
    );
    expect(policies.length).toBeGreaterThan(TENANT_TABLES.length);
    for (const p of policies) {
      expect(`${p.qual} ${p.with_check}`).not.toContain('app.scope');
      if (p.policyname === 'tenant_isolation') {
        expect(p).toMatchObject({ roles: '{public}', qual: "(tenant_id = NULLIF(current_setting('app.tenant_id'::text, true), ''::text))" });
      } else if (p.tablename === 'unclaimed_webhook_changes' && p.policyname === 'claimant') {
        // Not tenant-owned: the held changes of the tenant's own numbers and WABA (below).
        expect(p.roles).toBe('{public}');
      } else {
        expect(p).toMatchObject({ roles: '{bridge_platform}' });
      }
    }
    // Every tenant table has its strict policy.
    expect(new Set(policies.filter((p) => p.policyname === 'tenant_isolation').map((p) => p.tablename))).toEqual(new Set(TENANT_TABLES));
  });
});

describe('the platform functions: the only way across tenants', () => {
  const FUNCTIONS = [
    'api_key_by_hash',
    'tenant_by_subdomain',
    'tenants_by_phone_number_ids',
    'tenant_by_verify_token_hash',
    'record_api_key_use',
    'tenants_page',
    'tenants_without_verify_token_hash',
    'outbox_claim',
    'outbox_renew_leases',
    'outbox_queue_view',
    'tenants_for_wabas',
    'unclaimed_change_claimants',
    'hold_unclaimed_changes',
    'unclaimed_changes_page',
    'tenant_deletion_claim',
    'audit_append',
    'audit_page',
    'audit_verify',
    'audit_purge',
    'plan_apply_rate_limit',
    'audit_append_security',
    'message_of_another_tenant',
    'provisioned_number_tenants',
    // A trigger's (migration 1732060800160): keeps the numbers' directory as tenant_credentials changes.
    'phone_number_owners_sync',
  ];

  it('are SECURITY DEFINER, owned by bridge_platform (NOLOGIN, not BYPASSRLS, no one’s role), with a pinned search_path, executable by bridge_app only', async () => {
    const rows = await ownerQuery<{ proname: string; owner: string; prosecdef: boolean; config: string[]; acl: string }>(
      tdb,
      `SELECT p.proname, p.proowner::regrole::text AS owner, p.prosecdef, p.proconfig AS config, p.proacl::text AS acl
         FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.prosecdef ORDER BY 1`,
    );
    expect(rows.map((r) => r.proname).sort()).toEqual([...FUNCTIONS].sort());
    for (const r of rows) {
      expect(r).toMatchObject({ owner: 'bridge_platform', prosecdef: true });
      expect(r.config).toContain('search_path=pg_catalog, public, pg_temp');
      // Granted to bridge_app (and its owner), never to PUBLIC ("=X/...").
      expect(r.acl).toContain('bridge_app=X/');
      expect(r.acl).not.toMatch(/[{,]=X/);
    }
    const [role] = await ownerQuery<{ rolcanlogin: boolean; rolbypassrls: boolean; rolsuper: boolean; app_member: boolean; encrypted: boolean }>(
      tdb,
      `SELECT rolcanlogin, rolbypassrls, rolsuper, pg_has_role('bridge_app', 'bridge_platform', 'MEMBER') AS app_member,
              has_column_privilege('bridge_platform', 'tenant_credentials', 'encrypted', 'SELECT') AS encrypted
         FROM pg_roles WHERE rolname = 'bridge_platform'`,
    );
    expect(role).toEqual({ rolcanlogin: false, rolbypassrls: false, rolsuper: false, app_member: false, encrypted: false });
  });

  it('api_key_by_hash: the tenant and the key’s state for one hash, nothing for any other', async () => {
    const rows = await db.query('SELECT * FROM api_key_by_hash($1)', [await keyHashOf('tenant-a')]);
    // A key inserted without scopes gets the read scopes (migration 1732060800100, notifications:read from 1732060800130).
    expect(rows).toEqual([
      {
        id: expect.any(String),
        tenant_id: 'tenant-a',
        is_active: true,
        rate_limit: null,
        scopes: ['stats:read', 'conversations:read', 'messages:read', 'mappings:read', 'templates:read', 'usage:read', 'audit:read', 'notifications:read'],
        expires_at: null,
        allowed_origins: null,
      },
    ]);
    for (const other of ['0'.repeat(64), '%', '', null]) expect(await db.query('SELECT * FROM api_key_by_hash($1)', [other])).toEqual([]);
  });

  it('tenants_by_phone_number_ids: the owners of the numbers named, and no other', async () => {
    const rows = await db.query('SELECT * FROM tenants_by_phone_number_ids($1)', [['111111', '999999', '%']]);
    expect(rows).toEqual([{ phone_number_id: '111111', tenant_id: 'tenant-a' }]);
  });

  it('tenant_by_verify_token_hash and tenant_by_subdomain: one tenant id or none', async () => {
    expect(await db.query('SELECT tenant_by_verify_token_hash($1) AS t', [await verifyHashOf('222222')])).toEqual([{ t: 'tenant-b' }]);
    expect(await db.query('SELECT tenant_by_verify_token_hash($1) AS t', ['%'])).toEqual([{ t: null }]);
    expect(await db.query('SELECT tenant_by_subdomain($1) AS t', ['tenant-a'])).toEqual([{ t: 'tenant-a' }]);
    expect(await db.query('SELECT tenant_by_subdomain($1) AS t', ['%'])).toEqual([{ t: null }]);
  });

  it('tenants_page: the tenants’ own columns, a page at a time (no credentials, no keys)', async () => {
    const rows = await db.query('SELECT * FROM tenants_page(NULL, 1)');
    expect(rows.map((r) => r.tenant_id)).toEqual(['tenant-a']);
    expect(Object.keys(rows[0]).sort()).toEqual(['created_at', 'mark_read', 'metadata', 'name', 'plan', 'rate_limit', 'reopen_template', 'status', 'subdomain', 'suspended_at', 'suspended_reason', 'tenant_id', 'updated_at', 'window_policy']);
    expect((await db.query('SELECT * FROM tenants_page($1, 10)', ['tenant-a'])).map((r) => r.tenant_id)).toEqual(['tenant-b']);
  });

  it('tenants_without_verify_token_hash: tenant ids only', async () => {
    await ownerQuery(tdb, `UPDATE tenant_credentials SET verify_token_hash = NULL WHERE tenant_id = 'tenant-b'`);
    try {
      expect(await db.query('SELECT * FROM tenants_without_verify_token_hash(NULL, 10) AS t')).toEqual([{ t: 'tenant-b' }]);
    } finally {
      await ownerQuery(tdb, `UPDATE tenant_credentials SET verify_token_hash = repeat(substr(md5('222222'), 1, 1), 64) WHERE tenant_id = 'tenant-b'`);
    }
  });

  it('outbox_queue_view: counts per tenant, kind and state, no payloads', async () => {
    expect(await db.query('SELECT * FROM outbox_queue_view()')).toEqual([
      { tenant_id: 'tenant-a', kind: 'to_genesys_message', state: 'pending', count: 1 },
      { tenant_id: 'tenant-b', kind: 'to_genesys_message', state: 'pending', count: 1 },
    ]);
  });

  it('tenant_deletion_claim: leases the oldest deletion nobody holds, once; tenants_page no longer lists the tenant', async () => {
    await ownerQuery(
      tdb,
      `INSERT INTO tenants (tenant_id, name, status) VALUES ('tenant-c', 'c', 'deleting');
       INSERT INTO tenant_deletions (tenant_id) VALUES ('tenant-c');`,
    );
    try {
      expect((await db.query('SELECT * FROM tenants_page(NULL, 10)')).map((r) => r.tenant_id)).toEqual(['tenant-a', 'tenant-b']);
      expect(await db.query('SELECT tenant_deletion_claim($1, $2) AS t', ['worker-1', 60_000])).toEqual([{ t: 'tenant-c' }]);
      // Held by worker-1 now; finished deletions (tenants a and b) are never offered.
      expect(await db.query('SELECT tenant_deletion_claim($1, $2) AS t', ['worker-2', 60_000])).toEqual([{ t: null }]);
      expect(await ownerQuery(tdb, `SELECT locked_by FROM tenant_deletions WHERE tenant_id = 'tenant-c'`)).toEqual([{ locked_by: 'worker-1' }]);
      // Its lease run out (worker-1 died): another worker takes it over.
      await ownerQuery(tdb, `UPDATE tenant_deletions SET locked_until = now() - interval '1 second' WHERE tenant_id = 'tenant-c'`);
      expect(await db.query('SELECT tenant_deletion_claim($1, $2) AS t', ['worker-2', 60_000])).toEqual([{ t: 'tenant-c' }]);
    } finally {
      await ownerQuery(tdb, `DELETE FROM tenant_deletions WHERE tenant_id = 'tenant-c'; DELETE FROM tenants WHERE tenant_id = 'tenant-c';`);
    }
  });

  it('record_api_key_use: moves last_used_at forward, never past now, with the address of the latest use', async () => {
    const [{ id }] = await db.query<{ id: string }>('SELECT id FROM api_key_by_hash($1)', [await keyHashOf('tenant-b')]);
    await db.query('SELECT record_api_key_use($1::uuid[], $2::timestamptz[], $3::text[])', [[id], ['2999-01-01T00:00:00Z'], ['192.0.2.7']]);
    const lastUse = async () =>
      (await ownerQuery<{ last_used_at: Date; last_used_ip: string | null }>(tdb, 'SELECT last_used_at, last_used_ip FROM tenant_api_keys WHERE id = $1', [id]))[0];
    const row = await lastUse();
    expect(row.last_used_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    expect(row.last_used_ip).toBe('192.0.2.7');
    // An older use (another gateway's late batch) changes neither the time nor the address.
    await db.query('SELECT record_api_key_use($1::uuid[], $2::timestamptz[], $3::text[])', [[id], ['2000-01-01T00:00:00Z'], ['198.51.100.9']]);
    expect(await lastUse()).toEqual(row);
    // Without addresses (the two-argument form): the time moves, the address stays.
    await db.query('SELECT record_api_key_use($1::uuid[], $2::timestamptz[])', [[id], [new Date()]]);
    expect((await lastUse()).last_used_ip).toBe('192.0.2.7');
  });
});

describe('held Meta changes (unclaimed_webhook_changes): a tenant sees its own numbers’ and WABA’s, the functions hold and list', () => {
  const heldSeen = (tenantId: string) =>
    db.withTenant(tenantId, async (q) => (await q.query<{ n: number }>(`SELECT (payload->>'n')::int AS n FROM unclaimed_webhook_changes ORDER BY id`)).rows.map((r) => r.n));

  it('a tenant’s transaction sees only the changes of its number or WABA; none without a tenant, whatever is set', async () => {
    expect(await heldSeen('tenant-a')).toEqual([1]);
    expect(await heldSeen('tenant-b')).toEqual([2]);
    await appSession(async (c) => {
      for (const setting of ["SELECT set_config('app.scope', 'platform', false)", "SELECT set_config('app.tenant_id', '', false)"]) {
        await c.query(setting);
        expect((await c.query('SELECT id FROM unclaimed_webhook_changes')).rows).toEqual([]);
      }
    });
  });

  it('no tenant’s transaction, nor a bare session, can write a held change', async () => {
    const insert = `INSERT INTO unclaimed_webhook_changes (phone_number_id, field, signed_by, payload) VALUES ('111111', 'messages', 'platform', '{"n": 9}')`;
    await expect(db.withTenant('tenant-a', (q) => q.query(insert))).rejects.toThrow(/permission denied/);
    await expect(db.query(insert)).rejects.toThrow(/permission denied/);
    const updated = await db.withTenant('tenant-a', (q) => q.query(`UPDATE unclaimed_webhook_changes SET field = 'x' WHERE phone_number_id = '333333'`));
    expect(updated.rowCount).toBe(0);
  });

  it('tenants_for_wabas and unclaimed_change_claimants: tenant ids by WABA, and the tenants owning some held change', async () => {
    expect(await db.query('SELECT * FROM tenants_for_wabas($1)', [['waba-222222', 'waba-999999', '%']])).toEqual([{ waba_id: 'waba-222222', tenant_id: 'tenant-b' }]);
    expect(await db.query('SELECT unclaimed_change_claimants() AS t')).toEqual([{ t: 'tenant-a' }, { t: 'tenant-b' }]);
  });

  it('hold_unclaimed_changes holds in order, each payload once; unclaimed_changes_page lists them, a page at a time', async () => {
    const changes = [
      { n: 0, pnid: '444444', waba_id: null, field: 'messages', payload: { n: 4 } },
      { n: 1, pnid: '444444', waba_id: null, field: 'messages', payload: { n: 5 } },
    ];
    expect(await db.query('SELECT hold_unclaimed_changes($1, $2::jsonb) AS held', ['platform', JSON.stringify(changes)])).toEqual([{ held: 2 }]);
    expect(await db.query('SELECT hold_unclaimed_changes($1, $2::jsonb) AS held', ['platform', JSON.stringify(changes)])).toEqual([{ held: 0 }]);
    await expect(db.query('SELECT hold_unclaimed_changes($1, $2::jsonb)', ['anyone', JSON.stringify([{ n: 0, payload: { n: 6 } }])])).rejects.toThrow(/check constraint/);
    const page = await db.query<{ id: string; payload: { n: number } }>('SELECT * FROM unclaimed_changes_page(NULL, 1, $1)', ['444444']);
    expect(page.map((r) => r.payload.n)).toEqual([4]);
    const next = await db.query<{ payload: { n: number } }>('SELECT * FROM unclaimed_changes_page($1, 10, $2)', [page[0].id, '444444']);
    expect(next.map((r) => r.payload.n)).toEqual([5]);
    expect((await db.query<{ payload: { n: number } }>('SELECT * FROM unclaimed_changes_page(NULL, 10, NULL)')).map((r) => r.payload.n)).toEqual([1, 2, 3, 4, 5]);
    await ownerQuery(tdb, `DELETE FROM unclaimed_webhook_changes WHERE phone_number_id = '444444'`);
  });
});

describe('migration 1732060800020 on a database with platform-switch policies of any origin', () => {
  it('makes every policy strict, and so does enable_tenant_isolation() from then on', async () => {
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
    const before = files.findIndex((f) => f.startsWith('1732060800020_'));
    const fresh = await createTestDatabase({ migrated: false });
    try {
      await migrate({ databaseUrl: fresh.ownerUrl, appRolePassword: process.env.DB_APP_PASSWORD, count: before });
      // A table protected the old way, and the helper of migration 0010 as it was written there.
      await ownerQuery(
        fresh,
        `CREATE TABLE legacy_things (tenant_id text NOT NULL, note text);
         CREATE OR REPLACE FUNCTION enable_tenant_isolation(t regclass) RETURNS void LANGUAGE plpgsql AS $f$
         DECLARE
           own_rows constant text := $c$tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                                        OR current_setting('app.scope', true) = 'platform'$c$;
         BEGIN
           EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
           EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (%s) WITH CHECK (%s)', t, own_rows, own_rows);
           EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO bridge_app', t);
         END $f$;
         SELECT enable_tenant_isolation('legacy_things');
         INSERT INTO legacy_things VALUES ('tenant-a', 'a'), ('tenant-b', 'b');`,
      );
      await migrate({ databaseUrl: fresh.ownerUrl, appRolePassword: process.env.DB_APP_PASSWORD });
      await ownerQuery(fresh, `CREATE TABLE later_things (tenant_id text NOT NULL); SELECT enable_tenant_isolation('later_things');`);

      const policies = await ownerQuery<{ tablename: string; qual: string }>(fresh, `SELECT tablename, qual FROM pg_policies WHERE policyname = 'tenant_isolation'`);
      expect(policies.filter((p) => p.qual.includes('app.scope'))).toEqual([]);
      expect(policies.map((p) => p.tablename)).toEqual(expect.arrayContaining(['legacy_things', 'later_things']));
      const [def] = await ownerQuery<{ def: string }>(fresh, `SELECT pg_get_functiondef('enable_tenant_isolation'::regproc) AS def`);
      expect(def.def).not.toContain('app.scope');

      const client = new Client({ connectionString: fresh.appUrl });
      await client.connect();
      try {
        await client.query("SELECT set_config('app.scope', 'platform', false)");
        expect((await client.query('SELECT * FROM legacy_things')).rows).toEqual([]);
      } finally {
        await client.end();
      }
    } finally {
      await fresh.drop();
    }
  });
});
