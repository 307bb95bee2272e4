import request from 'supertest';
import {
  batch,
  buildImageMessage,
  buildStatus,
  buildFailedStatus,
  buildTextMessage,
  metaSerialize,
  signGenesys,
  signMeta,
  wamidOf,
} from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/** WhatsApp ⇄ Genesys through the whole platform, with the Meta and Genesys simulators. */
let bridge: Bridge;
let a: BridgeTenant;
let b: BridgeTenant;
let gateway: string;

beforeAll(async () => {
  // Deliveries that cannot succeed within 3 s are dead-lettered (production: 7 days).
  bridge = await startBridge({ env: { DELIVERY_RETRY_BUDGET_MS: '3000' } });
  gateway = bridge.sys.urls.gateway;
  a = await bridge.onboard();
  b = await bridge.onboard();
});

afterAll(() => bridge.stop());

const metaWebhook = (t: BridgeTenant, payload: object, path = `/webhook/meta/${t.tenantId}`) =>
  bridge.meta.deliverWebhook({ url: `${gateway}${path}`, payload, appSecret: t.appSecret, maxAttempts: 1 });

/** The customer writes first: an agent may answer free-form only inside their 24-hour window. */
const customerWrites = async (t: BridgeTenant, from: string) => expect((await metaWebhook(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from, body: 'hi' }))).statuses).toEqual([200]);

const genesysFor = (t: BridgeTenant) => bridge.genesys.messages(t.integrationId);
const sendsFor = (t: BridgeTenant) => bridge.meta.sends(t.phoneNumberId);

describe('a conversation, end to end through the gateway', () => {
  it('carries a customer message to Genesys, the agent’s reply to WhatsApp, and statuses back as receipts', async () => {
    const waId = '16505550101';
    const inbound = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: waId, profileName: 'Sheena Nelson', body: 'Does it come in another color?' });
    const delivery = await metaWebhook(a, inbound);
    expect(delivery.statuses).toEqual([200]);

    const received = await eventually(() => genesysFor(a).find((m) => m.body.channel.messageId === wamidOf(inbound)), 10_000, 'Genesys inbound');
    expect(received.body).toMatchObject({
      channel: {
        messageId: wamidOf(inbound),
        from: { id: waId, idType: 'Phone', nickname: 'Sheena Nelson' },
        metadata: { customAttributes: { tenantId: a.tenantId } },
      },
      text: 'Does it come in another color?',
    });
    expect(new Date(received.body.channel.time).toISOString()).toBe(received.body.channel.time);

    // The mapping now knows the Genesys conversation.
    const mapping = await eventually(async () => {
      const res = await request(gateway).get(`/state/mapping/${waId}`).set('X-API-Key', a.apiKey);
      return res.body.conversationId ? res.body : undefined;
    });
    expect(mapping).toMatchObject({ waId, contactName: 'Sheena Nelson', conversationId: received.conversationId });

    // The agent answers.
    const reply = await bridge.genesys.agentReply({
      webhookUrl: `${gateway}/webhook/genesys/${a.tenantId}`,
      secret: a.webhookSecret,
      integrationId: a.integrationId,
      to: waId,
      text: 'Yes: red, green and blue.',
    });
    expect(reply.statuses).toEqual([200]);
    const sent = await eventually(() => sendsFor(a).find((s) => s.body.to === waId), 10_000, 'Meta send');
    expect(sent.token).toBe(a.accessToken);
    expect(sent.body).toMatchObject({ messaging_product: 'whatsapp', to: waId, type: 'text', text: { body: 'Yes: red, green and blue.' } });

    // Meta reports delivered, then read: both reach Genesys as receipts of the agent's message.
    await eventually(async () => {
      const [row] = await ownerQuery<{ wamid: string }>(bridge.sys.tdb, `SELECT wamid FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2`, [a.tenantId, reply.id]);
      return row?.wamid === sent.wamid;
    }, 10_000, 'wamid recorded');
    for (const status of ['delivered', 'read'] as const) {
      const res = await metaWebhook(a, buildStatus({ phoneNumberId: a.phoneNumberId, wamid: sent.wamid, status, recipientId: waId }));
      expect(res.statuses).toEqual([200]);
    }
    const receipts = await eventually(() => {
      const r = bridge.genesys.receipts(a.integrationId).filter((x) => x.body.id === reply.id);
      return r.length === 2 ? r : undefined;
    }, 10_000, 'two receipts');
    expect(receipts.map((r) => r.body.status)).toEqual(['Delivered', 'Delivered']);
    expect(receipts[0].body).toMatchObject({ direction: 'Outbound', channel: { to: { id: waId, idType: 'Phone' } } });
    // Genesys has the receipt a moment before the connector commits the status it carried.
    const status = async () =>
      (await ownerQuery<{ status: string }>(bridge.sys.tdb, `SELECT status FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2`, [a.tenantId, reply.id]))[0]
        .status;
    await eventually(async () => (await status()) === 'read', 5_000, 'read recorded');
    expect(await status()).toBe('read');

    // Counted for A; B saw none of it.
    const stats = await request(gateway).get('/state/stats').set('X-API-Key', a.apiKey);
    expect(stats.body).toMatchObject({ totalMessages: 2, todayMessages: 2, totalMappings: 1, activeConversations: 1 });
    expect(genesysFor(b)).toEqual([]);
    expect(sendsFor(b)).toEqual([]);
    expect((await request(gateway).get('/state/stats').set('X-API-Key', b.apiKey)).body.totalMessages).toBe(0);
  });
});

describe('routing', () => {
  it('splits a platform-wide payload carrying two tenants’ numbers, each to its own Genesys', async () => {
    const secretShared = `${a.appSecret}`;
    // A platform-wide Meta app has one app secret for all its numbers.
    const c = await bridge.onboard({ appSecret: secretShared });
    const forA = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550201', body: 'for A' });
    const forC = buildTextMessage({ phoneNumberId: c.phoneNumberId, from: '16505550202', body: 'for C' });
    const res = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta`, payload: batch([forA, forC]), appSecret: secretShared, maxAttempts: 1 });
    expect(res.statuses).toEqual([200]);
    await eventually(() => genesysFor(a).some((m) => m.body.text === 'for A'));
    await eventually(() => genesysFor(c).some((m) => m.body.text === 'for C'));
    expect(genesysFor(a).some((m) => m.body.text === 'for C')).toBe(false);
    expect(genesysFor(c).some((m) => m.body.text === 'for A')).toBe(false);
  });

  it('answers the verification handshakes, per tenant and platform-wide', async () => {
    const ok = await request(gateway).get(`/webhook/meta/${a.tenantId}`).query({ 'hub.mode': 'subscribe', 'hub.verify_token': a.verifyToken, 'hub.challenge': '1158201444' });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('1158201444');
    expect((await request(gateway).get(`/webhook/meta/${a.tenantId}`).query({ 'hub.mode': 'subscribe', 'hub.verify_token': b.verifyToken, 'hub.challenge': '1' })).status).toBe(403);
    const platform = await request(gateway).get('/webhook/meta').query({ 'hub.mode': 'subscribe', 'hub.verify_token': b.verifyToken, 'hub.challenge': 'abc' });
    expect(platform.status).toBe(200);
    expect(platform.text).toBe('abc');
    expect((await request(gateway).get('/webhook/meta').query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'nobody', 'hub.challenge': 'x' })).status).toBe(403);
  });
});

describe('bad webhooks: the contract’s status, nothing stored, no crash', () => {
  const countStored = async () => {
    const [row] = await ownerQuery<{ n: string }>(bridge.sys.tdb, 'SELECT (SELECT count(*) FROM message_tracking) + (SELECT count(*) FROM message_events) AS n');
    return Number(row.n);
  };
  const post = (path: string, body: string | Buffer, signature?: string) => {
    const req = request(gateway).post(path).set('Content-Type', 'application/json');
    if (signature) req.set('X-Hub-Signature-256', signature);
    return req.send(body);
  };

  it.each(([
    ['a bad signature', () => post(`/webhook/meta/${a.tenantId}`, metaSerialize(buildTextMessage({ phoneNumberId: a.phoneNumberId, body: 'x' })), signMeta('wrong-secret', 'x')), 401],
    ['no signature', () => post(`/webhook/meta/${a.tenantId}`, metaSerialize(buildTextMessage({ phoneNumberId: a.phoneNumberId, body: 'x' }))), 401],
    ['another tenant’s secret', () => { const body = metaSerialize(buildTextMessage({ phoneNumberId: a.phoneNumberId, body: 'x' })); return post(`/webhook/meta`, body, signMeta(b.appSecret, body)); }, 401],
    // No tenant owns the number, so no secret can verify it: 401, revealing nothing about which numbers are customers.
    ['an unknown phone number id', () => { const body = metaSerialize(buildTextMessage({ phoneNumberId: '99999999999', body: 'x' })); return post('/webhook/meta', body, signMeta(a.appSecret, body)); }, 401],
    ['the wrong tenant in the path', () => { const body = metaSerialize(buildTextMessage({ phoneNumberId: a.phoneNumberId, body: 'x' })); return post(`/webhook/meta/${b.tenantId}`, body, signMeta(b.appSecret, body)); }, 404],
    ['an unknown tenant in the path', () => { const body = metaSerialize(buildTextMessage({ phoneNumberId: a.phoneNumberId, body: 'x' })); return post('/webhook/meta/no-such-tenant', body, signMeta(a.appSecret, body)); }, 401],
    ['malformed JSON', () => post(`/webhook/meta/${a.tenantId}`, '{"object":', signMeta(a.appSecret, '{"object":')), 400],
    ['an empty entry list', () => { const body = '{"object":"whatsapp_business_account","entry":[]}'; return post(`/webhook/meta/${a.tenantId}`, body, signMeta(a.appSecret, body)); }, 400],
    ['a Genesys webhook with a bad signature', () => post(`/webhook/genesys/${a.tenantId}`, '{"id":"x","type":"Text","channel":{"to":{"id":"1"}},"text":"x"}', signGenesys('nope-nope-nope-nope', 'x')), 401],
    ['a Genesys webhook for an unknown tenant', () => { const body = '{"id":"x","type":"Text"}'; return post('/webhook/genesys/no-such-tenant', body, signGenesys(a.webhookSecret, body)); }, 401],
    // A correctly signed Genesys webhook is never refused, malformed or not (#10 kind 8: a non-2xx can
    // fail the agent's whole conversation): webhook-service/test/routing.test.ts covers those paths.
  ] as Array<[string, () => request.Test, number]>).map(([name, send, status]) => [`${name} → ${status}`, send, status] as const))('%s', async (_name, send, status) => {
    const before = await countStored();
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toMatch(/^[A-Z_]+$/);
    expect(await countStored()).toBe(before);
  });

  it('accepts a 3 MB batch of 1,000 messages whole, and refuses a larger body with 413', async () => {
    const filler = 'x'.repeat(2_900);
    const payloads = Array.from({ length: 1000 }, (_, i) => buildTextMessage({ phoneNumberId: b.phoneNumberId, from: `1650556${String(i).padStart(4, '0')}`, body: `${i} ${filler}` }));
    const body = metaSerialize(batch(payloads));
    expect(body.length).toBeGreaterThan(2_900_000);
    expect(body.length).toBeLessThan(3_200_000);
    const res = await post(`/webhook/meta/${b.tenantId}`, body, signMeta(b.appSecret, body));
    expect(res.status).toBe(200);
    expect(res.body.newMessages).toBe(1000);
    const big = `{"object":"whatsapp_business_account","entry":[],"pad":"${'y'.repeat(5_000_000)}"}`;
    const tooBig = await post(`/webhook/meta/${b.tenantId}`, big, signMeta(b.appSecret, big));
    expect(tooBig.status).toBe(413);
    await eventually(() => genesysFor(b).length >= 1000, 60_000, '1,000 messages at Genesys');
  }, 90_000);
});

describe('duplicates', () => {
  it('delivers a webhook Meta sends twice exactly once', async () => {
    const inbound = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550301', body: 'twice?' });
    const res = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${a.tenantId}`, payload: inbound, appSecret: a.appSecret, duplicate: true });
    expect(res.statuses).toEqual([200, 200]);
    await eventually(() => genesysFor(a).some((m) => m.body.channel.messageId === wamidOf(inbound)));
    // Stored once and delivered: the second copy of the webhook added nothing (a second job would
    // add a copy at Genesys that no uncertain attempt accounts for, caught below).
    const stored = await ownerQuery(bridge.sys.tdb, `SELECT id, status, uncertain_attempts FROM message_tracking WHERE tenant_id = $1 AND wamid = $2`, [a.tenantId, wamidOf(inbound)]);
    expect(stored).toHaveLength(1);
    await eventually(async () => (await ownerQuery(bridge.sys.tdb, `SELECT status FROM message_tracking WHERE id = $1`, [stored[0].id]))[0].status === 'delivered');
    await new Promise((r) => setTimeout(r, 300));
    // One delivery to Genesys; on a starved machine an attempt cut off by HTTP_TIMEOUT_MS (2 s here)
    // may have reached Genesys before it was retried: the bridge flags such an attempt
    // (uncertain_attempts), and only such an attempt may add a copy.
    const [{ uncertain_attempts: uncertain }] = await ownerQuery(bridge.sys.tdb, `SELECT uncertain_attempts FROM message_tracking WHERE id = $1`, [stored[0].id]);
    const copies = genesysFor(a).filter((m) => m.body.channel.messageId === wamidOf(inbound)).length;
    expect(copies).toBeGreaterThanOrEqual(1);
    expect(copies - 1).toBeLessThanOrEqual(Number(uncertain));
  });

  it('sends an agent reply Genesys delivers twice exactly once', async () => {
    await customerWrites(a, '16505550302');
    const reply = await bridge.genesys.agentReply({
      webhookUrl: `${gateway}/webhook/genesys/${a.tenantId}`,
      secret: a.webhookSecret,
      integrationId: a.integrationId,
      to: '16505550302',
      text: 'only once',
      duplicate: true,
    });
    expect(reply.delivered).toBe(true);
    await eventually(() => sendsFor(a).some((s) => s.body.text?.body === 'only once'));
    const stored = await ownerQuery(
      bridge.sys.tdb,
      `SELECT id FROM message_tracking WHERE tenant_id = $1 AND direction = 'outbound' AND wa_id = '16505550302' AND payload::text LIKE '%only once%'`,
      [a.tenantId],
    );
    expect(stored).toHaveLength(1);
    await eventually(async () => (await ownerQuery(bridge.sys.tdb, `SELECT status FROM message_tracking WHERE id = $1`, [stored[0].id]))[0].status !== 'pending');
    await new Promise((r) => setTimeout(r, 300));
    // As above: only an attempt the bridge flagged uncertain (cut off on a starved machine) may add a copy.
    const [{ uncertain_attempts: uncertain }] = await ownerQuery(bridge.sys.tdb, `SELECT uncertain_attempts FROM message_tracking WHERE id = $1`, [stored[0].id]);
    const copies = sendsFor(a).filter((s) => s.body.text?.body === 'only once').length;
    expect(copies).toBeGreaterThanOrEqual(1);
    expect(copies - 1).toBeLessThanOrEqual(Number(uncertain));
  });
});

describe('failures', () => {
  it('turns Meta 131047 on an agent reply into a Failed/MessageExpired receipt, without retrying', async () => {
    await customerWrites(a, '16505550401');
    bridge.meta.failNext(1, { code: 131047, phoneNumberId: a.phoneNumberId });
    const reply = await bridge.genesys.agentReply({
      webhookUrl: `${gateway}/webhook/genesys/${a.tenantId}`,
      secret: a.webhookSecret,
      integrationId: a.integrationId,
      to: '16505550401',
      text: 'too late',
    });
    const receipt = await eventually(() => bridge.genesys.receipts(a.integrationId).find((r) => r.body.id === reply.id), 10_000, 'Failed receipt');
    expect(receipt.body).toMatchObject({ status: 'Failed', reasons: [{ code: 'MessageExpired' }], isFinalReceipt: true });
    await new Promise((r) => setTimeout(r, 300));
    const calls = bridge.meta.calls.filter((c) => c.phoneNumberId === a.phoneNumberId && c.errorCode === 131047);
    expect(calls).toHaveLength(1);
    expect(sendsFor(a).some((s) => s.body.text?.body === 'too late')).toBe(false);
    const [row] = await ownerQuery<{ status: string; error_code: string }>(bridge.sys.tdb, 'SELECT status, error_code FROM message_tracking WHERE tenant_id = $1 AND genesys_message_id = $2', [a.tenantId, reply.id]);
    expect(row).toEqual({ status: 'failed', error_code: '131047' });
    // Visible to the tenant.
    const failed = await request(gateway).get('/state/messages?status=failed&direction=outbound').set('X-API-Key', a.apiKey);
    expect(failed.status).toBe(200);
    expect(failed.body.messages.find((m: { genesysMessageId: string }) => m.genesysMessageId === reply.id)).toMatchObject({
      waId: '16505550401',
      status: 'failed',
      errorCode: '131047',
    });
    expect((await request(gateway).get('/state/messages?status=failed').set('X-API-Key', b.apiKey)).body.messages).toEqual([]);
  });

  it('dead-letters a delivery that keeps failing past its retry budget, visibly', async () => {
    const t = await bridge.onboard();
    bridge.genesys.setOutage(true, { integrationId: t.integrationId });
    const inbound = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: '16505550403', body: 'into the void' });
    await metaWebhook(t, inbound);
    const dead = await eventually(async () => {
      const res = await request(gateway).get('/state/messages?status=dead').set('X-API-Key', t.apiKey);
      return res.body.messages[0];
    }, 10_000, 'a dead message');
    expect(dead).toMatchObject({ wamid: wamidOf(inbound), direction: 'inbound', status: 'dead' });
    // The last failure: Genesys answering 503, or the tenant's circuit open after those 503s.
    expect(dead.errorCode).toMatch(/^(GENESYS_UNAVAILABLE|CIRCUIT_OPEN)$/);
    const [job] = await ownerQuery<{ state: string; last_error: string }>(bridge.sys.tdb, 'SELECT state, last_error FROM outbox WHERE tenant_id = $1', [t.tenantId]);
    expect(job.state).toBe('dead');
    bridge.genesys.setOutage(false, { integrationId: t.integrationId });
  });

  it('reports a Meta `failed` status as a Failed receipt with the mapped reason', async () => {
    await customerWrites(a, '16505550402');
    const reply = await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${a.tenantId}`, secret: a.webhookSecret, integrationId: a.integrationId, to: '16505550402', text: 'will fail later' });
    const sent = await eventually(() => sendsFor(a).find((s) => s.body.text?.body === 'will fail later'));
    await eventually(async () => (await ownerQuery(bridge.sys.tdb, 'SELECT 1 FROM message_tracking WHERE tenant_id = $1 AND wamid = $2', [a.tenantId, sent.wamid])).length === 1);
    await metaWebhook(a, buildFailedStatus({ phoneNumberId: a.phoneNumberId, wamid: sent.wamid, recipientId: '16505550402', errorCode: 131026 }));
    const receipt = await eventually(() => bridge.genesys.receipts(a.integrationId).find((r) => r.body.id === reply.id && r.body.status === 'Failed'));
    expect(receipt.body.reasons?.[0].code).toMatch(/^[A-Za-z]+$/);
  });
});

describe('credentials changed', () => {
  it('take effect at once: the next reply uses the new Meta token, the next delivery the new Genesys secret', async () => {
    const t = await bridge.onboard();
    const waId = '16505550601';
    await metaWebhook(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'first' }));
    await eventually(() => genesysFor(t).length === 1);

    const rotated = { ...t, accessToken: `EAAG-rotated-${Date.now()}`, clientSecret: `rotated-secret-${Date.now()}` };
    bridge.meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: rotated.accessToken, wabaId: t.wabaId });
    bridge.genesys.addOrg({ clientId: t.clientId, clientSecret: rotated.clientSecret, integrationId: t.integrationId });
    bridge.genesys.revokeTokens(t.clientId);
    for (const type of ['meta', 'genesys'] as const) {
      const credentials =
        type === 'meta'
          ? { appSecret: t.appSecret, verifyToken: t.verifyToken, accessToken: rotated.accessToken, phoneNumberId: t.phoneNumberId, wabaId: t.wabaId }
          : { clientId: t.clientId, clientSecret: rotated.clientSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret };
      await bridge.sys.admin('post', `/tenants/${t.tenantId}/credentials`).send({ type, credentials }).expect(201);
    }
    await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to: waId, text: 'after rotation' });
    const sent = await eventually(() => sendsFor(t).find((s) => s.body.text?.body === 'after rotation'));
    expect(sent.token).toBe(rotated.accessToken);
    await metaWebhook(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'second' }));
    await eventually(() => genesysFor(t).some((m) => m.body.text === 'second'));
  });
});

describe('media', () => {
  it('hands Genesys a signed link of ours that streams the customer’s image from Meta', async () => {
    const bytes = Buffer.from('\x89PNG\r\n fake image bytes 🖼️');
    const media = bridge.meta.addMedia({ mediaId: `media-${Date.now()}`, bytes, mimeType: 'image/png', phoneNumberId: a.phoneNumberId });
    const inbound = buildImageMessage({ phoneNumberId: a.phoneNumberId, from: '16505550701', mediaId: media.mediaId, mimeType: 'image/png', sha256: media.sha256Base64, caption: 'this one' });
    await metaWebhook(a, inbound);
    const got = await eventually(() => genesysFor(a).find((m) => m.body.channel.messageId === wamidOf(inbound)));
    const attachment = got.body.content![0].attachment;
    expect(attachment).toMatchObject({ mediaType: 'Image', mime: 'image/png' });
    expect(got.body.text).toBe('this one');
    expect(attachment.url.startsWith('http://bridge.test:3000/webhook/media/')).toBe(true);
    // Genesys fetches it through the gateway, with no API key.
    const link = new URL(attachment.url);
    const res = await request(gateway).get(`${link.pathname}${link.search}`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^image\/png/);
    expect(Buffer.compare(res.body as Buffer, bytes)).toBe(0);
    link.searchParams.set('mime', 'text/html');
    expect((await request(gateway).get(`${link.pathname}${link.search}`)).status).toBe(403);
  });

  it("stops a suspended or deleted tenant's links on the very next request", async () => {
    const t = await bridge.onboard();
    const media = bridge.meta.addMedia({ mediaId: `media-status-${Date.now()}`, bytes: Buffer.from('\x89PNG tiny'), mimeType: 'image/png', phoneNumberId: t.phoneNumberId });
    const inbound = buildImageMessage({ phoneNumberId: t.phoneNumberId, from: '16505550703', mediaId: media.mediaId, mimeType: 'image/png', sha256: media.sha256Base64 });
    await metaWebhook(t, inbound);
    const got = await eventually(() => genesysFor(t).find((m) => m.body.channel.messageId === wamidOf(inbound)));
    const link = new URL(got.body.content![0].attachment.url);
    const fetchLink = () => request(gateway).get(`${link.pathname}${link.search}`);
    expect((await fetchLink()).status).toBe(200);

    await bridge.sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended', reason: 'Unpaid invoice' }).expect(200);
    const suspended = await fetchLink();
    expect(suspended.status).toBe(423);
    expect(suspended.body.error.code).toBe('TENANT_SUSPENDED');
    expect(suspended.body.error.message).toBe('This tenant is suspended: Unpaid invoice');
    expect(suspended.headers['content-security-policy']).toContain('sandbox');

    await bridge.sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'active' }).expect(200);
    expect((await fetchLink()).status).toBe(200);

    await bridge.sys.admin('delete', `/tenants/${t.tenantId}`).expect(204);
    const deleted = await fetchLink();
    expect(deleted.status).toBe(404);
    expect(deleted.body.error.code).toBe('TENANT_NOT_FOUND');
  });

  it('sends an agent’s image attachment to WhatsApp as a media message with its caption', async () => {
    await customerWrites(a, '16505550702');
    await bridge.genesys.agentReply({
      webhookUrl: `${gateway}/webhook/genesys/${a.tenantId}`,
      secret: a.webhookSecret,
      integrationId: a.integrationId,
      to: '16505550702',
      text: 'our catalogue',
      content: [{ contentType: 'Attachment', attachment: { mediaType: 'Image', url: 'https://cdn.example.com/catalogue.png', mime: 'image/png', filename: 'catalogue.png' } }],
    });
    const sent = await eventually(() => sendsFor(a).find((s) => s.body.to === '16505550702'));
    expect(sent.body).toMatchObject({ type: 'image', image: { link: 'https://cdn.example.com/catalogue.png', caption: 'our catalogue' } });
  });
});

describe('Genesys receipts and typing', () => {
  it('are recorded once; no message goes to WhatsApp for them (typing for a customer who never wrote shows nothing: read-marks-and-typing.test.ts)', async () => {
    const sendsBefore = sendsFor(a).length;
    const typing = await bridge.genesys.agentTyping({ webhookUrl: `${gateway}/webhook/genesys/${a.tenantId}`, secret: a.webhookSecret, integrationId: a.integrationId, to: '16505550801', duplicate: true });
    expect(typing.delivered).toBe(true);
    const receiptBody = JSON.stringify({
      id: 'genesys-receipt-1',
      channel: { id: a.integrationId, platform: 'Open', type: 'Private', to: { id: '16505550801' }, from: { id: a.integrationId, idType: 'Opaque', nickname: 'x' }, time: new Date().toISOString(), messageId: 'genesys-receipt-1' },
      type: 'Receipt',
      status: 'Delivered',
      direction: 'Outbound',
    });
    for (let i = 0; i < 2; i++) {
      const res = await bridge.genesys.sendRawOutbound({ webhookUrl: `${gateway}/webhook/genesys/${a.tenantId}`, body: receiptBody, signatureSecret: a.webhookSecret });
      expect(res.status).toBe(200);
    }
    const events = await ownerQuery<{ kind: string }>(bridge.sys.tdb, `SELECT kind FROM message_events WHERE tenant_id = $1 AND source = 'genesys' ORDER BY id`, [a.tenantId]);
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['event', 'receipt']));
    expect(events.filter((e) => e.kind === 'receipt')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'event')).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(sendsFor(a).length).toBe(sendsBefore);
  });
});

describe('unicode', () => {
  it('survives both ways, and a signature over escaped-unicode bytes verifies', async () => {
    const text = 'Olá Zoë! 😀 مرحبا بك — שלום 👋🏽';
    const inbound = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550501', profileName: 'Zoë Ångström-محمد', body: text });
    const res = await metaWebhook(a, inbound);
    expect(res.statuses).toEqual([200]);
    expect(res.bodyText).toContain('\\u00e4'.slice(0, 2)); // sent escaped, as Meta does
    expect(res.bodyText).not.toContain('😀');
    const got = await eventually(() => genesysFor(a).find((m) => m.body.channel.messageId === wamidOf(inbound)));
    expect(got.body.text).toBe(text);
    expect(got.body.channel.from.nickname).toBe('Zoë Ångström-محمد');

    await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${a.tenantId}`, secret: a.webhookSecret, integrationId: a.integrationId, to: '16505550501', text: `↩️ ${text}` });
    const sent = await eventually(() => sendsFor(a).find((s) => s.body.to === '16505550501'));
    expect(sent.body.text?.body).toBe(`↩️ ${text}`);
  });
});
