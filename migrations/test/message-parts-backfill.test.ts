import { migrate } from '../src';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';

/**
 * Agent replies sent before message parts existed keep working after the upgrade: each of their
 * wamids (payload.wamids, else the one wamid) becomes a part, so that a late status of any part
 * still finds its message, and what was already posted to Genesys is not posted again.
 */
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: false });
  // Everything up to the migration before message parts.
  await migrate({ databaseUrl: tdb.ownerUrl, appRolePassword: process.env.DB_APP_PASSWORD, count: 8 });
  const sql = `INSERT INTO tenants (tenant_id, name) VALUES ('acme', 'Acme');
    INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, genesys_message_id, message_type, payload, status) VALUES
      ('acme', 'outbound', '1650', 'wamid.A1', 'g-two-parts', 'Text', '{"wamids": ["wamid.A1", "wamid.A2"]}', 'delivered'),
      ('acme', 'outbound', '1650', 'wamid.B1', 'g-read', 'Text', '{}', 'read'),
      ('acme', 'outbound', '1650', NULL, 'g-pending', 'Text', '{}', 'pending'),
      ('acme', 'inbound', '1650', 'wamid.IN', NULL, 'text', '{}', 'delivered');`;
  await ownerQuery(tdb, sql);
});

afterAll(() => tdb.drop());

it('turns every sent reply’s wamids into parts, and infers what was posted', async () => {
  await migrate({ databaseUrl: tdb.ownerUrl, appRolePassword: process.env.DB_APP_PASSWORD });
  const parts = await ownerQuery(
    tdb,
    `SELECT m.genesys_message_id, p.part, p.part_count, p.wamid, p.status
       FROM message_parts p JOIN message_tracking m ON m.tenant_id = p.tenant_id AND m.id = p.message_id ORDER BY m.id, p.part`,
  );
  expect(parts).toEqual([
    { genesys_message_id: 'g-two-parts', part: 1, part_count: 2, wamid: 'wamid.A1', status: 'delivered' },
    { genesys_message_id: 'g-two-parts', part: 2, part_count: 2, wamid: 'wamid.A2', status: 'delivered' },
    { genesys_message_id: 'g-read', part: 1, part_count: 1, wamid: 'wamid.B1', status: 'read' },
  ]);
  const posted = await ownerQuery(tdb, `SELECT genesys_message_id, receipt_posted FROM message_tracking WHERE direction = 'outbound' ORDER BY id`);
  expect(posted).toEqual([
    { genesys_message_id: 'g-two-parts', receipt_posted: 'delivered' },
    { genesys_message_id: 'g-read', receipt_posted: 'final' },
    { genesys_message_id: 'g-pending', receipt_posted: null },
  ]);
});
