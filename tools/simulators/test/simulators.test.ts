import { createHmac, createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { post, startReceiver, type Receiver } from './helpers';
import {
  batch,
  buildAudioMessage,
  buildButtonMessage,
  buildButtonReplyMessage,
  buildContactsMessage,
  buildDocumentMessage,
  buildFailedStatus,
  buildImageMessage,
  buildListReplyMessage,
  buildLocationMessage,
  buildNumberChangeMessage,
  buildReactionMessage,
  buildStatus,
  buildStickerMessage,
  buildTextMessage,
  buildUnsupportedMessage,
  buildVideoMessage,
  metaSerialize,
  signGenesys,
  signMeta,
  startGenesysSimulator,
  startMetaSimulator,
  wamidOf,
  type GenesysSimulator,
  type MetaSimulator,
  type MetaWebhookPayload,
} from '@bridge/simulators';

// ================================================================================================
describe('Genesys simulator', () => {
  let sim: GenesysSimulator;
  const ORG_A = { clientId: 'client-a', clientSecret: 'secret-a', integrationId: 'integ-a' };
  const ORG_B = { clientId: 'client-b', clientSecret: 'secret-b', integrationId: 'integ-b' };

  beforeAll(async () => {
    sim = await startGenesysSimulator({ retryDelayMs: 20 });
    sim.addOrg(ORG_A);
    sim.addOrg(ORG_B);
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

  async function tokenRequest(auth: string | undefined, body = 'grant_type=client_credentials', type = 'application/x-www-form-urlencoded') {
    const headers: Record<string, string> = { 'Content-Type': type };
    if (auth) headers.Authorization = auth;
    const res = await fetch(`${sim.url}/oauth/token`, { method: 'POST', headers, body });
    return { status: res.status, json: (await res.json()) as any };
  }

  async function token(org = ORG_A): Promise<string> {
    const res = await tokenRequest(basic(org.clientId, org.clientSecret));
    expect(res.status).toBe(200);
    return res.json.access_token;
  }

  const apiUrl = (integrationId: string, kind: 'message' | 'receipt' | 'event', query = '') =>
    `${sim.url}/api/v2/conversations/messages/${integrationId}/inbound/open/${kind}${query}`;

  const validMessage = (fromId = '16505551234') => ({
    channel: {
      messageId: 'wamid.HBgLabc',
      time: '2025-01-21T16:47:08.592Z',
      from: { id: fromId, idType: 'Phone', nickname: 'Sheena Nelson', firstName: 'Sheena', lastName: 'Nelson' },
      metadata: { customAttributes: { tenantId: 'acme-corp' } },
    },
    text: 'Does it come in another color?',
  });

  describe('OAuth client credentials', () => {
    it('issues a bearer token with the configured lifetime and counts requests per client', async () => {
      const res = await tokenRequest(basic('client-a', 'secret-a'));
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 86400 });
      await tokenRequest(basic('client-a', 'secret-a'));
      expect(sim.tokenRequests('client-a')).toBe(2);
      expect(sim.tokenRequests('client-b')).toBe(0);
    });

    it('answers 401 invalid_client for a wrong secret or no credentials, 400 for a bad grant or body type', async () => {
      const wrong = await tokenRequest(basic('client-a', 'nope'));
      expect(wrong.status).toBe(401);
      expect(wrong.json.error).toBe('invalid_client');
      expect(typeof wrong.json.description).toBe('string');
      expect((await tokenRequest(undefined)).status).toBe(401);
      expect((await tokenRequest(basic('unknown', 'x'))).status).toBe(401);

      const grant = await tokenRequest(basic('client-a', 'secret-a'), 'grant_type=password');
      expect(grant.status).toBe(400);
      expect(grant.json.error).toBe('unsupported_grant_type');
      const json = await tokenRequest(basic('client-a', 'secret-a'), '{"grant_type":"client_credentials"}', 'application/json');
      expect(json.status).toBe(400);
      expect(sim.tokensIssued('client-a')).toBe(0);
    });

    it('rejects API calls with no, revoked, expired or foreign tokens', async () => {
      const noToken = await post(apiUrl('integ-a', 'message'), validMessage());
      expect(noToken.status).toBe(401);
      expect(noToken.json).toMatchObject({ code: 'bad.credentials', status: 401 });

      const good = await token();
      expect((await post(apiUrl('integ-a', 'message'), validMessage(), { Authorization: `Bearer ${good}` })).status).toBe(200);
      sim.revokeTokens('client-a');
      const revoked = await post(apiUrl('integ-a', 'message'), validMessage(), { Authorization: `Bearer ${good}` });
      expect(revoked.status).toBe(401);
      expect(revoked.json.code).toBe('bad.credentials');

      // Org B's token on org A's integration: the integration does not exist for org B.
      const foreign = await post(apiUrl('integ-a', 'message'), validMessage(), { Authorization: `Bearer ${await token(ORG_B)}` });
      expect(foreign.status).toBe(404);
      expect(foreign.json.code).toBe('not.found');
    });

    it('expires tokens after tokenTtlSeconds', async () => {
      sim.addOrg({ clientId: 'short', clientSecret: 's', integrationId: 'integ-short', tokenTtlSeconds: 1 });
      const res = await tokenRequest(basic('short', 's'));
      expect(res.json.expires_in).toBe(1);
      const auth = { Authorization: `Bearer ${res.json.access_token}` };
      expect((await post(apiUrl('integ-short', 'message'), validMessage(), auth)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await post(apiUrl('integ-short', 'message'), validMessage(), auth)).status).toBe(401);
    });
  });

  describe('inbound message validation', () => {
    let auth: Record<string, string>;
    beforeEach(async () => {
      auth = { Authorization: `Bearer ${await token()}` };
    });

    it('accepts a valid message: 32-hex id, echo, conversationId stable per user when prefetched', async () => {
      const first = await post(apiUrl('integ-a', 'message', '?prefetchConversationId=true'), validMessage(), auth);
      expect(first.status).toBe(200);
      expect(first.json.id).toMatch(/^[0-9a-f]{32}$/);
      expect(first.json).toMatchObject({ type: 'Text', text: 'Does it come in another color?', direction: 'Inbound' });
      expect(first.json.channel.from.id).toBe('16505551234');
      expect(first.json.conversationId).toMatch(/^[0-9a-f-]{36}$/);

      const again = await post(apiUrl('integ-a', 'message', '?prefetchConversationId=true'), validMessage(), auth);
      expect(again.json.conversationId).toBe(first.json.conversationId);
      expect(again.json.id).not.toBe(first.json.id);
      const other = await post(apiUrl('integ-a', 'message', '?prefetchConversationId=true'), validMessage('4915112345678'), auth);
      expect(other.json.conversationId).not.toBe(first.json.conversationId);
      const noPrefetch = await post(apiUrl('integ-a', 'message'), validMessage(), auth);
      expect(noPrefetch.json.conversationId).toBeUndefined();

      const recorded = sim.messages('integ-a');
      expect(recorded).toHaveLength(4);
      expect(recorded[0].body.channel.messageId).toBe('wamid.HBgLabc');
      expect(recorded[0].genesysMessageId).toBe(first.json.id);
      expect(recorded[0].headers.authorization).toBe('Bearer [REDACTED]');
      expect(sim.messages('integ-b')).toHaveLength(0);
    });

    it('accepts attachments with a valid mediaType, url and mime', async () => {
      const body = {
        channel: validMessage().channel,
        content: [
          { contentType: 'Attachment', attachment: { mediaType: 'Image', url: 'https://media.example/a.jpg', mime: 'image/jpeg', filename: 'a.jpg' } },
        ],
      };
      const res = await post(apiUrl('integ-a', 'message'), body, auth);
      expect(res.status).toBe(200);
      expect(res.json.content[0].attachment.mediaType).toBe('Image');
    });

    it.each([
      ['missing channel.from.idType', (m: any) => delete m.channel.from.idType, 'channel.from.idType'],
      ['unknown idType', (m: any) => (m.channel.from.idType = 'WhatsApp'), 'channel.from.idType'],
      ['missing channel.from.id', (m: any) => delete m.channel.from.id, 'channel.from.id'],
      ['non-ISO channel.time', (m: any) => (m.channel.time = '1749416383'), 'channel.time'],
      ['neither text nor content', (m: any) => delete m.text, 'text or content'],
      ['nested top-level metadata', (m: any) => (m.metadata = { customAttributes: { tenantId: 'x' } }), 'metadata'],
      ['non-string custom attribute', (m: any) => (m.channel.metadata.customAttributes.n = 1), 'customAttributes'],
      [
        'bad attachment mediaType',
        (m: any) => (m.content = [{ contentType: 'Attachment', attachment: { mediaType: 'Photo', url: 'https://x/y', mime: 'image/png' } }]),
        'mediaType',
      ],
      [
        'attachment without mime',
        (m: any) => (m.content = [{ contentType: 'Attachment', attachment: { mediaType: 'Image', url: 'https://x/y' } }]),
        'mime',
      ],
      [
        'attachment without url',
        (m: any) => (m.content = [{ contentType: 'Attachment', attachment: { mediaType: 'File', mime: 'application/pdf' } }]),
        'url',
      ],
    ])('rejects %s with 400 bad.request', async (_name, mutate, field) => {
      const body = validMessage();
      mutate(body);
      const res = await post(apiUrl('integ-a', 'message'), body, auth);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: 'bad.request', status: 400 });
      expect(res.json.message).toContain(field);
      expect(sim.messages()).toHaveLength(0);
    });

    it('rejects bodies over 512,000 bytes with 413, non-JSON with 400 and other content types with 415', async () => {
      const big = { ...validMessage(), text: 'x'.repeat(512_001) };
      expect((await post(apiUrl('integ-a', 'message'), big, auth)).status).toBe(413);
      expect((await post(apiUrl('integ-a', 'message'), '{not json', auth)).status).toBe(400);
      const form = await post(apiUrl('integ-a', 'message'), JSON.stringify(validMessage()), { ...auth, 'Content-Type': 'text/plain' });
      expect(form.status).toBe(415);
    });

    it('validates receipts: statuses, direction, Failed reasons', async () => {
      const receipt = {
        id: '36e4d8d92b071f15116d01d111bb8802',
        channel: { to: { id: '16505551234', idType: 'Phone' }, time: '2025-01-21T16:47:08.592Z' },
        status: 'Delivered',
        direction: 'Outbound',
        isFinalReceipt: true,
      };
      expect((await post(apiUrl('integ-a', 'receipt'), receipt, auth)).status).toBe(200);
      expect((await post(apiUrl('integ-a', 'receipt'), { ...receipt, status: 'Read' }, auth)).status).toBe(200);
      expect((await post(apiUrl('integ-a', 'receipt'), { ...receipt, status: 'Seen' }, auth)).status).toBe(400);
      expect((await post(apiUrl('integ-a', 'receipt'), { ...receipt, direction: 'Inbound' }, auth)).status).toBe(400);
      expect((await post(apiUrl('integ-a', 'receipt'), { ...receipt, status: 'Failed' }, auth)).status).toBe(400);
      const badReason = { ...receipt, status: 'Failed', reasons: [{ code: 'TooLate' }] };
      expect((await post(apiUrl('integ-a', 'receipt'), badReason, auth)).status).toBe(400);
      const failed = { ...receipt, status: 'Failed', reasons: [{ code: 'MessageExpired', message: '131047' }] };
      expect((await post(apiUrl('integ-a', 'receipt'), failed, auth)).status).toBe(200);
      expect(sim.receipts('integ-a').map((r) => r.body.status)).toEqual(['Delivered', 'Read', 'Failed']);
    });

    it('validates typing events', async () => {
      const event = {
        channel: { from: { id: '16505551234', idType: 'Phone' }, time: '2025-01-21T16:47:08.592Z' },
        events: [{ eventType: 'Typing', typing: { type: 'On', duration: 5000 } }],
      };
      expect((await post(apiUrl('integ-a', 'event'), event, auth)).status).toBe(200);
      expect((await post(apiUrl('integ-a', 'event'), { ...event, events: [{ eventType: 'Presence' }] }, auth)).status).toBe(400);
      expect((await post(apiUrl('integ-a', 'event'), { ...event, events: [] }, auth)).status).toBe(400);
      expect(sim.events()).toHaveLength(1);
    });
  });

  describe('fault injection', () => {
    let auth: Record<string, string>;
    beforeEach(async () => {
      auth = { Authorization: `Bearer ${await token()}` };
    });

    it('failNext 429 answers Retry-After and the Genesys body, then recovers', async () => {
      sim.failNext(1, { status: 429, retryAfterSeconds: 42 });
      const limited = await post(apiUrl('integ-a', 'message'), validMessage(), auth);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('42');
      expect(limited.json).toEqual({
        message: 'Rate limit exceeded the maximum. Retry the request in [42] seconds',
        code: 'too.many.requests.retry.after',
        status: 429,
      });
      expect(sim.messages()).toHaveLength(0);
      expect((await post(apiUrl('integ-a', 'message'), validMessage(), auth)).status).toBe(200);
      expect(sim.calls.filter((c) => c.endpoint === 'message').map((c) => [c.status, c.injected])).toEqual([
        [429, true],
        [200, false],
      ]);
    });

    it('failNext scoped to one integration leaves others alone; n counts answers', async () => {
      const authB = { Authorization: `Bearer ${await token(ORG_B)}` };
      sim.failNext(2, { status: 500, integrationId: 'integ-a' });
      expect((await post(apiUrl('integ-b', 'message'), validMessage(), authB)).status).toBe(200);
      expect((await post(apiUrl('integ-a', 'message'), validMessage(), auth)).status).toBe(500);
      expect((await post(apiUrl('integ-a', 'message'), validMessage(), auth)).status).toBe(500);
      expect((await post(apiUrl('integ-a', 'message'), validMessage(), auth)).status).toBe(200);
    });

    it('setOutage answers 503 everywhere until switched off; setLatency delays answers', async () => {
      sim.setOutage(true);
      expect((await post(apiUrl('integ-a', 'message'), validMessage(), auth)).status).toBe(503);
      expect((await tokenRequest(basic('client-a', 'secret-a'))).status).toBe(503);
      sim.setOutage(false);
      sim.setOutage(true, { integrationId: 'integ-b' });
      expect((await post(apiUrl('integ-a', 'message'), validMessage(), auth)).status).toBe(200);
      sim.setOutage(false, { integrationId: 'integ-b' });

      sim.setLatency(150);
      const started = Date.now();
      expect((await post(apiUrl('integ-a', 'message'), validMessage(), auth)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('waitFor resolves when a matching call arrives later and rejects on timeout', async () => {
      const waiting = sim.waitFor((r) => r.kind === 'message' && r.body.text === 'later', 2000);
      setTimeout(() => void post(apiUrl('integ-a', 'message'), { ...validMessage(), text: 'later' }, auth), 50);
      const record = await waiting;
      expect(record.integrationId).toBe('integ-a');
      await expect(sim.waitFor((r) => r.kind === 'receipt', 100)).rejects.toThrow(/waitFor/);
    });
  });

  describe('agent replies to our webhook', () => {
    let receiver: Receiver;
    const SECRET = 'genesys-webhook-secret-0123456789';
    beforeEach(async () => {
      receiver = await startReceiver();
    });
    afterEach(() => receiver.close());

    it('sends the reference body signed with base64 HMAC-SHA256 over the exact bytes', async () => {
      const result = await sim.agentReply({
        webhookUrl: receiver.url,
        secret: SECRET,
        integrationId: 'integ-a',
        to: '16505551234',
        text: 'Hello there! ä',
      });
      expect(result.statuses).toEqual([200]);
      expect(result.delivered).toBe(true);
      const [got] = receiver.received;
      const expected = `sha256=${createHmac('sha256', SECRET).update(got.raw).digest('base64')}`;
      expect(got.headers['x-hub-signature-256']).toBe(expected);
      expect(got.raw.toString('utf8')).toBe(result.raw);
      const body = JSON.parse(got.raw.toString('utf8'));
      expect(body).toEqual({
        id: result.id,
        channel: {
          id: 'integ-a',
          platform: 'Open',
          type: 'Private',
          to: { id: '16505551234' },
          from: { nickname: 'Acme Support', id: 'integ-a', idType: 'Opaque' },
          time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
          messageId: result.id,
        },
        type: 'Text',
        text: 'Hello there! ä',
        originatingEntity: 'Human',
        direction: 'Outbound',
      });
      expect(result.id).toMatch(/^[0-9a-f]{32}$/);
    });

    it('retries on 500 and 429, then stops at the first 2xx', async () => {
      receiver.script.push(500, 429, 200);
      const result = await sim.agentReply({ webhookUrl: receiver.url, secret: SECRET, integrationId: 'integ-a', to: '1', text: 'x' });
      expect(result.statuses).toEqual([500, 429, 200]);
      expect(receiver.received).toHaveLength(3);
      expect(new Set(receiver.received.map((r) => r.raw.toString()))).toEqual(new Set([result.raw]));
    });

    it('gives up after 5 retries, does not retry other 4xx, retries timeouts', async () => {
      receiver.script.push(503, 503, 503, 503, 503, 503, 503);
      const exhausted = await sim.agentReply({ webhookUrl: receiver.url, secret: SECRET, integrationId: 'integ-a', to: '1', text: 'x' });
      expect(exhausted.statuses).toEqual([503, 503, 503, 503, 503, 503]);
      expect(exhausted.delivered).toBe(false);

      receiver.script.length = 0;
      receiver.script.push(401);
      const rejected = await sim.agentReply({ webhookUrl: receiver.url, secret: SECRET, integrationId: 'integ-a', to: '1', text: 'x' });
      expect(rejected.statuses).toEqual([401]);

      receiver.script.push(-1, 200);
      const slow = await sim.agentReply({ webhookUrl: receiver.url, secret: SECRET, integrationId: 'integ-a', to: '1', text: 'x', timeoutMs: 200 });
      expect(slow.statuses).toEqual([null, 200]);
      expect(slow.attempts[0].error).toBe('timeout');
    });

    it('can resend the same message id (duplicate) and sends typing events', async () => {
      const first = await sim.agentReply({ webhookUrl: receiver.url, secret: SECRET, integrationId: 'integ-a', to: '1', text: 'dup', duplicate: true });
      expect(first.attempts.map((a) => [a.delivery, a.status])).toEqual([
        [1, 200],
        [2, 200],
      ]);
      const again = await sim.agentReply({ webhookUrl: receiver.url, secret: SECRET, integrationId: 'integ-a', to: '1', text: 'dup', id: first.id });
      expect(again.id).toBe(first.id);
      expect(receiver.received.map((r) => JSON.parse(r.raw.toString()).id)).toEqual([first.id, first.id, first.id]);

      const typing = await sim.agentTyping({ webhookUrl: receiver.url, secret: SECRET, integrationId: 'integ-a', to: '1' });
      expect(typing.body).toMatchObject({
        type: 'Event',
        events: [{ eventType: 'Typing', typing: { type: 'On', duration: 5000 } }],
        direction: 'Outbound',
      });
      expect(typing.body.text).toBeUndefined();
    });

    it('sendRawOutbound sends exact bytes with a chosen, computed or absent signature', async () => {
      await sim.sendRawOutbound({ webhookUrl: receiver.url, body: '{"a":1}', signatureOverride: 'sha256=bogus' });
      await sim.sendRawOutbound({ webhookUrl: receiver.url, body: Buffer.from('{"b":2}'), signatureSecret: SECRET });
      await sim.sendRawOutbound({ webhookUrl: receiver.url, body: '{"c":3}' });
      expect(receiver.received[0].headers['x-hub-signature-256']).toBe('sha256=bogus');
      expect(receiver.received[1].headers['x-hub-signature-256']).toBe(signGenesys(SECRET, '{"b":2}'));
      expect(receiver.received[2].headers['x-hub-signature-256']).toBeUndefined();
      expect(receiver.received.map((r) => r.raw.toString())).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    });
  });

  it('fetches attachment URLs when fetchAttachments is on', async () => {
    const files = express();
    files.get('/a.png', (_req, res) => {
      res.type('image/png').send(Buffer.from('PNGDATA'));
    });
    const server: Server = await new Promise((resolve) => {
      const s = files.listen(0, '127.0.0.1', () => resolve(s));
    });
    const fileUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/a.png`;
    const sim2 = await startGenesysSimulator({ fetchAttachments: true });
    try {
      sim2.addOrg(ORG_A);
      const tok = await fetch(`${sim2.url}/oauth/token`, {
        method: 'POST',
        headers: { Authorization: basic('client-a', 'secret-a'), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      }).then((r) => r.json() as Promise<{ access_token: string }>);
      const res = await post(
        `${sim2.url}/api/v2/conversations/messages/integ-a/inbound/open/message`,
        { channel: validMessage().channel, content: [{ contentType: 'Attachment', attachment: { mediaType: 'Image', url: fileUrl, mime: 'image/png' } }] },
        { Authorization: `Bearer ${tok.access_token}` },
      );
      expect(res.status).toBe(200);
      const fetched = await sim2.waitForAttachmentFetch((f) => f.url === fileUrl, 2000);
      expect(fetched.status).toBe(200);
      expect(fetched.sha256).toBe(createHash('sha256').update('PNGDATA').digest('hex'));
    } finally {
      await sim2.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

// ================================================================================================
describe('Meta simulator', () => {
  let sim: MetaSimulator;
  const NUM_A = { phoneNumberId: '106540352242922', accessToken: 'EAAG-token-a', displayPhoneNumber: '15550783881', wabaId: '102290129340398' };
  const NUM_B = { phoneNumberId: '106540352242933', accessToken: 'EAAG-token-b' };

  beforeAll(async () => {
    sim = await startMetaSimulator({ retryDelayMs: 10 });
    sim.addNumber(NUM_A);
    sim.addNumber(NUM_B);
    sim.addTemplate({ wabaId: NUM_A.wabaId, name: 'hello_world', language: 'en_US', body: 'Hello World' });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const send = (body: unknown, token = NUM_A.accessToken, phoneNumberId = NUM_A.phoneNumberId) =>
    post(`${sim.graphUrl}/${phoneNumberId}/messages`, body, token ? { Authorization: `Bearer ${token}` } : {});
  const text = (body = 'hello', to = '16505551234') => ({
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'text',
    text: { body },
  });

  describe('sending', () => {
    it('accepts a valid text and answers contacts + a unique wamid, recorded with the token', async () => {
      expect(sim.graphUrl).toMatch(/\/v23\.0$/);
      const res = await send(text());
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        messaging_product: 'whatsapp',
        contacts: [{ input: '16505551234', wa_id: '16505551234' }],
        messages: [{ id: expect.stringMatching(/^wamid\./) }],
      });
      const second = await send(text());
      expect(second.json.messages[0].id).not.toBe(res.json.messages[0].id);
      expect(sim.sends(NUM_A.phoneNumberId)).toHaveLength(2);
      expect(sim.sent[0]).toMatchObject({ phoneNumberId: NUM_A.phoneNumberId, token: NUM_A.accessToken, wamid: res.json.messages[0].id });
      expect(sim.sent[0].body.text?.body).toBe('hello');
      // Any Graph version is served.
      expect((await post(`${sim.url}/v21.0/${NUM_A.phoneNumberId}/messages`, text(), { Authorization: `Bearer ${NUM_A.accessToken}` })).status).toBe(200);
    });

    it('answers 401 code 190 for a missing, unknown, or other number’s token', async () => {
      for (const token of ['', 'not-a-token', NUM_B.accessToken]) {
        const res = await send(text(), token);
        expect(res.status).toBe(401);
        expect(res.json.error).toMatchObject({ type: 'OAuthException', code: 190, fbtrace_id: expect.any(String) });
        expect(res.json.error.message).toMatch(/^\(#190\)/);
      }
      expect(sim.sent).toHaveLength(0);
    });

    it.each([
      ['no messaging_product', { to: '16505551234', type: 'text', text: { body: 'x' } }],
      ['wrong messaging_product', { ...text(), messaging_product: 'sms' }],
      ['to with a plus', text('x', '+16505551234')],
      ['unknown type', { ...text(), type: 'fax' }],
      ['empty text body', text('')],
      ['text body over 4096', text('x'.repeat(4097))],
      ['text type without text object', { messaging_product: 'whatsapp', to: '16505551234', type: 'text' }],
      ['image with neither link nor id', { messaging_product: 'whatsapp', to: '16505551234', type: 'image', image: {} }],
      ['image with link and id', { messaging_product: 'whatsapp', to: '16505551234', type: 'image', image: { id: '1', link: 'https://x/y.jpg' } }],
      ['caption over 1024', { messaging_product: 'whatsapp', to: '16505551234', type: 'image', image: { id: '1', caption: 'c'.repeat(1025) } }],
      ['template without language', { messaging_product: 'whatsapp', to: '16505551234', type: 'template', template: { name: 'hello_world' } }],
      ['reaction without message_id', { messaging_product: 'whatsapp', to: '16505551234', type: 'reaction', reaction: { emoji: 'x' } }],
      [
        'interactive with 4 buttons',
        {
          messaging_product: 'whatsapp',
          to: '16505551234',
          type: 'interactive',
          interactive: {
            type: 'button',
            body: { text: 'pick' },
            action: { buttons: [1, 2, 3, 4].map((i) => ({ type: 'reply', reply: { id: `b${i}`, title: `B${i}` } })) },
          },
        },
      ],
    ])('answers 400 code 100 for %s', async (_name, body) => {
      const res = await send(body);
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ type: 'OAuthException', code: 100 });
      expect(sim.sent).toHaveLength(0);
    });

    it.each([
      ['image by link with caption', { type: 'image', image: { link: 'https://cdn.example/a.jpg', caption: 'look' } }],
      ['document with filename', { type: 'document', document: { id: '123', filename: 'a.pdf' } }],
      ['audio by id', { type: 'audio', audio: { id: '123' } }],
      ['template', { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' }, components: [] } }],
      ['location', { type: 'location', location: { latitude: 52.5, longitude: 13.4, name: 'Berlin' } }],
      ['reaction removal', { type: 'reaction', reaction: { message_id: 'wamid.x', emoji: '' } }],
      ['contacts', { type: 'contacts', contacts: [{ name: { formatted_name: 'A B' }, phones: [{ phone: '+1 555' }] }] }],
    ])('accepts %s', async (_name, extra) => {
      const res = await send({ messaging_product: 'whatsapp', to: '16505551234', ...extra });
      expect(res.status).toBe(200);
      expect(sim.sent).toHaveLength(1);
    });

    it('failNext(131047) answers Meta’s envelope once, scoped per number, then sends succeed', async () => {
      sim.failNext(1, { code: 131047, phoneNumberId: NUM_A.phoneNumberId });
      const okB = await send(text(), NUM_B.accessToken, NUM_B.phoneNumberId);
      expect(okB.status).toBe(200);
      const failed = await send(text());
      expect(failed.status).toBe(400);
      expect(failed.json.error).toMatchObject({
        code: 131047,
        type: 'OAuthException',
        message: '(#131047) Re-engagement message',
        error_data: { messaging_product: 'whatsapp', details: expect.any(String) },
      });
      expect((await send(text())).status).toBe(200);
      expect(sim.calls.filter((c) => c.endpoint === 'messages').map((c) => [c.errorCode ?? null, c.injected])).toEqual([
        [null, false],
        [131047, true],
        [null, false],
      ]);

      sim.failNext(1, { code: 130429, httpStatus: 429 });
      const limited = await send(text());
      expect(limited.status).toBe(429);
      expect(limited.json.error.code).toBe(130429);
    });

    it('setOutage answers 503 code 131016; scoped outages hit one number only', async () => {
      sim.setOutage(true, { phoneNumberId: NUM_B.phoneNumberId });
      expect((await send(text())).status).toBe(200);
      const down = await send(text(), NUM_B.accessToken, NUM_B.phoneNumberId);
      expect(down.status).toBe(503);
      expect(down.json.error.code).toBe(131016);
      sim.setOutage(false, { phoneNumberId: NUM_B.phoneNumberId });
      expect((await send(text(), NUM_B.accessToken, NUM_B.phoneNumberId)).status).toBe(200);
    });

    it('waitFor resolves on a later send', async () => {
      const waiting = sim.waitFor((s) => s.body.text?.body === 'awaited', 2000);
      setTimeout(() => void send(text('awaited')), 30);
      expect((await waiting).phoneNumberId).toBe(NUM_A.phoneNumberId);
    });
  });

  describe('read marks and the typing indicator', () => {
    let receiver: Receiver;
    beforeEach(async () => {
      receiver = await startReceiver();
    });
    afterEach(() => receiver.close());

    const read = (messageId: string, extra: Record<string, unknown> = {}, token = NUM_A.accessToken, phoneNumberId = NUM_A.phoneNumberId) =>
      send({ messaging_product: 'whatsapp', status: 'read', message_id: messageId, ...extra }, token, phoneNumberId);
    /** A user message delivered to NUM_A through the simulator: the only kind Meta lets a business mark read. */
    async function received(from = '16505551234'): Promise<string> {
      const payload = buildTextMessage({ phoneNumberId: NUM_A.phoneNumberId, from, body: 'hi' });
      await sim.deliverWebhook({ url: receiver.url, payload, appSecret: 'secret' });
      return wamidOf(payload);
    }

    it('marks a received message read ({success:true}), with the typing indicator when asked, recorded apart from sends', async () => {
      const wamid = await received();
      const res = await read(wamid);
      expect({ status: res.status, body: res.json }).toEqual({ status: 200, body: { success: true } });
      const typing = await read(wamid, { typing_indicator: { type: 'text' } });
      expect(typing.json).toEqual({ success: true });
      expect(sim.reads.map((r) => [r.phoneNumberId, r.messageId, r.from, r.typing])).toEqual([
        [NUM_A.phoneNumberId, wamid, '16505551234', false],
        [NUM_A.phoneNumberId, wamid, '16505551234', true],
      ]);
      expect(sim.sent).toHaveLength(0);
      expect(sim.calls.map((c) => c.endpoint)).toEqual(['read', 'read']);
      expect((await sim.waitForRead((r) => r.typing, 100)).messageId).toBe(wamid);
    });

    it('answers 131009 for a wamid the number never received: unknown, another number’s, or one of its own sends', async () => {
      const other = buildTextMessage({ phoneNumberId: NUM_B.phoneNumberId, from: '16505551234', body: 'to B' });
      await sim.deliverWebhook({ url: receiver.url, payload: other, appSecret: 'secret' });
      const own = (await send(text())).json.messages[0].id as string;
      for (const messageId of ['wamid.unknown', wamidOf(other), own]) {
        const res = await read(messageId, { typing_indicator: { type: 'text' } });
        expect({ messageId, status: res.status, code: res.json.error?.code, message: res.json.error?.message }).toEqual({
          messageId,
          status: 400,
          code: 131009,
          message: '(#131009) Parameter value is not valid',
        });
      }
      expect(sim.reads).toHaveLength(0);
      // The other number may mark its own message read.
      expect((await read(wamidOf(other), {}, NUM_B.accessToken, NUM_B.phoneNumberId)).status).toBe(200);
    });

    it('checks the body (code 100) and the token (190) like a send', async () => {
      const wamid = await received();
      for (const extra of [{ status: 'delivered' }, { messaging_product: 'sms' }, { message_id: '' }, { typing_indicator: { type: 'audio' } }, { typing_indicator: true }]) {
        const res = await read(wamid, extra);
        expect({ extra, status: res.status, code: res.json.error?.code }).toEqual({ extra, status: 400, code: 100 });
      }
      expect((await read(wamid, {}, NUM_B.accessToken)).json.error.code).toBe(190);
      expect(sim.reads).toHaveLength(0);
    });

    it('takes only the faults meant for it (endpoint "read"), and a fault meant for sends leaves it alone', async () => {
      const wamid = await received();
      sim.failNext(1, { code: 131000 });
      expect((await read(wamid)).status).toBe(200);
      expect((await send(text())).status).toBe(500);
      sim.failNext(1, { code: 131000, endpoint: 'read' });
      expect((await send(text())).status).toBe(200);
      const failed = await read(wamid, { typing_indicator: { type: 'text' } });
      expect({ status: failed.status, code: failed.json.error.code }).toEqual({ status: 500, code: 131000 });
      expect(sim.calls.map((c) => [c.endpoint, c.status, c.injected])).toEqual([
        ['read', 200, false],
        ['messages', 500, true],
        ['messages', 200, false],
        ['read', 500, true],
      ]);
    });

    it('forgets received messages on reset', async () => {
      const wamid = await received();
      sim.reset();
      expect((await read(wamid)).json.error.code).toBe(131009);
    });
  });

  describe('phone numbers (credential checks)', () => {
    it('GET /{phone-number-id} reads the number with its own token; another number’s token is 100/33, an unknown one 190', async () => {
      const auth = { Authorization: `Bearer ${NUM_A.accessToken}` };
      const own = await fetch(`${sim.graphUrl}/${NUM_A.phoneNumberId}?fields=id,display_phone_number,verified_name,quality_rating`, { headers: auth });
      expect(own.status).toBe(200);
      expect(await own.json()).toMatchObject({ id: NUM_A.phoneNumberId, display_phone_number: NUM_A.displayPhoneNumber, verified_name: expect.any(String), quality_rating: 'GREEN' });
      const foreign = await fetch(`${sim.graphUrl}/${NUM_A.phoneNumberId}`, { headers: { Authorization: `Bearer ${NUM_B.accessToken}` } });
      expect(foreign.status).toBe(400);
      expect(((await foreign.json()) as any).error).toMatchObject({ code: 100, error_subcode: 33 });
      const unknown = await fetch(`${sim.graphUrl}/${NUM_A.phoneNumberId}`, { headers: { Authorization: 'Bearer EAAG-nobody' } });
      expect(unknown.status).toBe(401);
      expect(((await unknown.json()) as any).error.code).toBe(190);
      expect(sim.calls.filter((c) => c.endpoint === 'number').map((c) => c.status)).toEqual([200, 400, 401]);
    });

    it('registering a number again with another token revokes the old one: 190 on sends and reads', async () => {
      const own = await startMetaSimulator();
      try {
        own.addNumber({ phoneNumberId: '106540352249999', accessToken: 'EAAG-old' });
        own.addNumber({ phoneNumberId: '106540352249999', accessToken: 'EAAG-new' });
        const sent = await post(`${own.graphUrl}/106540352249999/messages`, text(), { Authorization: 'Bearer EAAG-old' });
        expect(sent.status).toBe(401);
        expect(sent.json.error.code).toBe(190);
        expect((await fetch(`${own.graphUrl}/106540352249999`, { headers: { Authorization: 'Bearer EAAG-old' } })).status).toBe(401);
        expect((await fetch(`${own.graphUrl}/106540352249999`, { headers: { Authorization: 'Bearer EAAG-new' } })).status).toBe(200);
      } finally {
        await own.close();
      }
    });
  });

  describe('media', () => {
    const bytes = Buffer.from('\x89PNG fake image bytes');

    it('looks media up with the bearer token and downloads it with the same token only', async () => {
      const info = sim.addMedia({ mediaId: '9001', bytes, mimeType: 'image/png', phoneNumberId: NUM_A.phoneNumberId });
      const auth = { Authorization: `Bearer ${NUM_A.accessToken}` };
      const lookup = await fetch(`${sim.graphUrl}/9001`, { headers: auth });
      expect(lookup.status).toBe(200);
      const meta = (await lookup.json()) as any;
      expect(meta).toEqual({
        url: expect.stringMatching(new RegExp(`^${sim.url}/media-download/`)),
        mime_type: 'image/png',
        sha256: createHash('sha256').update(bytes).digest('hex'),
        file_size: bytes.length,
        id: '9001',
        messaging_product: 'whatsapp',
      });
      expect(info.sha256Hex).toBe(meta.sha256);

      const download = await fetch(meta.url, { headers: auth });
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await download.arrayBuffer())).toEqual(bytes);

      expect((await fetch(meta.url)).status).toBe(401);
      expect((await fetch(meta.url, { headers: { Authorization: `Bearer ${NUM_B.accessToken}` } })).status).toBe(401);
      expect((await fetch(`${sim.graphUrl}/9001`)).status).toBe(401);
      // Another number's (valid) token cannot see this number's media.
      const foreign = await fetch(`${sim.graphUrl}/9001`, { headers: { Authorization: `Bearer ${NUM_B.accessToken}` } });
      expect(foreign.status).toBe(400);
      expect(((await foreign.json()) as any).error.code).toBe(100);
      expect((await fetch(`${sim.graphUrl}/404404`, { headers: auth })).status).toBe(400);
    });

    it('expires download URLs', async () => {
      const short = await startMetaSimulator({ mediaUrlTtlMs: 50 });
      try {
        short.addNumber(NUM_A);
        short.addMedia({ mediaId: 'm1', bytes, mimeType: 'image/png' });
        const auth = { Authorization: `Bearer ${NUM_A.accessToken}` };
        const meta = (await (await fetch(`${short.graphUrl}/m1`, { headers: auth })).json()) as any;
        await new Promise((r) => setTimeout(r, 80));
        expect((await fetch(meta.url, { headers: auth })).status).toBe(404);
      } finally {
        await short.close();
      }
    });
  });

  describe('webhook delivery', () => {
    let receiver: Receiver;
    const APP_SECRET = 'meta-app-secret';
    beforeEach(async () => {
      receiver = await startReceiver();
    });
    afterEach(() => receiver.close());

    it('escapes non-ASCII and "/" like Meta and signs the exact bytes with hex HMAC', async () => {
      const payload = buildTextMessage({ phoneNumberId: NUM_A.phoneNumberId, body: 'Grüße ä 😀 a/b', profileName: 'Jürgen' });
      const result = await sim.deliverWebhook({ url: receiver.url, payload, appSecret: APP_SECRET });
      expect(result.statuses).toEqual([200]);
      const [got] = receiver.received;
      const raw = got.raw.toString('latin1');
      expect(raw).toContain('Gr\\u00fc\\u00dfe \\u00e4 \\ud83d\\ude00 a\\/b');
      expect(raw).toContain('J\\u00fcrgen');
      expect(/[^\x00-\x7f]/.test(raw)).toBe(false);
      expect(got.raw.equals(result.body)).toBe(true);
      const expected = `sha256=${createHmac('sha256', APP_SECRET).update(got.raw).digest('hex')}`;
      expect(got.headers['x-hub-signature-256']).toBe(expected);
      expect(result.signature).toBe(expected);
      // Re-serialising the parsed JSON gives other bytes, so its HMAC would not match.
      const parsed = JSON.parse(got.raw.toString('utf8'));
      expect(parsed).toEqual(payload);
      expect(signMeta(APP_SECRET, JSON.stringify(parsed))).not.toBe(expected);
      expect(got.headers['content-type']).toBe('application/json');
    });

    it('delivers a duplicate with identical bytes when asked', async () => {
      const payload = buildTextMessage({ phoneNumberId: NUM_A.phoneNumberId, body: 'twice' });
      const result = await sim.deliverWebhook({ url: receiver.url, payload, appSecret: APP_SECRET, duplicate: true });
      expect(result.attempts.map((a) => [a.delivery, a.status])).toEqual([
        [1, 200],
        [2, 200],
      ]);
      expect(receiver.received).toHaveLength(2);
      expect(receiver.received[0].raw.equals(receiver.received[1].raw)).toBe(true);
      expect(receiver.received[0].headers['x-hub-signature-256']).toBe(receiver.received[1].headers['x-hub-signature-256']);
    });

    it('retries non-200 answers and network errors with backoff, up to maxAttempts', async () => {
      receiver.script.push(500, 201, 200);
      const retried = await sim.deliverWebhook({ url: receiver.url, payload: buildTextMessage({ phoneNumberId: '1', body: 'r' }), appSecret: APP_SECRET });
      expect(retried.statuses).toEqual([500, 201, 200]);
      expect(retried.delivered).toBe(true);

      receiver.script.push(500, 500, 500, 500);
      const failed = await sim.deliverWebhook({ url: receiver.url, payload: { a: 1 }, appSecret: APP_SECRET, maxAttempts: 3 });
      expect(failed.statuses).toEqual([500, 500, 500]);
      expect(failed.delivered).toBe(false);

      const closed = await startReceiver();
      const deadUrl = closed.url;
      await closed.close();
      const refused = await sim.deliverWebhook({ url: deadUrl, payload: { a: 1 }, appSecret: APP_SECRET, maxAttempts: 2 });
      expect(refused.statuses).toEqual([null, null]);
      expect(refused.attempts[0].error).toBe('ECONNREFUSED');
    });

    it('performs the GET verification handshake', async () => {
      const res = await sim.verifyWebhook({ url: receiver.url, verifyToken: 'vt', challenge: '1158201444' });
      expect(res.status).toBe(200);
      expect(receiver.received).toHaveLength(1);
    });
  });

  describe('payload builders', () => {
    const base = { phoneNumberId: NUM_A.phoneNumberId, displayPhoneNumber: '15550783881', from: '16505551234' };
    const valueOf = (p: MetaWebhookPayload) => p.entry[0].changes[0].value;
    const messageOf = (p: MetaWebhookPayload) => valueOf(p).messages![0];

    it('builds every inbound message type in the reference table', () => {
      const cases: Array<[MetaWebhookPayload, string, unknown]> = [
        [buildTextMessage({ ...base, body: 'hi' }), 'text', { body: 'hi' }],
        [buildImageMessage({ ...base, mediaId: 'm', mimeType: 'image/jpeg', sha256: 'h', caption: 'c' }), 'image', { caption: 'c', mime_type: 'image/jpeg', sha256: 'h', id: 'm' }],
        [buildVideoMessage({ ...base, mediaId: 'm', mimeType: 'video/mp4', sha256: 'h' }), 'video', { mime_type: 'video/mp4', sha256: 'h', id: 'm' }],
        [buildAudioMessage({ ...base, mediaId: 'm', mimeType: 'audio/ogg', sha256: 'h', voice: true }), 'audio', { mime_type: 'audio/ogg', sha256: 'h', id: 'm', voice: true }],
        [buildDocumentMessage({ ...base, mediaId: 'm', mimeType: 'application/pdf', sha256: 'h', filename: 'a.pdf' }), 'document', { filename: 'a.pdf', mime_type: 'application/pdf', sha256: 'h', id: 'm' }],
        [buildStickerMessage({ ...base, mediaId: 'm', mimeType: 'image/webp', sha256: 'h', animated: false }), 'sticker', { mime_type: 'image/webp', sha256: 'h', id: 'm', animated: false }],
        [buildLocationMessage({ ...base, latitude: 1.5, longitude: 2.5, name: 'HQ' }), 'location', { latitude: 1.5, longitude: 2.5, name: 'HQ' }],
        [buildButtonReplyMessage({ ...base, replyId: 'yes', title: 'Yes' }), 'interactive', { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes' } }],
        [buildListReplyMessage({ ...base, replyId: 'r1', title: 'Row', description: 'd' }), 'interactive', { type: 'list_reply', list_reply: { id: 'r1', title: 'Row', description: 'd' } }],
        [buildButtonMessage({ ...base, payload: 'p', text: 'Stop' }), 'button', { payload: 'p', text: 'Stop' }],
        [buildReactionMessage({ ...base, messageId: 'wamid.x', emoji: '😮' }), 'reaction', { message_id: 'wamid.x', emoji: '😮' }],
      ];
      for (const [payload, type, body] of cases) {
        expect(payload.object).toBe('whatsapp_business_account');
        expect(valueOf(payload).metadata).toEqual({ display_phone_number: '15550783881', phone_number_id: NUM_A.phoneNumberId });
        expect(valueOf(payload).contacts).toEqual([{ profile: { name: 'Test User' }, wa_id: '16505551234' }]);
        const msg = messageOf(payload);
        expect(msg).toMatchObject({ from: '16505551234', type, id: expect.stringMatching(/^wamid\./), timestamp: expect.stringMatching(/^\d+$/) });
        expect(msg[type]).toEqual(body);
      }
      const contacts = messageOf(buildContactsMessage(base));
      expect((contacts.contacts as any[])[0].name.formatted_name).toBe('Chandler Bing');
      const unsupported = messageOf(buildUnsupportedMessage(base));
      expect(unsupported.type).toBe('unsupported');
      expect(unsupported.errors?.[0].code).toBe(131051);
      expect(messageOf(buildReactionMessage({ ...base, messageId: 'w', emoji: null })).reaction).toEqual({ message_id: 'w' });
      // wamids are unique by default; payloads without a phone number are possible.
      expect(wamidOf(buildTextMessage({ ...base, body: 'a' }))).not.toBe(wamidOf(buildTextMessage({ ...base, body: 'a' })));
      const noFrom = buildTextMessage({ ...base, from: null, userId: 'US.1', body: 'a' });
      expect(messageOf(noFrom).from).toBeUndefined();
      expect(messageOf(noFrom).from_user_id).toBe('US.1');
    });

    it('builds the system message of a number change as Meta documents it: no contacts, the new number in system.wa_id', () => {
      const change = buildNumberChangeMessage({ ...base, profileName: 'Ana', newWaId: '16505559999' });
      expect(valueOf(change).contacts).toBeUndefined();
      expect(messageOf(change)).toMatchObject({
        from: '16505551234',
        type: 'system',
        system: { type: 'user_changed_number', wa_id: '16505559999', body: 'User Ana changed from 16505551234 to 16505559999' },
      });
    });

    it('builds statuses, failed ones with errors', () => {
      const delivered = buildStatus({ ...base, wamid: 'wamid.out', status: 'delivered', recipientId: '16505551234' });
      expect(valueOf(delivered).statuses![0]).toMatchObject({ id: 'wamid.out', status: 'delivered', recipient_id: '16505551234' });
      expect(valueOf(delivered).messages).toBeUndefined();
      const failed = buildFailedStatus({ ...base, wamid: 'wamid.out', errorCode: 131026 });
      expect(valueOf(failed).statuses![0]).toMatchObject({ status: 'failed', errors: [{ code: 131026 }] });
      expect(valueOf(buildFailedStatus({ ...base, wamid: 'w' })).statuses![0].errors![0].code).toBe(131047);
    });

    it('batches several messages and statuses across numbers and WABAs', () => {
      const combined = batch([
        buildTextMessage({ ...base, body: '1' }),
        buildTextMessage({ ...base, body: '2', from: '4915112345678' }),
        buildStatus({ ...base, wamid: 'wamid.s', status: 'read' }),
        buildTextMessage({ phoneNumberId: NUM_B.phoneNumberId, body: '3' }),
        buildTextMessage({ phoneNumberId: '777', wabaId: 'other-waba', body: '4' }),
      ]);
      expect(combined.entry.map((e) => e.changes.map((c) => c.value.metadata.phone_number_id))).toEqual([
        [NUM_A.phoneNumberId, NUM_B.phoneNumberId],
        ['777'],
      ]);
      const first = combined.entry[0].changes[0].value;
      expect(first.messages!.map((m) => (m.text as { body: string }).body)).toEqual(['1', '2']);
      expect(first.contacts!.map((c) => c.wa_id)).toEqual(['16505551234', '4915112345678']);
      expect(first.statuses).toHaveLength(1);
    });

    it('metaSerialize escapes like Meta and round-trips', () => {
      const value = { s: 'ä/😀', n: 1 };
      expect(metaSerialize(value)).toBe('{"s":"\\u00e4\\/\\ud83d\\ude00","n":1}');
      expect(JSON.parse(metaSerialize(value))).toEqual(value);
      expect(signMeta('k', 'b')).toBe(`sha256=${createHmac('sha256', 'k').update('b').digest('hex')}`);
      expect(signGenesys('k', 'b')).toBe(`sha256=${createHmac('sha256', 'k').update('b').digest('base64')}`);
    });
  });
});
