import { buildStatus, buildTextMessage, wamidOf, type MetaTemplateOptions } from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Agent replies and WhatsApp's 24-hour window (issue #11), end to end through the Genesys and
 * Meta simulators, the Meta simulator enforcing the window as Meta does (a free-form send to a
 * customer who has not written for 24 h → 131047): the bridge decides before calling Meta, by the
 * customer's last message (Meta's `timestamp`) and the tenant's policy; the agent's `/template`
 * command is checked against the tenant's catalogue first; every refusal reaches the agent as a
 * Failed receipt with its reason.
 */
let bridge: Bridge;
let gateway: string;

const HOUR = 3_600_000;
const MINUTE = 60_000;

beforeAll(async () => {
  bridge = await startBridge();
  gateway = bridge.sys.urls.gateway;
  bridge.meta.setWindowEnforcement(true);
});

afterAll(() => bridge.stop());

/** The tenant's WABA templates, in the Meta simulator and, as a sync stores them, in its catalogue. */
const TEMPLATES: Array<Omit<MetaTemplateOptions, 'wabaId'>> = [
  {
    name: 'order_update',
    language: 'en_US',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
      { type: 'BODY', text: 'Hi {{1}}, your order has shipped.' },
      { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Track it', url: 'https://shop.example.com/track/{{1}}' }] },
    ],
  },
  { name: 'order_update', language: 'es', body: 'Hola {{1}}, tu pedido ha salido.' },
  { name: 'spring_sale', language: 'en_US', category: 'MARKETING', status: 'PAUSED', body: 'Spring sale: {{1}} off.' },
  { name: 'reopen', language: 'en_US', body: '{{1}}' },
];

/** A tenant whose number belongs to a WABA with TEMPLATES at Meta, its catalogue synced from there. */
const onboardWithTemplates = () => bridge.onboard({ templates: TEMPLATES });

/** The customer `waId` writes, `ago` ms ago (Meta's `timestamp`): the webhook is stored (and the simulator knows the window). */
async function customerWrote(t: BridgeTenant, waId: string, ago: number, body = 'hello') {
  const inbound = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body, timestamp: new Date(Date.now() - ago) });
  const res = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload: inbound, appSecret: t.appSecret, maxAttempts: 1 });
  expect(res.statuses).toEqual([200]);
  return inbound;
}

const agentReply = (t: BridgeTenant, to: string, text: string, content?: Parameters<Bridge['genesys']['agentReply']>[0]['content']) =>
  bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to, text, content });

const receiptOf = (t: BridgeTenant, genesysMessageId: string) =>
  eventually(() => bridge.genesys.receipts(t.integrationId).find((r) => r.body.id === genesysMessageId), 10_000, `the receipt of ${genesysMessageId}`);

/** Every call to Meta's messages endpoint for the tenant's number (accepted or not). */
const messageCalls = (t: BridgeTenant) => bridge.meta.calls.filter((c) => c.endpoint === 'messages' && c.phoneNumberId === t.phoneNumberId).length;

const tracked = async (t: BridgeTenant, genesysMessageId: string) =>
  (
    await ownerQuery<{ status: string; error_code: string | null; job_state: string | null; attempts: number | null }>(
      bridge.sys.tdb,
      `SELECT m.status, m.error_code, o.state AS job_state, o.attempts
         FROM message_tracking m LEFT JOIN outbox o ON o.tenant_id = m.tenant_id AND o.message_id = m.id
        WHERE m.tenant_id = $1 AND m.genesys_message_id = $2`,
      [t.tenantId, genesysMessageId],
    )
  )[0];

describe('the window, under the default policy (reject)', () => {
  let t: BridgeTenant;
  beforeAll(async () => {
    t = await onboardWithTemplates();
  });

  it('a reply 23 h 59 min after the customer’s last message goes out as text', async () => {
    const waId = '16505552001';
    await customerWrote(t, waId, 23 * HOUR + 59 * MINUTE);
    await agentReply(t, waId, 'Sorry for the wait: it is in stock.');
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId), 10_000, 'the send');
    expect(sent.body).toMatchObject({ type: 'text', text: { body: 'Sorry for the wait: it is in stock.' } });
  });

  it('a reply at 24 h 01 min is refused without calling Meta: the agent reads when the window closed and how to send a template; the template then goes, and the customer answers', async () => {
    const waId = '16505552002';
    await customerWrote(t, waId, 24 * HOUR + MINUTE);
    const [{ lastAt }] = await ownerQuery<{ lastAt: Date }>(bridge.sys.tdb, 'SELECT last_inbound_at AS "lastAt" FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2', [
      t.tenantId,
      waId,
    ]);
    const calls = messageCalls(t);

    const reply = await agentReply(t, waId, 'Good morning! Still interested?');
    const receipt = await receiptOf(t, reply.id);
    expect(receipt.body).toMatchObject({ status: 'Failed', isFinalReceipt: true, channel: { to: { id: waId } } });
    expect(receipt.body.reasons).toEqual([
      {
        code: 'MessageExpired',
        message:
          `The customer's 24-hour window closed on ${new Date(lastAt.getTime() + 24 * HOUR).toISOString()} (their last message was at ${lastAt.toISOString()}); ` +
          'WhatsApp only lets you send an approved template now: write "/template <name> <language>" on the first line, then one parameter per line. ' +
          'Approved templates: order_update (en_US): 3 parameter(s); order_update (es): 1 parameter(s); reopen (en_US): 1 parameter(s).',
      },
    ]);
    expect(messageCalls(t)).toBe(calls);
    // Failed for good at the first attempt: not retried.
    expect(await tracked(t, reply.id)).toEqual({ status: 'failed', error_code: 'WINDOW_CLOSED', job_state: 'failed', attempts: 1 });

    // The lane goes on: the agent sends the template the receipt named.
    const template = await agentReply(t, waId, '/template order_update en_US\n#4411\nAna\n4411');
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId), 10_000, 'the template send');
    expect(sent.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: waId,
      type: 'template',
      template: {
        name: 'order_update',
        language: { code: 'en_US' },
        components: [
          { type: 'header', parameters: [{ type: 'text', text: '#4411' }] },
          { type: 'body', parameters: [{ type: 'text', text: 'Ana' }] },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: '4411' }] },
        ],
      },
    });
    expect(sent.template).toMatchObject({ name: 'order_update', header: 'Order #4411', body: 'Hi Ana, your order has shipped.' });
    await eventually(async () => (await tracked(t, template.id))?.status === 'sent', 10_000, 'the template send recorded');
    await bridge.meta.deliverWebhook({
      url: `${gateway}/webhook/meta/${t.tenantId}`,
      payload: buildStatus({ phoneNumberId: t.phoneNumberId, wamid: sent.wamid, status: 'delivered', recipientId: waId }),
      appSecret: t.appSecret,
      maxAttempts: 1,
    });
    expect((await receiptOf(t, template.id)).body).toMatchObject({ status: 'Delivered' });

    // The customer answers: their window is open again, and free text goes.
    const answer = await customerWrote(t, waId, 0, 'Yes please!');
    await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(answer)), 10_000, 'the answer at Genesys');
    await agentReply(t, waId, 'Great, it is on its way.');
    await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId && s.body.type === 'text'), 10_000, 'the free text after the answer');
  });

  let mistakes = 0;
  it.each([
    ['an unknown name: the reason lists the approved templates', '/template order_updat en_US\nAna', 'InvalidMessageStructure', /^No template named "order_updat"\. Approved templates: order_update \(en_US\): 3 parameter\(s\); /],
    ['a language it does not exist in', '/template order_update fr\nAna', 'InvalidMessageStructure', /^Template "order_update" has no fr version; it exists in: en_US, es\.$/],
    ['a paused template', '/template spring_sale en_US\n20%', 'MessageNotAllowed', /^Template spring_sale \(en_US\) is PAUSED, not APPROVED/],
    ['the wrong number of parameters', '/template order_update es\nAna\nextra', 'InvalidMessageStructure', /^Template order_update \(es\) takes 1 parameter\(s\) \(1 in the body\); 2 given\.$/],
    ['a malformed command', '/template order_update', 'InvalidMessageStructure', /^The template command needs a name and a language\. Write "\/template <name> <language>"/],
  ])('a template command with %s → its Failed reason, and no call to Meta', async (_case, text, code, message) => {
    const waId = `165055523${String(++mistakes).padStart(2, '0')}`;
    await customerWrote(t, waId, HOUR);
    const calls = messageCalls(t);
    const reply = await agentReply(t, waId, text);
    const receipt = await receiptOf(t, reply.id);
    expect(receipt.body).toMatchObject({ status: 'Failed', isFinalReceipt: true, reasons: [{ code, message: expect.stringMatching(message) }] });
    expect(messageCalls(t)).toBe(calls);
  });
});

describe('the window, under the `template` policy', () => {
  let t: BridgeTenant;
  beforeAll(async () => {
    t = await onboardWithTemplates();
    await bridge.sys.admin('patch', `/tenants/${t.tenantId}`).send({ windowPolicy: 'template', reopenTemplate: { name: 'reopen', language: 'en_US' } }).expect(200);
  });

  it('the agent’s free text after the window goes as the re-open template, which the customer reads as the agent wrote it', async () => {
    const waId = '16505552101';
    await customerWrote(t, waId, 26 * HOUR);
    const reply = await agentReply(t, waId, 'Good morning!\nYour jacket is back in stock.');
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId), 10_000, 'the re-open template send');
    expect(sent.body).toMatchObject({
      type: 'template',
      template: { name: 'reopen', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Good morning! Your jacket is back in stock.' }] }] },
    });
    expect(sent.template?.body).toBe('Good morning! Your jacket is back in stock.');
    await eventually(async () => (await tracked(t, reply.id))?.status === 'sent', 10_000, 'the send recorded');
    await bridge.meta.deliverWebhook({
      url: `${gateway}/webhook/meta/${t.tenantId}`,
      payload: buildStatus({ phoneNumberId: t.phoneNumberId, wamid: sent.wamid, status: 'read', recipientId: waId }),
      appSecret: t.appSecret,
      maxAttempts: 1,
    });
    expect((await receiptOf(t, reply.id)).body).toMatchObject({ status: 'Delivered', isFinalReceipt: true });
  });

  it('an attachment after the window is refused (MessageExpired) without calling Meta', async () => {
    const waId = '16505552102';
    await customerWrote(t, waId, 25 * HOUR);
    const calls = messageCalls(t);
    const reply = await agentReply(t, waId, 'our catalogue', [
      { contentType: 'Attachment', attachment: { mediaType: 'Image', url: 'https://cdn.example.com/catalogue.png', mime: 'image/png' } },
    ]);
    const receipt = await receiptOf(t, reply.id);
    expect(receipt.body.reasons).toEqual([{ code: 'MessageExpired', message: expect.stringContaining('WhatsApp takes no attachments now, only an approved template') }]);
    expect(messageCalls(t)).toBe(calls);
  });

  it('a re-open template that is not approved: refused without calling Meta, saying the setting is misconfigured and why', async () => {
    const other = await onboardWithTemplates();
    // The admin API refuses a paused re-open template (422): this is one paused after it was chosen.
    await ownerQuery(bridge.sys.tdb, `UPDATE tenants SET window_policy = 'template', reopen_template = $2 WHERE tenant_id = $1`, [
      other.tenantId,
      JSON.stringify({ name: 'spring_sale', language: 'en_US' }),
    ]);
    const waId = '16505552103';
    const calls = messageCalls(other);
    const reply = await agentReply(other, waId, 'Hello again');
    const receipt = await receiptOf(other, reply.id);
    expect(receipt.body.reasons).toEqual([
      {
        code: 'MessageExpired',
        message: expect.stringMatching(
          /^The customer has not written to this number, and this account's re-open template, which would carry your text, is misconfigured: Template spring_sale \(en_US\) is PAUSED/,
        ),
      },
    ]);
    expect(messageCalls(other)).toBe(calls);
  });
});

describe('the /template command as editors type it (issue #11, attack pass)', () => {
  it('typed with capitals and no-break spaces inside the window: sent as the template, never as text showing the command', async () => {
    const t = await onboardWithTemplates();
    const waId = '16505552101';
    await customerWrote(t, waId, HOUR);
    await agentReply(t, waId, '\u200b/Template\u00a0order_update\u00a0es\r\nAna');
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId), 10_000, 'the send');
    expect(sent.body).toMatchObject({ type: 'template', template: { name: 'order_update', language: { code: 'es' } } });
    expect(sent.template?.body).toBe('Hola Ana, tu pedido ha salido.');
    expect(bridge.meta.sends(t.phoneNumberId).filter((s) => s.body.to === waId)).toHaveLength(1);
  });
});
