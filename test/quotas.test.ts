import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { buildTextMessage, wamidOf } from '@bridge/simulators';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Plans and quotas end to end (issue #13), through the gateway, the simulators and the delivery
 * worker: 80% and 100% of a plan limit raise a notification each, listed for the tenant and
 * POSTed signed to its notification webhook (retried until it answers 2xx); once the limit is
 * used up, customers' messages still reach Genesys (overage), the tenant API answers 429
 * QUOTA_EXCEEDED with Retry-After, and under `hardLimit: block-all` an agent's reply gets a
 * Failed receipt saying why.
 */
let bridge: Bridge;
let gateway: string;

/** The tenant's notification webhook: records each POST; answers 500 to the first `failures` of them. */
interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}
const received: Received[] = [];
let failures = 0;
let receiver: http.Server;
let receiverUrl: string;
const SECRET = 'whsec-e2e-0123456789';

beforeAll(async () => {
  bridge = await startBridge();
  gateway = bridge.sys.urls.gateway;
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = failures > 0 ? (failures--, 500) : 204;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/bridge`;
});

afterAll(async () => {
  await new Promise((r) => receiver?.close(r));
  await bridge?.stop();
});

async function customerWrote(t: BridgeTenant, waId: string, body: string) {
  const inbound = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body });
  const res = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload: inbound, appSecret: t.appSecret, maxAttempts: 1 });
  expect(res.statuses).toEqual([200]);
  return inbound;
}

const atGenesys = (t: BridgeTenant, wamid: string) =>
  eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamid), 10_000, `${wamid} at Genesys`);

const api = (t: BridgeTenant) => ({
  get: (url: string) => request(gateway).get(url).set('X-API-Key', t.apiKey),
  post: (url: string) => request(gateway).post(url).set('X-API-Key', t.apiKey),
});

/** The POSTs the webhook accepted, by notification kind. */
const delivered = (kind: string) => received.filter((r) => r.status === 204 && JSON.parse(r.body).kind === kind);

describe('a tenant on a plan of 5 messages a month, hardLimit block-all', () => {
  let t: BridgeTenant;
  const waId = '16505553001';

  beforeAll(async () => {
    await bridge.sys.admin('post', '/plans').send({ name: 'e2e-tiny', messagesPerMonth: 5, apiRequestsPerMinute: 600, hardLimit: 'block-all' }).expect(201);
    t = await bridge.onboard();
    await bridge.sys.admin('patch', `/tenants/${t.tenantId}`).send({ plan: 'e2e-tiny', notificationWebhook: { url: receiverUrl, secret: SECRET } }).expect(200);
  });

  it('at 80% (the 4th message) raises a warning once: listed, and POSTed signed to the webhook, retried after a 500 with the same id', async () => {
    failures = 1;
    for (let i = 1; i <= 4; i++) await atGenesys(t, wamidOf(await customerWrote(t, waId, `message ${i}`)));
    const [post] = await eventually(() => (delivered('quota.warning').length ? delivered('quota.warning') : undefined), 15_000, 'the warning at the webhook');
    const attempts = received.filter((r) => r.headers['x-bridge-notification-id'] === post.headers['x-bridge-notification-id']);
    expect(attempts.map((a) => a.status)).toEqual([500, 204]);
    expect(post.headers['x-bridge-signature-256']).toBe(`sha256=${createHmac('sha256', SECRET).update(post.body).digest('hex')}`);
    expect(post.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(post.body);
    expect(body).toMatchObject({ tenantId: t.tenantId, kind: 'quota.warning', severity: 'warning', details: { quota: 'messagesPerMonth', threshold: 80, used: 4, limit: 5 } });
    expect(body.id).toBe(post.headers['x-bridge-notification-id']);

    const listed = await api(t).get('/state/notifications').expect(200);
    expect(listed.body.notifications).toEqual([expect.objectContaining({ id: body.id, kind: 'quota.warning', key: expect.stringMatching(/^messagesPerMonth:\d{4}-\d{2}:80$/) })]);
    const usage = await api(t).get('/state/usage').expect(200);
    expect(usage.body.quotas.find((q: { quota: string }) => q.quota === 'messagesPerMonth')).toMatchObject({ used: 4, limit: 5, percent: 80, exceeded: false });
    expect(usage.body.daily).toEqual([expect.objectContaining({ inbound: 4, messages: 4, conversations: 1 })]);
    // Still under the limit: the API answers.
    await api(t).get('/state/conversations').expect(200);
  });

  it('at 100% raises the exceeded notification; then the tenant API answers 429 QUOTA_EXCEEDED with Retry-After to the month’s end, but its usage and notifications', async () => {
    await atGenesys(t, wamidOf(await customerWrote(t, waId, 'message 5')));
    await eventually(() => delivered('quota.exceeded')[0], 15_000, 'the exceeded notification at the webhook');
    const now = new Date();
    const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);

    const refused = await api(t).post('/messages').send({ to: waId, text: 'A proactive hello' }).expect(429);
    expect(refused.body.error.code).toBe('QUOTA_EXCEEDED');
    expect(refused.body.error.message).toContain('plan limit of 5 messages per month is used up (5 used)');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(Math.abs(retryAfter - (monthEnd - Date.now()) / 1000)).toBeLessThan(30);
    expect((await api(t).get('/state/conversations').expect(429)).body.error.code).toBe('QUOTA_EXCEEDED');
    expect((await api(t).get('/templates').expect(429)).headers['retry-after']).toBeDefined();
    const usage = await api(t).get('/state/usage').expect(200);
    expect(usage.body.quotas.find((q: { quota: string }) => q.quota === 'messagesPerMonth')).toMatchObject({ used: 5, percent: 100, exceeded: true, overage: 0 });
    expect((await api(t).get('/state/notifications').expect(200)).body.notifications.map((n: { kind: string }) => n.kind)).toEqual(['quota.exceeded', 'quota.warning']);
  });

  it('a customer’s message over the limit is delivered to Genesys and counted as overage', async () => {
    const over = await customerWrote(t, waId, 'over the limit');
    await atGenesys(t, wamidOf(over));
    const usage = await api(t).get('/state/usage').expect(200);
    expect(usage.body.quotas.find((q: { quota: string }) => q.quota === 'messagesPerMonth')).toMatchObject({ used: 6, overage: 1, exceeded: true });
    // Raised once each, whatever came after.
    expect(delivered('quota.warning')).toHaveLength(1);
    expect(delivered('quota.exceeded')).toHaveLength(1);
  });

  it('an agent’s reply gets a Failed receipt saying why, without a call to Meta; under block-api it goes out', async () => {
    const sends = () => bridge.meta.sends(t.phoneNumberId).filter((s) => s.body.to === waId).length;
    const before = sends();
    const reply = await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to: waId, text: 'Hello from the agent' });
    const receipt = await eventually(() => bridge.genesys.receipts(t.integrationId).find((r) => r.body.id === reply.id), 10_000, 'the Failed receipt');
    expect(receipt.body).toMatchObject({ status: 'Failed', isFinalReceipt: true });
    expect(receipt.body.reasons).toEqual([{ code: 'MessageNotAllowed', message: expect.stringContaining("This account's plan limit of 5 messages per month is used up") }]);
    expect(receipt.body.reasons![0].message).toContain('its plan stops agent replies until then');
    expect(sends()).toBe(before);

    await bridge.sys.admin('patch', '/plans/e2e-tiny').send({ hardLimit: 'block-api' }).expect(200);
    await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to: waId, text: 'Second try' });
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId && s.body.text?.body === 'Second try'), 10_000, 'the reply at Meta');
    expect(sent.body.type).toBe('text');
  });
});
