import request from 'supertest';
import { buildStatus, buildTextMessage, wamidOf, type MetaWebhookPayload } from '@bridge/simulators';
import { Database, replaceCatalogue, templateFromMeta, type Template } from '@bridge/shared';
import { ownerQuery } from './support/db';
import { uniqueNumericId } from './support/ids';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Customers without a phone number (WhatsApp usernames, business-scoped user ids) through the
 * whole platform, with the Meta simulator modelling them strictly: a username-only customer's
 * conversation end to end and its survival when their number shows; the one rule for customer
 * ids on every path (Meta's webhook, Genesys's outbound webhook, the tenant API), the longest
 * ids accepted and malformed ones refused; 131062.
 */
let bridge: Bridge;
let gateway: string;
let db: Database;
let t: BridgeTenant;

/** The longest ids the rule admits: `CC.` + 128, and a parent BSUID `CC.ENT.` + 128. */
const MAX_BSUID = `US.${'a1B2c3D4'.repeat(16)}`;
const MAX_PARENT = `US.ENT.${'7'.repeat(128)}`;
const MALFORMED: Array<[string, string]> = [
  ['a lower-case country code', 'us.13491208655302741918'],
  ['a BSUID one character too long', `US.${'a'.repeat(129)}`],
  ['a hyphen', 'US.1349-1208'],
  ['a number with + and spaces', '+1 650 555'],
];

beforeAll(async () => {
  bridge = await startBridge({ env: { DELIVERY_RETRY_BUDGET_MS: '5000' } });
  gateway = bridge.sys.urls.gateway;
  db = new Database({ connectionString: bridge.sys.tdb.appUrl });
  t = await bridge.onboard();
  // A WABA with one utility template (in the tenant's catalogue too), for proactive messages.
  const wabaId = uniqueNumericId();
  bridge.meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: t.accessToken, wabaId });
  const added = bridge.meta.addTemplate({ wabaId, name: 'order_update', language: 'en_US', body: 'Your order {{1}} has shipped.' });
  await db.withTenant(t.tenantId, (q) => replaceCatalogue(q, t.tenantId, wabaId, [templateFromMeta(added) as Template]));
});
afterAll(async () => {
  await db.close();
  await bridge.stop();
});
beforeEach(() => bridge.meta.setBsuidRecipients(true));

const metaWebhook = (payload: MetaWebhookPayload | string) =>
  bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1 });
const agentReply = (to: string, text: string) =>
  bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to, text });
const atGenesys = (wamid: string) => eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamid), 10_000, `${wamid} at Genesys`);
const sendOf = (text: string) => eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.text?.body === text), 10_000, `"${text}" at Meta`);
const api = (method: 'get' | 'post', path: string) => request(gateway)[method](path).set('X-API-Key', t.apiKey);
const receiptsOf = (genesysMessageId: string) => bridge.genesys.receipts(t.integrationId).filter((r) => r.body.id === genesysMessageId);

/** A customer writes: only their BSUID (and username) when `phone` is null. Returns the message as Genesys got it. */
async function customerWrites(o: { userId: string; phone?: string | null; username?: string; profileName?: string | null; body: string }) {
  const payload = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: o.phone ?? null, userId: o.userId, username: o.username, profileName: o.profileName, body: o.body });
  expect((await metaWebhook(payload)).statuses).toEqual([200]);
  return atGenesys(wamidOf(payload));
}

/** The wamid of the agent message `genesysMessageId` once recorded sent. */
const wamidRecorded = (genesysMessageId: string) =>
  eventually(async () => {
    const [row] = await ownerQuery<{ wamid: string | null }>(bridge.sys.tdb, 'SELECT wamid FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2', [t.tenantId, genesysMessageId]);
    return row?.wamid ?? undefined;
  }, 10_000, 'wamid recorded');

describe('a username-only customer, end to end', () => {
  const BSUID = 'US.13491208655302741918';
  const PHONE = '16505559001';

  it('inbound as Opaque with the username as nickname → reply sent to recipient → delivered with recipient_user_id → Delivered receipt; showing their number later, the same conversation', async () => {
    const first = await customerWrites({ userId: BSUID, username: 'sheena.nelson', profileName: 'Sheena Nelson', body: 'Does it come in another color?' });
    expect(first.body.channel.from).toEqual({ id: BSUID, idType: 'Opaque', nickname: 'sheena.nelson', firstName: 'Sheena', lastName: 'Nelson' });
    expect(first.body.channel.metadata?.customAttributes).toMatchObject({ waUserId: BSUID, waUsername: 'sheena.nelson' });

    // The agent answers the id Genesys knows: the send names the BSUID in recipient, never in to.
    const reply = await agentReply(BSUID, 'Yes: red, green and blue.');
    expect(reply.statuses).toEqual([200]);
    const sent = await sendOf('Yes: red, green and blue.');
    expect(sent.body.recipient).toBe(BSUID);
    expect(sent.body).not.toHaveProperty('to');
    expect(await wamidRecorded(reply.id)).toBe(sent.wamid);

    // Meta reports delivered with recipient_user_id and no recipient_id: a Delivered receipt, Opaque.
    const delivered = buildStatus({ phoneNumberId: t.phoneNumberId, wamid: sent.wamid, status: 'delivered', recipientId: null, recipientUserId: BSUID, username: 'sheena.nelson' });
    expect((await metaWebhook(delivered)).statuses).toEqual([200]);
    const [receipt] = await eventually(() => (receiptsOf(reply.id).length ? receiptsOf(reply.id) : undefined), 10_000, 'Delivered receipt');
    expect(receipt.body).toMatchObject({ status: 'Delivered', direction: 'Outbound', channel: { to: { id: BSUID, idType: 'Opaque' } } });

    // The tenant API knows them by either id.
    const mapping = await api('get', `/state/mapping/${BSUID}`);
    expect(mapping.status).toBe(200);
    expect(mapping.body).toMatchObject({ waId: BSUID, userId: BSUID, phone: null, username: 'sheena.nelson', conversationId: first.conversationId });

    // Later they write showing their number: the same mapping, the same Genesys id and conversation.
    const later = await customerWrites({ userId: BSUID, phone: PHONE, username: 'sheena.nelson', profileName: 'Sheena Nelson', body: 'Here is my number' });
    expect(later.body.channel.from).toMatchObject({ id: BSUID, idType: 'Opaque' });
    expect(later.body.channel.metadata?.customAttributes).toMatchObject({ waId: PHONE });
    expect(later.conversationId).toBe(first.conversationId);
    const byPhone = await api('get', `/state/mapping/${PHONE}`);
    expect(byPhone.body).toMatchObject({ waId: BSUID, userId: BSUID, phone: PHONE, conversationId: first.conversationId });
    const [{ n }] = await ownerQuery<{ n: string }>(bridge.sys.tdb, 'SELECT count(*) AS n FROM conversation_mappings WHERE tenant_id = $1 AND (wa_id = $2 OR phone = $3)', [
      t.tenantId,
      BSUID,
      PHONE,
    ]);
    expect(Number(n)).toBe(1);
    // And again without it: still the same.
    const hidden = await customerWrites({ userId: BSUID, username: 'sheena.nelson', body: 'Number hidden again' });
    expect(hidden.conversationId).toBe(first.conversationId);

    // With their number known, the agent's next reply goes to it (to), as Meta recommends.
    await agentReply(BSUID, 'Thanks, noted.');
    const second = await sendOf('Thanks, noted.');
    expect(second.body.to).toBe(PHONE);
    expect(second.body).not.toHaveProperty('recipient');

    // Their messages, listed by either id, are the same ones.
    const byBsuid = await api('get', `/state/messages?waId=${BSUID}`);
    const byNumber = await api('get', `/state/messages?waId=${PHONE}`);
    expect(byBsuid.status).toBe(200);
    expect(byBsuid.body.messages.length).toBe(5);
    // The same messages (the last reply may move from pending to sent between the two reads).
    const ids = (r: { body: { messages: Array<{ id: string; direction: string; waId: string }> } }) => r.body.messages.map((m) => [m.id, m.direction, m.waId]);
    expect(ids(byNumber)).toEqual(ids(byBsuid));
  });
});

describe('the one rule for customer ids, on every path', () => {
  it.each([
    ['a BSUID of the maximum length', MAX_BSUID],
    ['a parent BSUID of the maximum length', MAX_PARENT],
  ])('%s: accepted inbound, the agent’s reply to it sent (recipient), and by the tenant API', async (_name, id) => {
    const inbound = await customerWrites({ userId: id, body: `hello from ${id.slice(0, 10)}` });
    expect(inbound.body.channel.from).toMatchObject({ id, idType: 'Opaque' });

    const text = `reply to ${id.slice(0, 10)}…`;
    const reply = await agentReply(id, text);
    expect(reply.statuses).toEqual([200]);
    const sent = await sendOf(text);
    expect(sent.body.recipient).toBe(id);

    const mapping = await api('post', '/state/mapping').send({ waId: id, contactName: 'Long Id' });
    expect(mapping.status).toBe(200);
    expect(mapping.body).toMatchObject({ waId: id, userId: id, contactName: 'Long Id' });
    expect((await api('get', `/state/mapping/${id}`)).body.waId).toBe(id);
    const listed = await api('get', `/state/messages?waId=${id}`);
    expect(listed.status).toBe(200);
    expect(listed.body.messages).toHaveLength(2);

    // A proactive message to it: accepted, sent to recipient, in the customer's outbound lane.
    const proactive = await api('post', '/messages').send({ to: id, template: { name: 'order_update', language: 'en_US', parameters: ['#7'] } });
    expect(proactive.status).toBe(202);
    expect(proactive.body.to).toBe(id);
    const template = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.type === 'template' && s.body.recipient === id), 10_000, 'template at Meta');
    expect(template.body).not.toHaveProperty('to');
  });

  it('a new customer created through the tenant API by BSUID is keyed by it', async () => {
    const id = 'BR.1502576394655843';
    const created = await api('post', '/state/mapping').send({ waId: id });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ waId: id, userId: id, phone: null });
  });

  it.each(MALFORMED)('%s: refused with 400 by Meta’s webhook and the tenant API', async (_name, id) => {
    // Meta's webhook: a sender id that is not a customer id is an invalid payload.
    const raw = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: null, userId: 'US.1', body: 'x' });
    raw.entry[0].changes[0].value.messages![0].from_user_id = id;
    raw.entry[0].changes[0].value.contacts![0].user_id = id;
    const inbound = await metaWebhook(raw);
    expect(inbound.statuses).toEqual([400]);
    expect(JSON.parse(inbound.attempts[0].responseBody ?? '{}').error?.code).toBe('INVALID_PAYLOAD');

    const posted = await api('post', '/state/mapping').send({ waId: id });
    expect({ status: posted.status, code: posted.body.error?.code }).toEqual({ status: 400, code: 'VALIDATION_ERROR' });
    expect(posted.body.error.message).toContain('waId');
    const listed = await api('get', `/state/messages?waId=${encodeURIComponent(id)}`);
    expect({ status: listed.status, code: listed.body.error?.code }).toEqual({ status: 400, code: 'VALIDATION_ERROR' });
    const proactive = await api('post', '/messages').send({ to: id, template: { name: 'order_update', language: 'en_US', parameters: ['#7'] } });
    expect({ status: proactive.status, code: proactive.body.error?.code }).toEqual({ status: 400, code: 'VALIDATION_ERROR' });
    expect(proactive.body.error.message).toContain('to');
  });

  it.each(MALFORMED)(
    '%s: Genesys’s outbound webhook records it rejected (2xx, as Genesys requires) and tells the agent with a Failed receipt; nothing is sent',
    async (_name, id) => {
      const text = `to a malformed id ${id.length}`;
      const reply = await agentReply(id, text);
      expect(reply.statuses).toEqual([200]);
      const receipt = await eventually(() => receiptsOf(reply.id)[0], 10_000, 'Failed receipt');
      expect(receipt.body).toMatchObject({ status: 'Failed', isFinalReceipt: true, channel: { to: { id } } });
      expect(receipt.body.reasons?.[0].message).toContain('channel.to.id');
      expect(bridge.meta.sends(t.phoneNumberId).some((s) => s.body.text?.body === text)).toBe(false);
    },
  );
});

describe('131062: a message a BSUID cannot receive', () => {
  it('the agent’s reply refused by Meta with 131062 → a Failed receipt saying why, not retried', async () => {
    const id = 'US.62000000000000000001';
    await customerWrites({ userId: id, username: 'no.phone', body: 'hi' });
    bridge.meta.setBsuidRecipients(false);
    const reply = await agentReply(id, 'Your code is 123456');
    const receipt = await eventually(() => receiptsOf(reply.id)[0], 10_000, 'Failed receipt');
    expect(receipt.body).toMatchObject({ status: 'Failed', isFinalReceipt: true, channel: { to: { id, idType: 'Opaque' } } });
    expect(receipt.body.reasons).toEqual([{ code: 'UnsupportedMessage', message: expect.stringContaining('(Meta #131062)') }]);
    expect(receipt.body.reasons![0].message).toContain('Business-scoped User ID recipients are not supported');
    const refusals = bridge.meta.calls.filter((c) => c.recipient === id && c.errorCode === 131062);
    expect(refusals).toHaveLength(1);
    const [row] = await ownerQuery<{ status: string; error_code: string }>(bridge.sys.tdb, 'SELECT status, error_code FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2', [
      t.tenantId,
      reply.id,
    ]);
    expect(row).toEqual({ status: 'failed', error_code: '131062' });
  });
});
