import { Database, listNotifications } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { storeAgentMessage, storeMetaUpdates } from '../src/store';

/**
 * Usage is counted in the statement that stores a message or creates a conversation (issue #13):
 * per day and month, only what was actually inserted (a redelivered webhook counts nothing), and
 * a limit reaching 80% and 100% raises its notification once, even when two webhook-service
 * processes store at the same moment. A customer's message over the limit is stored and queued
 * like any other (overage).
 */
let tdb: TestDatabase;
let db: Database;
let second: Database;
const T = 'tenant-q';
const PHONE = '106540352242922';
let seq = 0;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  second = new Database({ connectionString: tdb.appUrl });
  await ownerQuery(tdb, `INSERT INTO plans (name, messages_per_month, conversations_per_month, api_requests_per_minute, hard_limit) VALUES ('tiny', 10, 100, 60, 'block-api')`);
  await ownerQuery(tdb, `INSERT INTO tenants (tenant_id, name, plan) VALUES ($1, $1, 'tiny')`, [T]);
});
afterAll(async () => {
  await db.close();
  await second.close();
  await tdb.drop();
});

const ts = () => Math.floor(Date.now() / 1000);
/** A webhook of `n` new customer messages from `wa` (the wamids are new each time, unless `wamids` are given). */
function webhook(wa: string, wamids: string[]) {
  return {
    messages: wamids.map((wamid) => ({ customer: { phone: wa }, wamid, type: 'text', ts: ts(), payload: { id: wamid, type: 'text', text: { body: 'hi' } } })),
    statuses: [],
    contacts: [{ phone: wa, name: 'Ana', phoneNumberId: PHONE, ts: ts() }],
  };
}
const fresh = (n: number) => Array.from({ length: n }, () => `wamid.Q${++seq}`);

async function usage(tenantId = T) {
  const [m] = await ownerQuery<{ inbound: number; outbound: number; conversations: number }>(
    tdb,
    `SELECT COALESCE(sum(inbound), 0)::int AS inbound, COALESCE(sum(outbound), 0)::int AS outbound, COALESCE(sum(conversations), 0)::int AS conversations
       FROM tenant_usage_monthly WHERE tenant_id = $1`,
    [tenantId],
  );
  const [d] = await ownerQuery<{ inbound: number }>(tdb, `SELECT COALESCE(sum(inbound), 0)::int AS inbound FROM tenant_usage_daily WHERE tenant_id = $1`, [tenantId]);
  return { ...m, dailyInbound: d.inbound };
}
const notifications = (tenantId = T) => db.withTenant(tenantId, (q) => listNotifications(q, tenantId, { limit: 100 }));
const quotaKeys = async (tenantId = T) => (await notifications(tenantId)).map((n) => `${n.kind} ${n.key.replace(/:\d{4}-\d{2}:/, ':<month>:')}`).sort();

describe('usage counting and quota warnings', () => {
  it('counts each stored message once, per day and month, and a new customer as one conversation; a redelivery counts nothing', async () => {
    const wamids = fresh(3);
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, webhook('16505550001', wamids)));
    expect(await usage()).toEqual({ inbound: 3, outbound: 0, conversations: 1, dailyInbound: 3 });
    // Meta redelivers the same webhook: nothing new stored, nothing counted.
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, webhook('16505550001', wamids)));
    expect(await usage()).toEqual({ inbound: 3, outbound: 0, conversations: 1, dailyInbound: 3 });
    // An agent's reply counts as outbound, once (Genesys redelivers it too).
    const reply = { genesysMessageId: 'gmsg-q1', waId: '16505550001', type: 'Text', time: new Date().toISOString(), payload: { id: 'gmsg-q1' } };
    await db.withTenant(T, (q) => storeAgentMessage(q, T, reply));
    await db.withTenant(T, (q) => storeAgentMessage(q, T, reply));
    expect(await usage()).toEqual({ inbound: 3, outbound: 1, conversations: 1, dailyInbound: 3 });
    expect(await notifications()).toEqual([]);
  });

  it('counts a proactive message as outbound and as proactive (state-manager stores it with origin api)', async () => {
    const P = 'tenant-proactive';
    await ownerQuery(tdb, `INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)`, [P]);
    await db.withTenant(P, (q) =>
      q.query(`INSERT INTO message_tracking (tenant_id, direction, wa_id, message_type, origin, payload) VALUES ($1, 'outbound', '16505550009', 'template', 'api', '{}')`, [P]),
    );
    expect(await ownerQuery(tdb, `SELECT sum(outbound)::int AS outbound, sum(proactive)::int AS proactive FROM tenant_usage_monthly WHERE tenant_id = $1`, [P])).toEqual([
      { outbound: 1, proactive: 1 },
    ]);
  });

  it('counts nothing for a store that rolls back', async () => {
    await expect(
      db.withTenant(T, async (q) => {
        await storeMetaUpdates(q, T, webhook('16505550002', fresh(2)));
        throw new Error('failed after storing');
      }),
    ).rejects.toThrow('failed after storing');
    expect((await usage()).inbound).toBe(3);
  });

  it('raises the 80% warning exactly at 8 of 10, once; the 100% one at 10; the first message over is stored and queued (overage), raising nothing more', async () => {
    // 4 messages so far (3 in, 1 out): 3 more → 7 (70%).
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, webhook('16505550001', fresh(3))));
    expect(await notifications()).toEqual([]);
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, webhook('16505550001', fresh(1))));
    expect(await quotaKeys()).toEqual(['quota.warning messagesPerMonth:<month>:80']);
    const [warning] = await notifications();
    expect(warning).toMatchObject({ severity: 'warning', details: { quota: 'messagesPerMonth', threshold: 80, used: 8, limit: 10, hardLimit: 'block-api' } });
    expect(warning.message).toContain('80% of the plan');

    await db.withTenant(T, (q) => storeMetaUpdates(q, T, webhook('16505550001', fresh(1))));
    expect(await quotaKeys()).toEqual(['quota.warning messagesPerMonth:<month>:80']);
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, webhook('16505550001', fresh(1))));
    expect(await quotaKeys()).toEqual(['quota.exceeded messagesPerMonth:<month>:100', 'quota.warning messagesPerMonth:<month>:80']);
    const exceeded = (await notifications()).find((n) => n.kind === 'quota.exceeded')!;
    expect(exceeded).toMatchObject({ severity: 'critical', details: { used: 10, limit: 10 } });
    expect(exceeded.message).toContain("customers' messages and agent replies are still delivered");

    const [over] = fresh(1);
    const stored = await db.withTenant(T, (q) => storeMetaUpdates(q, T, webhook('16505550001', [over])));
    expect(stored.messages).toBe(1);
    expect(await ownerQuery(tdb, `SELECT o.kind FROM outbox o JOIN message_tracking m ON m.tenant_id = o.tenant_id AND m.id = o.message_id WHERE m.wamid = $1`, [over])).toEqual([
      { kind: 'to_genesys_message' },
    ]);
    expect((await usage()).inbound + (await usage()).outbound).toBe(11);
    expect(await quotaKeys()).toHaveLength(2);
    // Every notification's delivery is queued (lane note:), one each.
    expect(await ownerQuery(tdb, `SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1 AND kind = 'to_tenant_notification'`, [T])).toEqual([{ n: 2 }]);
  });

  it('raises each warning once when two processes store at the same moment', async () => {
    const R = 'tenant-race';
    await ownerQuery(tdb, `INSERT INTO tenants (tenant_id, name, plan) VALUES ($1, $1, 'tiny')`, [R]);
    await db.withTenant(R, (q) => storeMetaUpdates(q, R, webhook('16505550003', fresh(7))));
    // Process A stores the 8th message and holds its transaction open; process B stores the 9th
    // meanwhile: both see 80% reached, B waits on A's notification, then raises nothing.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let storedA!: () => void;
    const aStored = new Promise<void>((r) => (storedA = r));
    const a = db.withTenant(R, async (q) => {
      await storeMetaUpdates(q, R, webhook('16505550003', fresh(1)));
      storedA();
      await held;
    });
    await aStored;
    const b = second.withTenant(R, (q) => storeMetaUpdates(q, R, webhook('16505550004', fresh(1))));
    setTimeout(release, 300);
    await Promise.all([a, b]);
    expect(await quotaKeys(R)).toEqual(['quota.warning messagesPerMonth:<month>:80']);

    // And a burst from both processes across 100%: still one each.
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? db : second).withTenant(R, (q) => storeMetaUpdates(q, R, webhook(`1650555001${i}`, fresh(1))))),
    );
    expect((await usage(R)).inbound).toBe(15);
    expect(await quotaKeys(R)).toEqual(['quota.exceeded messagesPerMonth:<month>:100', 'quota.warning messagesPerMonth:<month>:80']);
  });

  it('counts a tenant without limits (the standard plan) and raises nothing', async () => {
    const S = 'tenant-standard';
    await ownerQuery(tdb, `INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)`, [S]);
    await db.withTenant(S, (q) => storeMetaUpdates(q, S, webhook('16505550005', fresh(20))));
    expect((await usage(S)).inbound).toBe(20);
    expect(await notifications(S)).toEqual([]);
  });
});
