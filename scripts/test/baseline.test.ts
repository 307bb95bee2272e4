import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { metaSerialize, signMeta } from '@bridge/simulators';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { BASELINE_STATS_SQL, startBaseline, type Baseline } from '../src/bench/baseline';
import { makeTenant, type BenchTenant } from '../src/bench/seed';

/** A Meta webhook body with these wamids for `t`'s number, as Meta serialises it. */
const body = (t: BenchTenant, wamids: string[]) =>
  metaSerialize({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: t.wabaId,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: t.displayPhoneNumber, phone_number_id: t.phoneNumberId },
              messages: wamids.map((id) => ({ from: '15550001111', id, timestamp: '1700000000', type: 'text', text: { body: `hello ${id}` } })),
            },
          },
        ],
      },
    ],
  });

describe('the bench’s bare baseline (scripts/src/bench/baseline.ts)', () => {
  let db: TestDatabase;
  let baseline: Baseline;
  const tenant = makeTenant(1);
  tenant.keys.push('bench-test-key-1');

  beforeAll(async () => {
    db = await createTestDatabase();
    baseline = await startBaseline(db.ownerUrl, [tenant]);
  });
  afterAll(async () => {
    await baseline?.stop();
    await db?.drop();
  });

  const post = (payload: string, signature: string) =>
    fetch(`${baseline.url}/webhook/meta/${tenant.id}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body: payload });

  it('stores every message of a webhook signed with the app secret of its number, once per wamid, and refuses a bad signature', async () => {
    const payload = body(tenant, ['wamid.A', 'wamid.B']);
    expect((await post(payload, signMeta(tenant.appSecret, payload))).status).toBe(200);
    // Again (Meta retries): 200, nothing twice.
    expect((await post(payload, signMeta(tenant.appSecret, payload))).status).toBe(200);
    const other = body(tenant, ['wamid.C']);
    expect((await post(other, signMeta('not the secret', other))).status).toBe(401);
    expect((await post(other, signMeta(tenant.appSecret, payload))).status).toBe(401);
    const rows = await ownerQuery<{ wamid: string }>(db, 'SELECT wamid FROM bench_baseline_messages ORDER BY wamid');
    expect(rows.map((r) => r.wamid)).toEqual(['wamid.A', 'wamid.B']);
  });

  it("runs state-manager's stats statement word for word", () => {
    const source = readFileSync(path.join(__dirname, '..', '..', 'state-manager', 'src', 'repository.ts'), 'utf8');
    expect(source).toContain(`\`${BASELINE_STATS_SQL}\``);
  });

  it("answers state-manager's stats for the tenant of an API key, and 401 for an unknown key", async () => {
    const c = new Client({ connectionString: db.ownerUrl });
    await c.connect();
    await c.query(`INSERT INTO tenants (tenant_id, name) VALUES ($1, 'baseline test')`, [tenant.id]);
    await c.end();
    const ok = await fetch(`${baseline.url}/state/stats`, { headers: { 'x-api-key': 'bench-test-key-1' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ tenantId: tenant.id, totalMappings: 0, totalMessages: 0, activeConversations: 0, todayMessages: 0 });
    expect((await fetch(`${baseline.url}/state/stats`, { headers: { 'x-api-key': 'another key' } })).status).toBe(401);
  });
});
