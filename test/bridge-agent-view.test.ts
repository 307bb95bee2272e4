import request from 'supertest';
import { buildFailedStatus, buildNumberChangeMessage, buildStatus, buildTextMessage, wamidOf, type MetaWebhookPayload } from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * What the agent sees in Genesys matches what happened on WhatsApp (issue #10, kind 6), through
 * the whole platform with the Meta and Genesys simulators: every part of a multi-part reply is
 * tracked, nothing is posted after a final receipt, no customer text is cut, a number change moves
 * the conversation, and a failure reads once, with Meta's own words.
 */
let bridge: Bridge;
let t: BridgeTenant;
let gateway: string;

beforeAll(async () => {
  bridge = await startBridge();
  gateway = bridge.sys.urls.gateway;
  t = await bridge.onboard();
});

afterAll(() => bridge.stop());

const metaWebhook = async (payload: MetaWebhookPayload) => {
  const res = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1 });
  expect(res.statuses).toEqual([200]);
};
const agentReply = (to: string, fields: { text?: string; content?: Parameters<Bridge['genesys']['agentReply']>[0]['content'] }) =>
  bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to, ...fields });
/** The customer writes first: an agent may answer free-form only inside their 24-hour window. */
const customerWrites = (waId: string) => metaWebhook(buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'hi' }));
const receiptsOf = (genesysMessageId: string) => bridge.genesys.receipts(t.integrationId).filter((r) => r.body.id === genesysMessageId);
const sendsTo = (waId: string) => bridge.meta.sends(t.phoneNumberId).filter((s) => s.body.to === waId);

/** Nothing of the tenant is left to deliver (every status and receipt job has run). */
const drained = () =>
  eventually(async () => {
    const [row] = await ownerQuery<{ n: number }>(bridge.sys.tdb, `SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1 AND state = 'pending'`, [t.tenantId]);
    return row.n === 0;
  }, 10_000, 'the queue drained');

describe('a reply sent in several parts', () => {
  it('is tracked part by part: a failed audio part reaches the agent as a Failed receipt naming it', async () => {
    const waId = '16505551001';
    await customerWrites(waId);
    const reply = await agentReply(waId, {
      text: 'Here is the recording you asked for.',
      content: [{ contentType: 'Attachment', attachment: { mediaType: 'Audio', url: 'https://cdn.example.com/note.ogg', mime: 'audio/ogg', filename: 'note.ogg' } }],
    });
    const sends = await eventually(() => (sendsTo(waId).length === 2 ? sendsTo(waId) : undefined), 10_000, 'two sends');
    expect(sends.map((s) => s.body.type)).toEqual(['text', 'audio']);

    // The text arrives; the audio fails at Meta (media upload error).
    await metaWebhook(buildStatus({ phoneNumberId: t.phoneNumberId, wamid: sends[0].wamid, status: 'delivered', recipientId: waId }));
    await metaWebhook(
      buildFailedStatus({
        phoneNumberId: t.phoneNumberId,
        wamid: sends[1].wamid,
        recipientId: waId,
        errorCode: 131053,
        errorTitle: 'Media upload error',
        errorDetails: 'Unable to download the media from the link provided.',
      }),
    );
    const failed = await eventually(() => receiptsOf(reply.id).find((r) => r.body.status === 'Failed'), 10_000, 'a Failed receipt');
    expect(failed.body).toMatchObject({
      isFinalReceipt: true,
      channel: { to: { id: waId } },
      reasons: [
        {
          code: 'MediaTypeNotAllowed',
          message: 'Part 2 of 2 (audio): Media upload error: Unable to download the media from the link provided. (Meta #131053)',
        },
      ],
    });
    await drained();
    const [row] = await ownerQuery<{ status: string; error_code: string }>(
      bridge.sys.tdb,
      'SELECT status, error_code FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2',
      [t.tenantId, reply.id],
    );
    expect(row).toEqual({ status: 'failed', error_code: 'MediaTypeNotAllowed' });
  });
});

describe('receipts', () => {
  it('sent, read, then a late delivered: one final Delivered, nothing after it', async () => {
    const waId = '16505551002';
    await customerWrites(waId);
    const reply = await agentReply(waId, { text: 'Your order shipped.' });
    const [sent] = await eventually(() => (sendsTo(waId).length ? sendsTo(waId) : undefined), 10_000, 'the send');
    await eventually(async () => {
      const [row] = await ownerQuery<{ wamid: string }>(bridge.sys.tdb, 'SELECT wamid FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2', [t.tenantId, reply.id]);
      return row?.wamid === sent.wamid;
    }, 10_000, 'the send recorded');
    const base = Math.floor(Date.now() / 1000);
    for (const [status, ts] of [['sent', base], ['read', base + 2], ['delivered', base + 1]] as const) {
      await metaWebhook(buildStatus({ phoneNumberId: t.phoneNumberId, wamid: sent.wamid, status, recipientId: waId, timestamp: ts }));
      await drained();
    }
    expect(receiptsOf(reply.id).map((r) => [r.body.status, r.body.isFinalReceipt])).toEqual([['Delivered', true]]);
    const [row] = await ownerQuery<{ status: string }>(bridge.sys.tdb, 'SELECT status FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2', [t.tenantId, reply.id]);
    expect(row.status).toBe('read');
  });

  it('a refused send reads once, with Meta’s title and details and the code', async () => {
    const waId = '16505551003';
    await customerWrites(waId);
    bridge.meta.failNext(1, {
      code: 131047,
      phoneNumberId: t.phoneNumberId,
      details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
    });
    const reply = await agentReply(waId, { text: 'Are you still there?' });
    const receipt = await eventually(() => receiptsOf(reply.id)[0], 10_000, 'the Failed receipt');
    expect(receipt.body.reasons).toEqual([
      {
        code: 'MessageExpired',
        message: 'Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number. (Meta #131047)',
      },
    ]);
  });
});

describe('a customer’s longest message', () => {
  it('reaches Genesys whole: in ordered parts, each its own message, none cut inside a character', async () => {
    const waId = '16505551004';
    const unit = 'שלום! مرحبا 👋🏽 family 👨‍👩‍👧‍👦 flag 🇮🇱 ';
    let body = '';
    while (body.length + unit.length <= 4096) body += unit;
    body += 'x'.repeat(4096 - body.length);
    expect(body).toHaveLength(4096);
    const inbound = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body });
    await metaWebhook(inbound);

    const wamid = wamidOf(inbound);
    const parts = await eventually(() => {
      const got = bridge.genesys.messages(t.integrationId).filter((m) => m.body.channel.messageId?.startsWith(wamid));
      return got.length >= 2 ? got : undefined;
    }, 10_000, 'the parts at Genesys');
    await drained();
    const all = bridge.genesys.messages(t.integrationId).filter((m) => m.body.channel.messageId?.startsWith(wamid));
    expect(all).toHaveLength(parts.length);
    const texts = all.map((m) => m.body.text ?? '');
    // Every character of every part is one the customer wrote, whole (no half of a surrogate
    // pair, no piece of an emoji sequence or flag).
    const graphemes = (s: string) => [...new Intl.Segmenter().segment(s)].map((g) => g.segment);
    const written = new Set(graphemes(body));
    for (const text of texts) {
      expect(text.length).toBeLessThanOrEqual(4000);
      expect(graphemes(text).filter((g) => !written.has(g))).toEqual([]);
    }
    expect(texts.join('').replace(/\s/g, '')).toBe(body.replace(/\s/g, ''));
    expect(texts.join('')).not.toContain('…');
    expect(new Set(all.map((m) => m.body.channel.messageId)).size).toBe(all.length);
    expect(new Set(all.map((m) => m.conversationId)).size).toBe(1);
    const times = all.map((m) => Date.parse(m.body.channel.time));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    const [row] = await ownerQuery<{ status: string }>(bridge.sys.tdb, 'SELECT status FROM message_tracking WHERE tenant_id = $1 AND wamid = $2', [t.tenantId, wamid]);
    expect(row.status).toBe('delivered');
  });
});

describe('a customer who changes number', () => {
  it('keeps the conversation: the agent is told with both numbers, replies go to the new number, the same Genesys thread continues', async () => {
    const oldWaId = '16505551005';
    const newWaId = '16505551006';
    const first = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: oldWaId, profileName: 'Dana', body: 'hello from my old phone' });
    await metaWebhook(first);
    const atGenesys = await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(first)), 10_000, 'the first message');
    const conversationId = atGenesys.conversationId;

    const change = buildNumberChangeMessage({ phoneNumberId: t.phoneNumberId, from: oldWaId, profileName: 'Dana', newWaId });
    await metaWebhook(change);
    const notice = await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(change)), 10_000, 'the notice');
    expect(notice.conversationId).toBe(conversationId);
    expect(notice.body.channel.metadata?.customAttributes).toMatchObject({ waId: newWaId, previousWaId: oldWaId });

    // Genesys still addresses the customer by the id it knows; WhatsApp gets the new number.
    await agentReply(oldWaId, { text: 'Noted, thanks!' });
    const sent = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => s.body.text?.body === 'Noted, thanks!'), 10_000, 'the reply');
    expect(sent.body.to).toBe(newWaId);

    const later = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: newWaId, profileName: 'Dana', body: 'writing from my new phone' });
    await metaWebhook(later);
    const next = await eventually(() => bridge.genesys.messages(t.integrationId).find((m) => m.body.channel.messageId === wamidOf(later)), 10_000, 'the next message');
    expect(next.conversationId).toBe(conversationId);
    expect(next.body.channel.from.id).toBe(oldWaId);
    expect(next.body.channel.metadata?.customAttributes).toMatchObject({ waId: newWaId, previousWaId: oldWaId });

    const mapping = await request(gateway).get(`/state/mapping/${newWaId}`).set('X-API-Key', t.apiKey);
    expect(mapping.status).toBe(200);
    expect(mapping.body).toMatchObject({ waId: newWaId, conversationId });
  });
});
