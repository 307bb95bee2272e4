import request from 'supertest';
import { Database, checkTemplateRequest, listTemplates } from '@bridge/shared';
import { buildTextMessage } from '@bridge/simulators';
import { eventually, startBridge, type Bridge } from './support/bridge';
import { ownerQuery } from './support/db';
import { uniqueNumericId, uniqueTenantId } from './support/ids';

/**
 * The template catalogue across services: tenant-service syncs it from Meta (the simulator),
 * tenants read it through the gateway (state-manager's GET /templates), and Meta's template status
 * webhooks, through the gateway and webhook-service, keep it current — so that a template Meta
 * paused is refused by state-manager and genesys-connector before any call to Meta. Real
 * PostgreSQL; Redis when the suite has one.
 */
let bridge: Bridge;
let db: Database;

beforeAll(async () => {
  bridge = await startBridge();
  db = new Database({ connectionString: bridge.sys.tdb.appUrl });
});
afterAll(async () => {
  await db.close();
  await bridge.stop();
});

interface WabaTenant {
  tenantId: string;
  apiKey: string;
  wabaId: string;
  appSecret: string;
}

/** A tenant with Meta credentials naming its own WABA, whose templates the simulator lists; synced. */
async function onboard(templates: Array<{ name: string; language: string; body: string }>): Promise<WabaTenant> {
  const { tenantId, apiKey } = await bridge.sys.createTenant({ tenantId: uniqueTenantId('cat'), apiKeyScopes: ['templates:read', 'messages:send', 'messages:read'] });
  const t = { tenantId, apiKey, wabaId: uniqueNumericId(), appSecret: `app-secret-${uniqueNumericId()}` };
  const phoneNumberId = uniqueNumericId();
  const accessToken = `EAAG-${uniqueNumericId()}`;
  bridge.meta.addNumber({ phoneNumberId, accessToken, wabaId: t.wabaId });
  for (const tpl of templates) bridge.meta.addTemplate({ wabaId: t.wabaId, ...tpl });
  const stored = await bridge.sys.admin('post', `/tenants/${tenantId}/credentials`).send({
    type: 'meta',
    credentials: { appSecret: t.appSecret, verifyToken: `verify-${uniqueNumericId()}`, accessToken, phoneNumberId, wabaId: t.wabaId },
  });
  expect(stored.status).toBe(201);
  const synced = await bridge.sys.admin('post', `/tenants/${tenantId}/templates/sync`);
  expect(synced.body).toMatchObject({ templates: templates.length });
  return t;
}

const gateway = () => request(bridge.sys.urls.gateway);
const tenantTemplates = (t: WabaTenant, query = '') => gateway().get(`/templates${query}`).set('X-API-Key', t.apiKey);
const statusOf = async (t: WabaTenant, name: string) =>
  ((await tenantTemplates(t)).body.templates as Array<{ name: string; status: string }>).find((x) => x.name === name)?.status;

describe('GET /templates through the gateway', () => {
  it("shows the caller's catalogue, as the admin API does, and never another tenant's", async () => {
    const a = await onboard([
      { name: 'a_order', language: 'en_US', body: 'Hi {{1}}, order {{2}}' },
      { name: 'shared_name', language: 'en_US', body: 'A says {{1}}' },
    ]);
    const b = await onboard([{ name: 'shared_name', language: 'en_US', body: 'B says hello' }]);

    const seenByA = await tenantTemplates(a);
    expect(seenByA.status).toBe(200);
    expect(seenByA.body.templates.map((x: { name: string; body: string }) => `${x.name}: ${x.body}`)).toEqual(['a_order: Hi {{1}}, order {{2}}', 'shared_name: A says {{1}}']);
    expect(seenByA.body.templates[0]).toMatchObject({ parameters: { header: 0, body: 2, buttons: [], total: 2 }, status: 'APPROVED', category: 'UTILITY' });
    // One mapping for both APIs.
    expect(seenByA.body).toEqual((await bridge.sys.admin('get', `/tenants/${a.tenantId}/templates`)).body);

    const seenByB = await tenantTemplates(b);
    expect(seenByB.body.templates).toEqual([expect.objectContaining({ name: 'shared_name', body: 'B says hello' })]);

    // With a token too; filtered by status; a bad status is 400; no key is 401.
    const token = (await gateway().post('/auth/token').set('X-API-Key', b.apiKey)).body.token;
    expect((await gateway().get('/templates?status=APPROVED').set('Authorization', `Bearer ${token}`)).body.templates).toHaveLength(1);
    expect((await tenantTemplates(b, '?status=PAUSED')).body.templates).toEqual([]);
    const bad = await tenantTemplates(b, '?status=OK');
    expect({ status: bad.status, code: bad.body.error?.code }).toEqual({ status: 400, code: 'VALIDATION_ERROR' });
    expect((await gateway().get('/templates')).status).toBe(401);
  });
});

describe('template status webhooks', () => {
  it('move a template to PAUSED: the tenant API shows it, and the catalogue check then refuses it; a redelivery changes nothing twice', async () => {
    const t = await onboard([
      { name: 'order_update', language: 'en_US', body: 'Hi {{1}}, your order {{2}} ships today.' },
      { name: 'other', language: 'en_US', body: 'Untouched' },
    ]);
    const send = { name: 'order_update', language: 'en_US', parameters: ['Ana', '#4411'] };
    const catalogue = () => db.withTenant(t.tenantId, (q) => listTemplates(q, t.tenantId));
    expect(checkTemplateRequest(await catalogue(), send)).toMatchObject({ ok: true });

    // Meta posts to the platform-wide route: the change names only the WABA.
    const url = `${bridge.sys.urls.gateway}/webhook/meta`;
    const paused = await bridge.meta.deliverTemplateStatus({ url, appSecret: t.appSecret, wabaId: t.wabaId, name: 'order_update', language: 'en_US', event: 'PAUSED', reason: 'LOW_QUALITY' });
    expect(paused.statuses).toEqual([200]);
    expect(await statusOf(t, 'order_update')).toBe('PAUSED');
    expect(await statusOf(t, 'other')).toBe('APPROVED');
    const refused = checkTemplateRequest(await catalogue(), send);
    expect(refused).toMatchObject({ ok: false, problem: 'TEMPLATE_NOT_APPROVED' });
    expect(refused.ok || refused.reason).toContain('order_update (en_US) is PAUSED');

    // Meta approves it again, the next sync says so; then the PAUSED webhook comes again, byte for byte.
    bridge.meta.setTemplateStatus({ wabaId: t.wabaId, name: 'order_update', language: 'en_US', status: 'APPROVED' });
    await bridge.sys.admin('post', `/tenants/${t.tenantId}/templates/sync`).expect(200);
    expect(await statusOf(t, 'order_update')).toBe('APPROVED');
    const again = await bridge.meta.deliverWebhook({ url, appSecret: t.appSecret, payload: paused.body });
    expect(again.statuses).toEqual([200]);
    expect(await statusOf(t, 'order_update')).toBe('APPROVED');
    const events = await ownerQuery<{ n: number }>(bridge.sys.tdb, `SELECT count(*)::int AS n FROM account_events WHERE tenant_id = $1 AND field = 'message_template_status_update'`, [t.tenantId]);
    expect(events).toEqual([{ n: 1 }]);

    // A new event (another time) applies: DISABLED; an event that is not a status (FLAGGED) leaves it.
    await bridge.meta.deliverTemplateStatus({ url, appSecret: t.appSecret, wabaId: t.wabaId, name: 'order_update', language: 'en_US', event: 'FLAGGED' });
    expect(await statusOf(t, 'order_update')).toBe('APPROVED');
    await bridge.meta.deliverTemplateStatus({ url, appSecret: t.appSecret, wabaId: t.wabaId, name: 'order_update', language: 'en_US', event: 'DISABLED' });
    expect(await statusOf(t, 'order_update')).toBe('DISABLED');
  });
});

describe('a template Meta pauses, end to end', () => {
  it("is refused from its status webhook on, before any call to Meta: a message queued before fails with the reason, the agent's /template command gets a Failed receipt, POST /messages a 422", async () => {
    const t = await bridge.onboard({
      templates: [
        { name: 'order_update', language: 'en_US', body: 'Hi {{1}}, your order {{2}} is on its way.' },
        { name: 'reopen', language: 'en_US', body: '{{1}}' },
      ],
    });
    const gw = bridge.sys.urls.gateway;
    const waId = '16505553301';
    const orderUpdate = { to: waId, template: { name: 'order_update', language: 'en_US', parameters: ['Ana', '#4411'] } };
    const post = (body: object) => gateway().post('/messages').set('X-API-Key', t.apiKey).send(body);
    const read = (id: string) => gateway().get(`/messages/${id}`).set('X-API-Key', t.apiKey);
    const customer = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'Where is my order?' });
    expect((await bridge.meta.deliverWebhook({ url: `${gw}/webhook/meta/${t.tenantId}`, payload: customer, appSecret: t.appSecret, maxAttempts: 1 })).statuses).toEqual([200]);

    // Meta is down for the number: a text is retried at the head of the customer's lane, and an
    // order_update, accepted while approved, waits behind it.
    bridge.meta.setOutage(true, { phoneNumberId: t.phoneNumberId });
    const text = await post({ to: waId, text: 'We are looking into it.' });
    const queued = await post(orderUpdate);
    expect([text.status, queued.status]).toEqual([202, 202]);
    await eventually(() => bridge.meta.calls.some((c) => c.endpoint === 'messages' && c.phoneNumberId === t.phoneNumberId && c.injected), 10_000, 'the text refused by the outage');

    // Meta pauses order_update and says so on the platform-wide route, which routes it by WABA id.
    const paused = await bridge.meta.deliverTemplateStatus({ url: `${gw}/webhook/meta`, appSecret: t.appSecret, wabaId: t.wabaId, name: 'order_update', language: 'en_US', event: 'PAUSED', reason: 'LOW_QUALITY' });
    expect(paused.statuses).toEqual([200]);
    bridge.meta.setOutage(false, { phoneNumberId: t.phoneNumberId });

    // The text goes; the queued template is checked again at its turn and fails without a call to Meta.
    const failed = await eventually(async () => {
      const res = await read(queued.body.id);
      return res.body.status === 'failed' ? res.body : undefined;
    }, 10_000, 'the queued template failed');
    expect(failed.reason).toEqual({ code: 'TEMPLATE_NOT_APPROVED', message: expect.stringContaining('order_update (en_US) is PAUSED') });
    expect((await read(text.body.id)).body.status).toBe('sent');

    // The agent tries it from Genesys: a Failed receipt that says why.
    const reply = await bridge.genesys.agentReply({
      webhookUrl: `${gw}/webhook/genesys/${t.tenantId}`,
      secret: t.webhookSecret,
      integrationId: t.integrationId,
      to: waId,
      text: '/template order_update en_US\nAna\n#4411',
    });
    const receipt = await eventually(() => bridge.genesys.receipts(t.integrationId).find((r) => r.body.id === reply.id), 10_000, "the agent's receipt");
    expect(receipt.body).toMatchObject({
      status: 'Failed',
      isFinalReceipt: true,
      reasons: [{ code: 'MessageNotAllowed', message: expect.stringMatching(/^Template order_update \(en_US\) is PAUSED, not APPROVED/) }],
    });

    // The tenant API refuses it at once.
    const refused = await post(orderUpdate);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'TEMPLATE_NOT_APPROVED', message: expect.stringContaining('order_update (en_US) is PAUSED') });

    // Meta saw the text, and no template send at all (not even a refused one).
    expect(bridge.meta.sends(t.phoneNumberId).map((s) => s.body.type)).toEqual(['text']);
    expect(bridge.meta.calls.filter((c) => c.endpoint === 'messages' && c.phoneNumberId === t.phoneNumberId && !c.injected)).toHaveLength(1);
  });
});
