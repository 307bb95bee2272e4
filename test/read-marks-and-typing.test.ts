import { buildTextMessage, wamidOf } from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Read marks and the typing indicator (issue #12, part 2), end to end through the gateway, the
 * Genesys simulator's outbound webhook and the Meta simulator (which accepts a read mark only on
 * a message it delivered to that number): an agent's typing becomes at most one WhatsApp typing
 * indicator per interval, never after the customer's window; read marks follow the tenant's
 * `markRead`; and a Meta failing these signals never touches the messages.
 *
 * Every outbox job that ends is recorded by a test trigger (`finished_jobs`), so that a test can
 * see what was queued, how often each job was tried, and with which error.
 */
let bridge: Bridge;
let gateway: string;
/** TYPING_INDICATOR_INTERVAL_MS here: short, so that a storm of a few seconds spans several intervals. */
const INTERVAL = 1000;
const HOUR = 3_600_000;
let n = 0;
const newCustomer = () => `1650555${String(3000 + ++n)}`;

beforeAll(async () => {
  bridge = await startBridge({ env: { TYPING_INDICATOR_INTERVAL_MS: String(INTERVAL) } });
  gateway = bridge.sys.urls.gateway;
  await ownerQuery(
    bridge.sys.tdb,
    `CREATE TABLE finished_jobs (tenant_id text, kind text, lane text, attempts integer, last_error text, payload jsonb, created_at timestamptz);
     CREATE FUNCTION record_finished_job() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
     BEGIN
       INSERT INTO finished_jobs VALUES (OLD.tenant_id, OLD.kind, OLD.lane, OLD.attempts, OLD.last_error, OLD.payload, OLD.created_at);
       RETURN OLD;
     END $$;
     CREATE TRIGGER record_finished_job AFTER DELETE ON outbox FOR EACH ROW EXECUTE FUNCTION record_finished_job();`,
  );
});

afterAll(() => bridge.stop());

/** The customer `waId` writes (`ago` ms ago, by Meta's timestamp); returns the message's wamid once Genesys has it. */
async function customerWrites(t: BridgeTenant, waId: string, body: string, ago = 0): Promise<string> {
  const payload = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body, timestamp: new Date(Date.now() - ago) });
  const res = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1 });
  expect(res.statuses).toEqual([200]);
  const wamid = wamidOf(payload);
  await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamid), 10_000, `Genesys receiving ${body}`);
  return wamid;
}

const webhook = (t: BridgeTenant) => ({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId });

async function agentTypes(t: BridgeTenant, to: string): Promise<void> {
  expect((await bridge.genesys.agentTyping({ ...webhook(t), to, maxRetries: 0 })).statuses).toEqual([200]);
}

/** The agent replies; resolves once the reply is at Meta. */
async function agentReplies(t: BridgeTenant, to: string, text: string): Promise<void> {
  expect((await bridge.genesys.agentReply({ ...webhook(t), to, text, maxRetries: 0 })).statuses).toEqual([200]);
  await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.text?.body === text), 10_000, `the reply ${text} at Meta`);
}

/** Read marks (and typing indicators) Meta accepted for the tenant's number, in order. */
const readsFor = (t: BridgeTenant) => bridge.meta.reads.filter((r) => r.phoneNumberId === t.phoneNumberId).map((r) => ({ wamid: r.messageId, typing: r.typing }));

/** Every signal job of the tenant, whether still queued or ended. */
const signalJobs = (t: BridgeTenant) =>
  ownerQuery<{ signal: string; wamid: string; attempts: number; last_error: string | null; created_at: Date; queued: boolean }>(
    bridge.sys.tdb,
    `SELECT payload->>'signal' AS signal, payload->>'wamid' AS wamid, attempts, last_error, created_at, false AS queued
       FROM finished_jobs WHERE tenant_id = $1 AND kind = 'to_whatsapp_signal'
     UNION ALL
     SELECT payload->>'signal', payload->>'wamid', attempts, last_error, created_at, true FROM outbox WHERE tenant_id = $1 AND kind = 'to_whatsapp_signal'
     ORDER BY created_at`,
    [t.tenantId],
  );

/** Resolves once no signal job of the tenant is left in the queue (sent, or dropped). */
const signalsSettled = (t: BridgeTenant) => eventually(async () => (await signalJobs(t)).every((j) => !j.queued), 15_000, 'the signal jobs to end');

const setMarkRead = async (t: BridgeTenant, markRead: string) => {
  const res = await bridge.sys.admin('patch', `/tenants/${t.tenantId}`).send({ markRead });
  expect({ status: res.status, markRead: res.body.markRead }).toEqual({ status: 200, markRead });
};

describe('the agent typing', () => {
  it('a storm of 50 typing events over ~5 s shows at most one typing indicator per interval, on the customer’s newest message', async () => {
    const t = await bridge.onboard();
    const waId = newCustomer();
    await customerWrites(t, waId, 'first');
    const newest = await customerWrites(t, waId, 'second');

    const started = Date.now();
    for (let i = 0; i < 50; i++) {
      await agentTypes(t, waId);
      // Paced as Genesys sends them while an agent types (every 100 ms here: a storm).
      await new Promise((r) => setTimeout(r, 100));
    }
    const elapsed = Date.now() - started;
    await signalsSettled(t);

    const events = await ownerQuery<{ n: number }>(bridge.sys.tdb, `SELECT count(*)::int AS n FROM message_events WHERE tenant_id = $1 AND source = 'genesys' AND kind = 'event'`, [t.tenantId]);
    expect(events[0].n).toBe(50);
    const jobs = await signalJobs(t);
    expect(jobs.every((j) => j.signal === 'typing' && j.wamid === newest && j.last_error === null)).toBe(true);
    // One per interval at most: each was queued at least INTERVAL after the one before...
    const gaps = jobs.slice(1).map((j, i) => j.created_at.getTime() - jobs[i].created_at.getTime());
    expect(gaps.every((g) => g >= INTERVAL)).toBe(true);
    expect(jobs.length).toBeLessThanOrEqual(Math.floor(elapsed / INTERVAL) + 1);
    // ...and the storm, lasting several intervals, kept it showing.
    expect(jobs.length).toBeGreaterThanOrEqual(2);
    // Each reached WhatsApp once, as a typing indicator that also marks the newest message read.
    expect(readsFor(t)).toEqual(jobs.map(() => ({ wamid: newest, typing: true })));
  });

  it('shows no typing indicator after the customer’s 24-hour window closed (the agent’s activity still marks the message read)', async () => {
    const t = await bridge.onboard();
    const waId = newCustomer();
    const old = await customerWrites(t, waId, 'yesterday', 24 * HOUR + 60_000);
    for (let i = 0; i < 3; i++) await agentTypes(t, waId);
    // The reply is refused (the window is closed); it is the agent's activity too.
    expect((await bridge.genesys.agentReply({ ...webhook(t), to: waId, text: 'Still there?', maxRetries: 0 })).statuses).toEqual([200]);
    await eventually(() => readsFor(t).length > 0, 10_000, 'the read mark');
    await signalsSettled(t);
    expect(readsFor(t)).toEqual([{ wamid: old, typing: false }]);
    expect((await signalJobs(t)).map((j) => j.signal)).toEqual(['read']);
  });

  it('with Meta failing every typing and read call, messages in both directions go through untouched: no retry, no error, no open breaker', async () => {
    const t = await bridge.onboard();
    const waId = newCustomer();
    bridge.meta.failNext(1_000, { code: 131000, endpoint: 'read', phoneNumberId: t.phoneNumberId });

    const inbound: string[] = [];
    for (let i = 1; i <= 4; i++) {
      inbound.push(await customerWrites(t, waId, `question ${i}`));
      await agentTypes(t, waId);
      await agentReplies(t, waId, `answer ${i}`);
    }
    await signalsSettled(t);

    // Every message went at its first attempt, with no error recorded: a failing signal opened no
    // circuit (Genesys's per-tenant breaker would have deferred the customer's messages) and
    // delayed no reply.
    const messageJobs = await ownerQuery<{ kind: string; attempts: number; last_error: string | null }>(
      bridge.sys.tdb,
      `SELECT kind, attempts, last_error FROM finished_jobs WHERE tenant_id = $1 AND kind IN ('to_genesys_message', 'to_whatsapp_message') ORDER BY kind`,
      [t.tenantId],
    );
    expect(messageJobs).toEqual([
      ...Array(4).fill({ kind: 'to_genesys_message', attempts: 1, last_error: null }),
      ...Array(4).fill({ kind: 'to_whatsapp_message', attempts: 1, last_error: null }),
    ]);
    expect(bridge.meta.sends(t.phoneNumberId).map((s) => s.body.text?.body)).toEqual(['answer 1', 'answer 2', 'answer 3', 'answer 4']);

    // The signals were tried a few times each, then dropped: none waits, none is a dead letter.
    const jobs = await signalJobs(t);
    expect(jobs.length).toBeGreaterThanOrEqual(4);
    expect(jobs.every((j) => j.attempts >= 1 && j.attempts <= 3 && /131000/.test(j.last_error ?? '') === j.attempts > 1)).toBe(true);
    expect(jobs.some((j) => j.attempts === 3)).toBe(true);
    const readCalls = bridge.meta.calls.filter((c) => c.endpoint === 'read' && c.phoneNumberId === t.phoneNumberId);
    expect(readCalls.length).toBeGreaterThanOrEqual(jobs.length);
    expect(readCalls.length).toBeLessThanOrEqual(jobs.reduce((sum, j) => sum + j.attempts, 0));
    expect(readCalls.every((c) => c.status === 500 && c.injected)).toBe(true);
    expect(readsFor(t)).toEqual([]);
    const left = await ownerQuery(bridge.sys.tdb, `SELECT state FROM outbox WHERE tenant_id = $1`, [t.tenantId]);
    expect(left).toEqual([]);
  });

  it('for a customer who never wrote, does nothing', async () => {
    const t = await bridge.onboard();
    await agentTypes(t, newCustomer());
    expect(await signalJobs(t)).toEqual([]);
  });
});

describe('markRead', () => {
  it('on-agent-activity (default): nothing on delivery; the agent’s typing or reply marks every message up to then read', async () => {
    const t = await bridge.onboard();
    const waId = newCustomer();
    await customerWrites(t, waId, 'one');
    const two = await customerWrites(t, waId, 'two');
    expect(await signalJobs(t)).toEqual([]);

    await agentReplies(t, waId, 'reply to two');
    await eventually(() => readsFor(t).length === 1, 10_000, 'the read mark');
    expect(readsFor(t)).toEqual([{ wamid: two, typing: false }]);

    const three = await customerWrites(t, waId, 'three');
    await agentTypes(t, waId);
    await eventually(() => readsFor(t).length === 2, 10_000, 'the typing indicator');
    expect(readsFor(t)).toEqual([
      { wamid: two, typing: false },
      { wamid: three, typing: true },
    ]);
    // A second reply about the same messages marks nothing more.
    await agentReplies(t, waId, 'reply to three');
    await signalsSettled(t);
    expect(readsFor(t)).toHaveLength(2);
  });

  it('on-delivery: each message is marked read once Genesys has accepted it; a reply adds nothing, typing still shows', async () => {
    const t = await bridge.onboard();
    await setMarkRead(t, 'on-delivery');
    const waId = newCustomer();
    const one = await customerWrites(t, waId, 'one');
    await eventually(() => readsFor(t).length === 1, 10_000, 'the first read mark');
    const two = await customerWrites(t, waId, 'two');
    await eventually(() => readsFor(t).length === 2, 10_000, 'the second read mark');
    expect(readsFor(t)).toEqual([
      { wamid: one, typing: false },
      { wamid: two, typing: false },
    ]);
    // Each after Genesys had the message.
    const got = (wamid: string) => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamid)!.time.getTime();
    const readAt = (wamid: string) => bridge.meta.reads.find((r) => r.messageId === wamid)!.time.getTime();
    expect(readAt(one)).toBeGreaterThanOrEqual(got(one));
    expect(readAt(two)).toBeGreaterThanOrEqual(got(two));

    await agentReplies(t, waId, 'thanks');
    await agentTypes(t, waId);
    await eventually(() => readsFor(t).length === 3, 10_000, 'the typing indicator');
    await signalsSettled(t);
    expect(readsFor(t)[2]).toEqual({ wamid: two, typing: true });
    expect((await signalJobs(t)).map((j) => j.signal)).toEqual(['read', 'read', 'typing']);
  });

  it('never: no read mark and no typing indicator, whatever the agent does', async () => {
    const t = await bridge.onboard();
    await setMarkRead(t, 'never');
    const waId = newCustomer();
    await customerWrites(t, waId, 'one');
    await agentTypes(t, waId);
    await agentReplies(t, waId, 'hello');
    await customerWrites(t, waId, 'two');
    // Everything that could queue a signal has happened (webhooks answered, deliveries recorded).
    expect(await signalJobs(t)).toEqual([]);
    expect(readsFor(t)).toEqual([]);
  });
});
