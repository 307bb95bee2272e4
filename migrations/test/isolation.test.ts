import { Client } from 'pg';
import { Database } from '@bridge/shared';
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
];

let tdb: TestDatabase;
let db: Database;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  for (const [t, phone] of [['tenant-a', '111111'], ['tenant-b', '222222']]) {
    await ownerQuery(tdb, `INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)`, [t]);
    await ownerQuery(tdb, `INSERT INTO tenant_credentials (tenant_id, type, encrypted, phone_number_id) VALUES ($1, 'meta', '\\x01', $2)`, [t, phone]);
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
    await ownerQuery(tdb, `INSERT INTO account_events (tenant_id, field, payload) VALUES ($1, 'account_update', '{}')`, [t]);
    await ownerQuery(tdb, `INSERT INTO tenant_deletions (tenant_id, state, finished_at) VALUES ($1, 'done', now())`, [t]);
  }
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

  it.each(TENANT_TABLES)('%s: platform scope sees every tenant', async (table) => {
    const rows = await db.withPlatform(async (q) => (await q.query(`SELECT DISTINCT tenant_id FROM ${table}`)).rows);
    expect(rows.map((r) => r.tenant_id).sort()).toEqual(['tenant-a', 'tenant-b']);
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
