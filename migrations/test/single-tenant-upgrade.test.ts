import { readdirSync } from 'node:fs';
import { MIGRATIONS_DIR, migrate } from '../src';
import { Database } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';

/**
 * A database of the single-tenant bridge (conversation_mappings and message_tracking without
 * tenant_id) is brought over by `npm run migrate`: its rows end up under the `default` tenant.
 */
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: false });
  await ownerQuery(
    tdb,
    `CREATE TABLE conversation_mappings (
       wa_id text PRIMARY KEY, conversation_id text, contact_name text,
       created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
     CREATE TABLE message_tracking (
       message_id text PRIMARY KEY, wa_id text, direction text, status text, conversation_id text,
       created_at timestamptz DEFAULT now());
     INSERT INTO conversation_mappings (wa_id, conversation_id, contact_name, created_at) VALUES
       ('15551230001', 'conv-1', 'Zoë Ångström', '2024-01-02T03:04:05Z'),
       ('15551230002', NULL, NULL, '2024-02-01T00:00:00Z');
     INSERT INTO message_tracking (message_id, wa_id, direction, status, conversation_id) VALUES
       ('wamid.legacy-in-1', '15551230001', 'inbound', 'delivered', 'conv-1'),
       ('genesys-legacy-out-1', '15551230001', 'outbound', 'read', 'conv-1'),
       ('wamid.legacy-in-2', '15551230002', 'inbound', 'pending', NULL);`,
  );
});

afterAll(() => tdb.drop());

describe('single-tenant database upgrade', () => {
  it('moves every legacy row to the default tenant, readable by the application role', async () => {
    const applied = await migrate({ databaseUrl: tdb.ownerUrl, appRolePassword: process.env.DB_APP_PASSWORD });
    // Every migration there is, in order.
    expect(applied).toEqual(readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort().map((f) => f.replace(/\.sql$/, '')));

    const db = new Database({ connectionString: tdb.appUrl });
    try {
      const tenant = await db.withTenant('default', async (q) => (await q.query('SELECT tenant_id, status, metadata FROM tenants')).rows);
      expect(tenant).toEqual([{ tenant_id: 'default', status: 'active', metadata: { migratedFrom: 'single-tenant' } }]);

      const mappings = await db.withTenant('default', async (q) =>
        (await q.query('SELECT wa_id, conversation_id, contact_name, created_at FROM conversation_mappings ORDER BY wa_id')).rows,
      );
      expect(mappings).toEqual([
        { wa_id: '15551230001', conversation_id: 'conv-1', contact_name: 'Zoë Ångström', created_at: new Date('2024-01-02T03:04:05Z') },
        { wa_id: '15551230002', conversation_id: null, contact_name: null, created_at: new Date('2024-02-01T00:00:00Z') },
      ]);

      const messages = await db.withTenant('default', async (q) =>
        (await q.query('SELECT direction, wamid, genesys_message_id, status FROM message_tracking ORDER BY id')).rows,
      );
      expect(messages).toEqual([
        { direction: 'inbound', wamid: 'wamid.legacy-in-1', genesys_message_id: null, status: 'delivered' },
        { direction: 'outbound', wamid: null, genesys_message_id: 'genesys-legacy-out-1', status: 'read' },
        // Legacy rows are history: nothing imported is sent again.
        { direction: 'inbound', wamid: 'wamid.legacy-in-2', genesys_message_id: null, status: 'delivered' },
      ]);
      expect(await db.withTenant('someone-else', async (q) => (await q.query('SELECT * FROM conversation_mappings')).rows)).toEqual([]);
    } finally {
      await db.close();
    }

    const legacy = await ownerQuery(tdb, `SELECT to_regclass('legacy_conversation_mappings') AS a, to_regclass('legacy_message_tracking') AS b`);
    expect(legacy).toEqual([{ a: null, b: null }]);
  });

  it('is idempotent: running again applies nothing and changes nothing', async () => {
    expect(await migrate({ databaseUrl: tdb.ownerUrl })).toEqual([]);
    const [count] = await ownerQuery<{ n: string }>(tdb, 'SELECT count(*) AS n FROM conversation_mappings');
    expect(Number(count.n)).toBe(2);
  });
});
