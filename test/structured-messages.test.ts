import { buildButtonReplyMessage, buildListReplyMessage, buildTextMessage, validateSendBody, wamidOf, type MetaWebhookPayload } from '@bridge/simulators';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';
import { ownerQuery } from './support/db';

/**
 * A Genesys bot's quick replies through the whole platform: the bot's Structured message reaches
 * the Meta simulator (which refuses any interactive body over WhatsApp's limits) as reply buttons,
 * a list or a numbered text, and the customer's tap or typed number reaches the Genesys simulator
 * as the option's title, with its payload in the custom attributes for the bot flow to branch on.
 */
let bridge: Bridge;
let t: BridgeTenant;
let gateway: string;

beforeAll(async () => {
  bridge = await startBridge({ env: { DELIVERY_RETRY_BUDGET_MS: '3000' } });
  gateway = bridge.sys.urls.gateway;
  t = await bridge.onboard();
});

afterAll(() => bridge.stop());

const metaWebhook = (payload: MetaWebhookPayload) =>
  bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1 });

const botMessage = (to: string, text: string, options: Array<[string, string]>) =>
  bridge.genesys.agentReply({
    webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`,
    secret: t.webhookSecret,
    integrationId: t.integrationId,
    to,
    type: 'Structured',
    originatingEntity: 'Bot',
    text,
    content: options.map(([title, payload]) => ({ contentType: 'QuickReply', quickReply: { text: title, payload, action: 'Message' } })),
  });

describe('a bot’s quick replies, end to end', () => {
  it('reach WhatsApp as reply buttons or a list, and the customer’s choice reaches Genesys with its payload', async () => {
    const waId = '16505550177';
    const hello = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'Hi, I need help' });
    expect((await metaWebhook(hello)).statuses).toEqual([200]);
    await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(hello)), 10_000, 'Genesys inbound');

    // Three short options: reply buttons whose ids are the bot's payloads.
    const bot = await botMessage(waId, 'Is this about an order?', [
      ['Yes', 'intent.order'],
      ['No', 'intent.other'],
      ['Talk to a person', 'intent.agent'],
    ]);
    expect(bot.statuses).toEqual([200]);
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId && s.body.type === 'interactive'), 10_000, 'interactive send');
    expect(validateSendBody(sent.body as Record<string, unknown>)).toEqual([]);
    expect(sent.body.interactive).toEqual({
      type: 'button',
      body: { text: 'Is this about an order?' },
      action: {
        buttons: [
          { type: 'reply', reply: { id: 'intent.order', title: 'Yes' } },
          { type: 'reply', reply: { id: 'intent.other', title: 'No' } },
          { type: 'reply', reply: { id: 'intent.agent', title: 'Talk to a person' } },
        ],
      },
    });

    // The customer taps "Talk to a person" on that message.
    const tap = buildButtonReplyMessage({
      phoneNumberId: t.phoneNumberId,
      from: waId,
      replyId: 'intent.agent',
      title: 'Talk to a person',
      context: { from: '15550000000', id: sent.wamid },
    });
    expect((await metaWebhook(tap)).statuses).toEqual([200]);
    const answer = await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(tap)), 10_000, 'the choice at Genesys');
    expect(answer.body.text).toBe('Talk to a person');
    expect(answer.body.channel.metadata?.customAttributes).toMatchObject({
      tenantId: t.tenantId,
      replyType: 'button_reply',
      replyId: 'intent.agent',
      replyPayload: 'intent.agent',
      replyTo: sent.wamid,
    });

    // Five options: a list; the row chosen comes back the same way.
    const topics: Array<[string, string]> = ['Billing', 'Delivery', 'Returns', 'Warranty', 'Something else'].map((title) => [title, `topic.${title.toLowerCase()}`]);
    await botMessage(waId, 'Which topic?', topics);
    const listSend = await eventually(
      () => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId && (s.body.interactive as { type?: string } | undefined)?.type === 'list'),
      10_000,
      'list send',
    );
    expect(validateSendBody(listSend.body as Record<string, unknown>)).toEqual([]);
    const rows = (listSend.body.interactive as { action: { sections: Array<{ rows: Array<{ id: string; title: string }> }> } }).action.sections[0].rows;
    expect(rows).toEqual(topics.map(([title, payload]) => ({ id: payload, title })));

    const pick = buildListReplyMessage({ phoneNumberId: t.phoneNumberId, from: waId, replyId: rows[3].id, title: rows[3].title, context: { id: listSend.wamid } });
    expect((await metaWebhook(pick)).statuses).toEqual([200]);
    const picked = await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(pick)), 10_000, 'the row at Genesys');
    expect(picked.body.text).toBe('Warranty');
    expect(picked.body.channel.metadata?.customAttributes).toMatchObject({ replyType: 'list_reply', replyId: 'topic.warranty', replyPayload: 'topic.warranty' });
  }, 60_000);
});

/** Delivers a customer's message; its text and custom attributes once Genesys has it. */
async function atGenesys(payload: MetaWebhookPayload, what: string) {
  expect((await metaWebhook(payload)).statuses).toEqual([200]);
  const got = await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(payload)), 10_000, what);
  return { text: got.body.text, attributes: got.body.channel.metadata?.customAttributes ?? {} };
}

/**
 * The bot message recorded as sent, with the choices it offered: a customer cannot answer a
 * message before Meta delivered it, which is after that record; a test can, so it waits for it.
 */
const recorded = (genesysMessageId: string) =>
  eventually(
    async () => {
      const [row] = await ownerQuery<{ status: string }>(bridge.sys.tdb, 'SELECT status FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2', [
        t.tenantId,
        genesysMessageId,
      ]);
      return row && row.status !== 'pending' ? row : undefined;
    },
    10_000,
    'the bot message recorded as sent',
  );

describe('a bot’s choices beyond WhatsApp’s limits, end to end', () => {
  it('twelve options: a numbered text; the customer’s “3” reaches Genesys as the third option with its payload; another customer’s “3” stays “3”', async () => {
    const waId = '16505550178';
    const other = '16505550179';
    await atGenesys(buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'Hi' }), 'the first message');
    const options: Array<[string, string]> = Array.from({ length: 12 }, (_, i) => [`Store ${i + 1}`, `store-${i + 1}`]);
    const bot = await botMessage(waId, 'Which store?', options);
    expect(bot.statuses).toEqual([200]);
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId && s.body.type === 'text'), 10_000, 'numbered text');
    expect(validateSendBody(sent.body as Record<string, unknown>)).toEqual([]);
    const body = (sent.body.text as { body: string }).body;
    expect(body).toContain('Which store?');
    for (const [i, [title]] of options.entries()) expect(body).toContain(`${i + 1}. ${title}`);
    await recorded(bot.id);

    const three = await atGenesys(buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: '3' }), 'the typed number');
    expect(three.text).toBe('Store 3');
    expect(three.attributes).toMatchObject({ tenantId: t.tenantId, replyType: 'typed_number', replyId: 'store-3', replyPayload: 'store-3', typedText: '3' });

    const elsewhere = await atGenesys(buildTextMessage({ phoneNumberId: t.phoneNumberId, from: other, body: '3' }), 'another customer’s number');
    expect(elsewhere.text).toBe('3');
    expect(elsewhere.attributes.replyPayload).toBeUndefined();
  }, 60_000);

  it('a list whose payloads cannot be ids: rows `option-<n>`, and the row chosen reaches Genesys with the original payload', async () => {
    const waId = '16505550180';
    await atGenesys(buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'Hello' }), 'the first message');
    const long = `{"intent":"returns","note":"${'r'.repeat(220)}"}`;
    const bot = await botMessage(waId, 'What is it about?', [
      ['Billing', 'same-payload'],
      ['Delivery', 'same-payload'],
      ['Returns', long],
      ['Warranty', 'topic.warranty'],
    ]);
    const listSend = await eventually(
      () => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.to === waId && (s.body.interactive as { type?: string } | undefined)?.type === 'list'),
      10_000,
      'list send',
    );
    expect(validateSendBody(listSend.body as Record<string, unknown>)).toEqual([]);
    const rows = (listSend.body.interactive as { action: { sections: Array<{ rows: Array<{ id: string; title: string }> }> } }).action.sections[0].rows;
    expect(rows.map((r) => r.id)).toEqual(['option-1', 'option-2', 'option-3', 'topic.warranty']);
    await recorded(bot.id);

    const pick = (row: { id: string; title: string }) =>
      buildListReplyMessage({ phoneNumberId: t.phoneNumberId, from: waId, replyId: row.id, title: row.title, context: { from: '15550000000', id: listSend.wamid } });
    const returns = await atGenesys(pick(rows[2]), 'the row with a long payload');
    expect(returns.text).toBe('Returns');
    expect(returns.attributes).toMatchObject({ replyType: 'list_reply', replyId: 'option-3', replyPayload: long, replyTo: listSend.wamid });
    expect((await atGenesys(pick(rows[1]), 'a row with a shared payload')).attributes).toMatchObject({ replyId: 'option-2', replyPayload: 'same-payload' });
  }, 60_000);
});
