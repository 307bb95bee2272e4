import request from 'supertest';
import { buildStatus, buildTextMessage, wamidOf } from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Dead letters (issue #16): a message given up, sent again through the tenant API or the admin
 * API, end to end with the simulators: the retry is a new job at the end of the lane, it is
 * delivered once, its status moves as any delivery's, and each retry is audited.
 */
let bridge: Bridge;
let gateway: string;

beforeAll(async () => {
  // Deliveries that cannot succeed within 2 s are dead-lettered (production: 7 days).
  bridge = await startBridge({ env: { DELIVERY_RETRY_BUDGET_MS: '2000', SECURITY_EVENT_WINDOW_SECONDS: '1' } });
  gateway = bridge.sys.urls.gateway;
}, 30_000);

afterAll(() => bridge.stop());

const metaWebhook = (t: BridgeTenant, payload: object) =>
  bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1 });

interface MessageView {
  id: string;
  wamid: string | null;
  genesysMessageId: string | null;
  status: string;
  errorCode: string | null;
}

const listMessages = async (t: BridgeTenant, query = ''): Promise<MessageView[]> => {
  const res = await request(gateway).get(`/state/messages${query}`).set('X-API-Key', t.apiKey);
  expect(res.status).toBe(200);
  return res.body.messages;
};
const byWamid = async (t: BridgeTenant, wamid: string) => (await listMessages(t)).find((m) => m.wamid === wamid);
const retry = (t: BridgeTenant, id: string) => request(gateway).post(`/state/messages/${id}/retry`).set('X-API-Key', t.apiKey);
const arrivedAtGenesys = (t: BridgeTenant, wamid: string) => bridge.genesys.messages(t.integrationId).filter((m) => m.body.channel.messageId === wamid);

/** A customer's message dead-lettered while the tenant's Genesys is down (the outage stays on). */
async function deadInbound(t: BridgeTenant, from: string, body: string): Promise<MessageView> {
  bridge.genesys.setOutage(true, { integrationId: t.integrationId });
  const inbound = buildTextMessage({ phoneNumberId: t.phoneNumberId, from, body });
  expect((await metaWebhook(t, inbound)).statuses).toEqual([200]);
  return eventually(async () => {
    const m = await byWamid(t, wamidOf(inbound));
    return m?.status === 'dead' ? m : undefined;
  }, 15_000, `${body} dead-lettered`);
}

const outboxRows = (t: BridgeTenant, messageId: string) =>
  ownerQuery<{ id: string; state: string; lane: string; last_error: string | null }>(
    bridge.sys.tdb,
    'SELECT id::text, state, lane, last_error FROM outbox WHERE tenant_id = $1 AND message_id = $2 ORDER BY id',
    [t.tenantId, messageId],
  );

describe('POST /state/messages/:id/retry', () => {
  it('sends a message Genesys refused until dead again once the fault is fixed: delivered, status updated, audited', async () => {
    const t = await bridge.onboard();
    const dead = await deadInbound(t, '16505558101', 'lost in the outage');
    expect(dead.errorCode).toMatch(/^(GENESYS_UNAVAILABLE|CIRCUIT_OPEN)$/);
    expect(arrivedAtGenesys(t, dead.wamid!)).toEqual([]);

    bridge.genesys.setOutage(false, { integrationId: t.integrationId });
    const res = await retry(t, dead.id);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      messageId: dead.id,
      status: 'pending',
      requeued: true,
      job: { kind: 'to_genesys_message', lane: 'in:16505558101' },
      previous: { status: 'dead', errorCode: dead.errorCode },
    });

    // The agent sees it, once; the tenant sees it delivered, without the old error.
    await eventually(() => arrivedAtGenesys(t, dead.wamid!).length === 1, 10_000, 'delivered to Genesys');
    expect(arrivedAtGenesys(t, dead.wamid!)[0].body.text).toBe('lost in the outage');
    const delivered = await eventually(async () => {
      const m = await byWamid(t, dead.wamid!);
      return m?.status === 'delivered' ? m : undefined;
    }, 10_000, 'status delivered');
    expect(delivered.errorCode).toBeNull();
    // The given-up job stays as it ended, with its reason: the failure's history; the new one is gone (done).
    const jobs = await outboxRows(t, dead.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ state: 'dead', lane: 'in:16505558101' });
    expect(jobs[0].last_error).toMatch(/GENESYS_UNAVAILABLE|CIRCUIT_OPEN/);

    // Audited, in the tenant's trail, with what it was.
    const audit = await request(gateway).get('/state/audit?type=message.retried').set('X-API-Key', t.apiKey);
    expect(audit.status).toBe(200);
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0]).toMatchObject({
      action: 'message.retried',
      target: `message:${dead.id}`,
      actor: expect.stringMatching(/^key:/),
      before: { status: 'dead', errorCode: dead.errorCode },
      after: { status: 'pending', job: { id: res.body.job.id } },
    });

    // Delivered now: not retryable (409), and nothing was queued.
    const again = await retry(t, dead.id);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('MESSAGE_NOT_RETRYABLE');
    expect(again.body.error.message).toContain('delivered');
    expect(await outboxRows(t, dead.id)).toHaveLength(1);
  }, 60_000);

  it('is idempotent under concurrent retries: one job, one delivery', async () => {
    const t = await bridge.onboard();
    const dead = await deadInbound(t, '16505558102', 'retried twice at once');
    // Still down while the retries race, so that the first one's job is still queued for the others.
    const answers = await Promise.all([retry(t, dead.id), retry(t, dead.id), retry(t, dead.id), retry(t, dead.id)]);
    bridge.genesys.setOutage(false, { integrationId: t.integrationId });
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 202]);
    const jobIds = new Set(answers.map((a) => a.body.job.id));
    expect(jobIds.size).toBe(1);
    for (const a of answers.filter((x) => x.status === 200)) expect(a.body).toMatchObject({ requeued: false, status: 'pending' });

    await eventually(async () => (await byWamid(t, dead.wamid!))?.status === 'delivered', 10_000, 'delivered');
    await eventually(() => arrivedAtGenesys(t, dead.wamid!).length >= 1, 10_000, 'at Genesys');
    expect(arrivedAtGenesys(t, dead.wamid!)).toHaveLength(1);
    const retried = (await outboxRows(t, dead.id)).filter((j) => j.state !== 'dead');
    expect(retried).toEqual([]);
    const audit = await request(gateway).get('/state/audit?type=message.retried').set('X-API-Key', t.apiKey);
    expect(audit.body.events).toHaveLength(1);
  }, 60_000);

  it('sends a failed agent reply again: the agent who saw Failed then sees Delivered', async () => {
    const t = await bridge.onboard();
    const waId = '16505558103';
    expect((await metaWebhook(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'hello' }))).statuses).toEqual([200]);
    bridge.meta.failNext(1, { code: 131026, phoneNumberId: t.phoneNumberId });
    const reply = await bridge.genesys.agentReply({
      webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`,
      secret: t.webhookSecret,
      integrationId: t.integrationId,
      to: waId,
      text: 'second time lucky',
    });
    const receiptsOf = () => bridge.genesys.receipts(t.integrationId).filter((r) => r.body.id === reply.id);
    await eventually(() => receiptsOf().some((r) => r.body.status === 'Failed'), 10_000, 'Failed receipt');
    const failed = await eventually(async () => (await listMessages(t, '?status=failed&direction=outbound')).find((m) => m.genesysMessageId === reply.id), 10_000, 'failed reply');

    const res = await retry(t, failed.id);
    expect(res.status).toBe(202);
    expect(res.body.job).toMatchObject({ kind: 'to_whatsapp_message', lane: `out:${waId}` });
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.text?.body === 'second time lucky'), 10_000, 'sent to WhatsApp');
    await eventually(async () => (await listMessages(t)).find((m) => m.id === failed.id)?.wamid === sent.wamid, 10_000, 'new wamid recorded');
    expect((await metaWebhook(t, buildStatus({ phoneNumberId: t.phoneNumberId, wamid: sent.wamid, status: 'delivered', recipientId: waId }))).statuses).toEqual([200]);
    await eventually(() => receiptsOf().some((r) => r.body.status === 'Delivered'), 10_000, 'Delivered receipt');
    expect(receiptsOf().map((r) => r.body.status)).toEqual(['Failed', 'Delivered']);
    const after = await eventually(async () => {
      const m = (await listMessages(t)).find((x) => x.id === failed.id);
      return m?.status === 'delivered' ? m : undefined;
    }, 10_000, 'delivered');
    expect(after.errorCode).toBeNull();
  }, 60_000);

  it("answers 404 for another tenant's message and for ids that cannot exist; the route needs messages:retry", async () => {
    const t = await bridge.onboard();
    const other = await bridge.onboard();
    const dead = await deadInbound(t, '16505558104', 'not yours');
    bridge.genesys.setOutage(false, { integrationId: t.integrationId });
    for (const id of [dead.id, '0', 'abc', '99999999999999999999']) {
      const res = await retry(other, id);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('MESSAGE_NOT_FOUND');
    }
    expect((await byWamid(t, dead.wamid!))?.status).toBe('dead');
    // Asking for another tenant's message is on the asker's trail, as for GET /messages/:id.
    const foreign = await eventually(async () => {
      const res = await request(gateway).get('/state/audit?type=security').set('X-API-Key', other.apiKey);
      return res.body.events?.find((e: { action: string; target: string }) => e.action === 'security.foreign_object' && e.target === `message:${dead.id}`);
    }, 10_000, 'security.foreign_object');
    expect(foreign.after.first).toEqual({ route: 'POST /state/messages/:id/retry' });
    const { body } = await bridge.sys.admin('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'reader', scopes: ['messages:read'] });
    const refused = await request(gateway).post(`/state/messages/${dead.id}/retry`).set('X-API-Key', body.apiKey);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('messages:retry');
    expect((await byWamid(t, dead.wamid!))?.status).toBe('dead');
  }, 60_000);
});

describe('the admin API', () => {
  it('retries one message of any tenant, and refuses what is not a dead letter', async () => {
    const t = await bridge.onboard();
    const dead = await deadInbound(t, '16505558201', 'admin single');
    bridge.genesys.setOutage(false, { integrationId: t.integrationId });
    const res = await bridge.sys.admin('post', `/tenants/${t.tenantId}/messages/${dead.id}/retry`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ messageId: dead.id, requeued: true, job: { kind: 'to_genesys_message' } });
    await eventually(async () => (await byWamid(t, dead.wamid!))?.status === 'delivered', 10_000, 'delivered');
    const again = await bridge.sys.admin('post', `/tenants/${t.tenantId}/messages/${dead.id}/retry`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('MESSAGE_NOT_RETRYABLE');
    const other = await bridge.onboard();
    expect((await bridge.sys.admin('post', `/tenants/${other.tenantId}/messages/${dead.id}/retry`)).body.error.code).toBe('MESSAGE_NOT_FOUND');
    expect((await bridge.sys.admin('post', `/tenants/no-such-tenant/messages/${dead.id}/retry`)).body.error.code).toBe('TENANT_NOT_FOUND');
    const audit = await bridge.sys.admin('get', `/audit?tenant=${t.tenantId}&type=message.retried`);
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0]).toMatchObject({ actor: 'admin', target: `message:${dead.id}`, before: { status: 'dead' } });
  }, 60_000);

  it('retries in bulk only what was dead-lettered within the window, oldest first, at most `limit`, audited once per call', async () => {
    const t = await bridge.onboard();
    const dead = [];
    for (const [i, from] of ['16505558301', '16505558302', '16505558303', '16505558304'].entries()) dead.push(await deadInbound(t, from, `bulk ${i}`));
    // When each was given up: 3 h, 2 h, 90 min and 10 min ago.
    const agoMinutes = [180, 120, 90, 10];
    for (const [i, m] of dead.entries()) {
      await ownerQuery(bridge.sys.tdb, `UPDATE message_tracking SET updated_at = now() - $3 * interval '1 minute' WHERE tenant_id = $1 AND id = $2`, [t.tenantId, m.id, agoMinutes[i]]);
    }
    bridge.genesys.setOutage(false, { integrationId: t.integrationId });
    const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString();
    const bulk = (body: object) => bridge.sys.admin('post', `/tenants/${t.tenantId}/messages/retry`).send(body);

    // Bad input changes nothing.
    for (const body of [
      { status: 'dead', since: minutesAgo(150), until: minutesAgo(60), limit: 1001 },
      { status: 'delivered', since: minutesAgo(150), until: minutesAgo(60) },
      { status: 'dead', since: minutesAgo(60), until: minutesAgo(150) },
      { status: 'dead', since: 'yesterday', until: minutesAgo(60) },
      { status: 'dead', since: minutesAgo(150), until: minutesAgo(60), extra: 1 },
    ]) {
      const res = await bulk(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }

    // Between 150 and 60 minutes ago: the 2nd and 3rd; with limit 1, the older first, and `more`.
    const first = await bulk({ status: 'dead', since: minutesAgo(150), until: minutesAgo(60), limit: 1 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ requeued: 1, messages: [{ id: dead[1].id }], skipped: [], more: true });
    const second = await bulk({ status: 'dead', since: minutesAgo(150), until: minutesAgo(60) });
    expect(second.body).toMatchObject({ requeued: 1, messages: [{ id: dead[2].id }], skipped: [], more: false });
    const none = await bulk({ status: 'dead', since: minutesAgo(150), until: minutesAgo(60) });
    expect(none.body).toEqual({ requeued: 0, messages: [], skipped: [], more: false });
    // Only failed ones: none here.
    expect((await bulk({ status: 'failed', since: minutesAgo(600), until: minutesAgo(0) })).body.requeued).toBe(0);

    for (const m of [dead[1], dead[2]]) await eventually(async () => (await byWamid(t, m.wamid!))?.status === 'delivered', 10_000, `${m.id} delivered`);
    for (const m of [dead[0], dead[3]]) expect((await byWamid(t, m.wamid!))?.status).toBe('dead');
    expect(arrivedAtGenesys(t, dead[0].wamid!)).toEqual([]);
    expect(arrivedAtGenesys(t, dead[3].wamid!)).toEqual([]);

    const audit = await bridge.sys.admin('get', `/audit?tenant=${t.tenantId}&type=messages.retried`);
    expect(audit.body.events).toHaveLength(4);
    expect(audit.body.events.map((e: { after: { ids: string[] } }) => e.after.ids).reverse()).toEqual([[dead[1].id], [dead[2].id], [], []]);
    expect(audit.body.events[audit.body.events.length - 1]).toMatchObject({ actor: 'admin', target: 'messages:dead', after: { requeued: 1, limit: 1, more: true } });

    expect((await bridge.sys.admin('post', '/tenants/no-such-tenant/messages/retry').send({ status: 'dead', since: minutesAgo(10), until: minutesAgo(0) })).status).toBe(404);
  }, 90_000);
});
