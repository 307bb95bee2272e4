import { buildTextMessage, wamidOf, type MetaCall } from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Meta's pair rate limit through the whole platform: an agent writing faster than Meta lets one
 * business number write to one customer (131056) has its replies paced on that customer's lane,
 * all delivered, in order, none failed or dead, each wait one pair interval (not the backoff of a
 * failure), while another customer of the same tenant is written to freely. The Meta simulator
 * enforces the pair limit, with an interval short enough for a test.
 */
const PAIR_INTERVAL_MS = 400;
const BURST = 2;

let bridge: Bridge;
let t: BridgeTenant;
let gateway: string;

beforeAll(async () => {
  // META_PAIR_INTERVAL_MS: the connector waits what the simulator enforces. FAST_DELIVERY's
  // backoff (20 ms, doubling) is far shorter, so a 131056 retried as a failure would show.
  bridge = await startBridge({ env: { META_PAIR_INTERVAL_MS: String(PAIR_INTERVAL_MS) } });
  gateway = bridge.sys.urls.gateway;
  t = await bridge.onboard();
});

afterAll(() => bridge.stop());

/** The customer writes first (the agent answers within the 24-hour window). */
async function customerWrites(waId: string): Promise<void> {
  const hello = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'Hello' });
  const res = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload: hello, appSecret: t.appSecret, maxAttempts: 1 });
  expect(res.statuses).toEqual([200]);
  await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(hello)), 10_000, `${waId} at Genesys`);
}

async function agentWrites(waId: string, texts: string[]): Promise<void> {
  for (const text of texts) {
    const res = await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to: waId, text });
    expect(res.statuses).toEqual([200]);
  }
}

const sendsTo = (waId: string) => bridge.meta.sends(t.phoneNumberId).filter((s) => s.body.to === waId);
const callsTo = (waId: string): MetaCall[] => bridge.meta.calls.filter((c) => c.endpoint === 'messages' && c.to === waId);

describe('pacing per customer (Meta’s pair rate limit, 131056)', () => {
  it('delivers a burst of 10 agent replies to one customer in order, each wait one pair interval, while another customer is not held up', async () => {
    const ana = '16505550181';
    const ben = '16505550182';
    await customerWrites(ana);
    await customerWrites(ben);
    bridge.meta.setPairRateLimit({ intervalMs: PAIR_INTERVAL_MS, burst: BURST });

    const toAna = Array.from({ length: 10 }, (_, i) => `Ana, step ${i + 1} of 10`);
    const toBen = ['Ben, one', 'Ben, two'];
    await agentWrites(ana, toAna);
    // Ben's replies are queued after all of Ana's.
    await agentWrites(ben, toBen);

    await eventually(() => sendsTo(ana).length === toAna.length, 30_000, 'all of Ana’s replies at Meta');

    // All delivered, once each, in the agent's order.
    expect(sendsTo(ana).map((s) => s.body.text?.body)).toEqual(toAna);
    expect(sendsTo(ben).map((s) => s.body.text?.body)).toEqual(toBen);

    // The limit was hit, and each refusal was followed by one pair interval of waiting, never by
    // the milliseconds of a failure's backoff; no message was refused twice (a storm of retries
    // would be).
    const anaCalls = callsTo(ana);
    const refused = anaCalls.filter((c) => c.errorCode === 131056);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(toAna.length - BURST);
    for (const [i, call] of anaCalls.entries()) {
      if (call.errorCode !== 131056) continue;
      const next = anaCalls[i + 1];
      expect(next).toBeDefined();
      expect(next.time.getTime() - call.time.getTime()).toBeGreaterThanOrEqual(PAIR_INTERVAL_MS - 5);
    }
    expect(anaCalls.filter((c) => c.status === 200)).toHaveLength(toAna.length);

    // Ben's lane did not wait on Ana's: never refused, and done before Ana's was, though queued after it.
    expect(callsTo(ben).every((c) => c.status === 200)).toBe(true);
    const sent = bridge.meta.sends(t.phoneNumberId);
    const lastOf = (waId: string) => sent.map((s) => s.body.to).lastIndexOf(waId);
    expect(lastOf(ben)).toBeLessThan(lastOf(ana));

    // Nothing failed or dead: every reply recorded as sent, no job left in the queue, no Failed receipt.
    await eventually(
      async () => (await ownerQuery<{ n: number }>(bridge.sys.tdb, 'SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1', [t.tenantId]))[0].n === 0,
      10_000,
      'an empty queue',
    );
    const statuses = await ownerQuery<{ status: string; n: number }>(
      bridge.sys.tdb,
      `SELECT status, count(*)::int AS n FROM message_tracking WHERE tenant_id = $1 AND direction = 'outbound' GROUP BY status`,
      [t.tenantId],
    );
    expect(statuses).toEqual([{ status: 'sent', n: toAna.length + toBen.length }]);
    expect(bridge.genesys.receipts(t.integrationId).filter((r) => r.body.status === 'Failed')).toEqual([]);
  }, 60_000);
});
