import { buildButtonReplyMessage, buildListReplyMessage, buildTextMessage, validateSendBody, wamidOf, type MetaWebhookPayload } from '@bridge/simulators';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * A Genesys bot's quick replies through the whole platform: the bot's Structured message reaches
 * the Meta simulator (which refuses any interactive body over WhatsApp's limits) as reply buttons
 * or a list, and the customer's tap reaches the Genesys simulator as the option's title, with its
 * payload in the custom attributes for the bot flow to branch on.
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
