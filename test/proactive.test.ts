import request from 'supertest';
import { Client } from 'pg';
import { buildStatus, type GenesysAgentlessRecord } from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Proactive messages through the whole platform, with the Meta and Genesys simulators: POST
 * /messages through the gateway, the send to WhatsApp through the outbox, its statuses on
 * GET /messages/:id, Idempotency-Key, and its agentless copy in Genesys, which comes back through
 * our outbound webhook and is never sent to WhatsApp a second time.
 */
let bridge: Bridge;
let gateway: string;
let a: BridgeTenant;
let b: BridgeTenant;
const BODY = 'Hi {{1}}, your order {{2}} has shipped.';

beforeAll(async () => {
  bridge = await startBridge({ env: { DELIVERY_RETRY_BUDGET_MS: '5000' } });
  gateway = bridge.sys.urls.gateway;
  [a, b] = [await onboard(), await onboard()];
});
afterAll(async () => {
  await bridge.stop();
});

/**
 * A tenant whose WABA has the template order_update (en_US) at Meta and, synced, in its catalogue,
 * and whose Genesys integration delivers agentless messages to our outbound webhook.
 */
async function onboard(): Promise<BridgeTenant> {
  const t = await bridge.onboard({ templates: [{ name: 'order_update', language: 'en_US', body: BODY }] });
  bridge.genesys.setOutboundWebhook({ integrationId: t.integrationId, webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret });
  return t;
}

const send = (t: { apiKey: string }, body: object, key?: string) => {
  const req = request(gateway).post('/messages').set('X-API-Key', t.apiKey);
  if (key) req.set('Idempotency-Key', key);
  return req.send(body);
};
const read = (t: { apiKey: string }, id: string) => request(gateway).get(`/messages/${id}`).set('X-API-Key', t.apiKey);
const orderUpdate = (to: string, parameters = ['Ana', '#4411']) => ({ to, template: { name: 'order_update', language: 'en_US', parameters } });
const sendsTo = (t: BridgeTenant, to: string) => bridge.meta.sends(t.phoneNumberId).filter((s) => s.body.to === to);
const copiesTo = (t: BridgeTenant, to: string) => bridge.genesys.agentlessMessages(t.integrationId).filter((r) => r.body.toAddress === to);
const owner = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<R>(bridge.sys.tdb, sql, params);

/** Waits until the status of `id` is `status` on GET /messages/:id; returns the message. */
const statusOf = (t: BridgeTenant, id: string, status: string) =>
  eventually(async () => {
    const res = await read(t, id);
    return res.body.status === status ? res.body : undefined;
  }, 10_000, `message ${id} ${status}`);

/** The one agentless copy to `to`, once Genesys has delivered it to our webhook. */
async function deliveredCopy(t: BridgeTenant, to: string): Promise<GenesysAgentlessRecord> {
  const record = await eventually(() => copiesTo(t, to).find((r) => r.delivery), 10_000, 'the copy delivered to our webhook');
  expect(record.delivery!.statuses).toEqual([200]);
  return record;
}

/** The outbound rows of `to` other than proactive messages (what a copy taken for an agent message would be). */
const agentRowsTo = async (t: BridgeTenant, to: string) =>
  Number((await owner<{ n: string }>(`SELECT count(*) AS n FROM message_tracking WHERE tenant_id = $1 AND wa_id = $2 AND origin = 'provider'`, [t.tenantId, to]))[0].n);

describe('a proactive template, end to end', () => {
  it('202 → sent → delivered → read on GET /messages/:id; its copy reaches Genesys once and is not sent to WhatsApp again', async () => {
    const to = '16505550701';
    const accepted = await send(a, orderUpdate(to), 'order-4411');
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ id: expect.stringMatching(/^\d+$/), status: 'queued', to, type: 'template' });
    const id = accepted.body.id as string;

    const sent = await eventually(() => sendsTo(a, to)[0], 10_000, 'the template at Meta');
    expect(sent.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to,
      type: 'template',
      template: { name: 'order_update', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }, { type: 'text', text: '#4411' }] }] },
    });
    expect(sent.template?.body).toBe('Hi Ana, your order #4411 has shipped.');
    expect(await statusOf(a, id, 'sent')).toMatchObject({ wamid: sent.wamid });

    // The copy: posted once, as the customer reads it, into their conversation; delivered back to us.
    const copy = await deliveredCopy(a, to);
    expect(copy.body).toEqual({ fromAddress: a.integrationId, toAddress: to, toAddressMessengerType: 'open', textBody: 'Hi Ana, your order #4411 has shipped.', useExistingActiveConversation: true });
    const posted = await eventually(async () => {
      const res = await read(a, id);
      return res.body.genesysCopy?.status === 'posted' ? res.body.genesysCopy : undefined;
    }, 10_000, 'the copy recorded');
    expect(posted).toEqual({ status: 'posted', genesysMessageId: copy.response.id });
    // Our webhook took it for what it is: nothing more for WhatsApp.
    const [row] = await owner<{ genesys_message_id: string }>('SELECT genesys_message_id FROM message_tracking WHERE id = $1', [id]);
    expect(row.genesys_message_id).toBe(copy.response.id);
    expect(await agentRowsTo(a, to)).toBe(0);
    expect(sendsTo(a, to)).toHaveLength(1);
    expect(copiesTo(a, to)).toHaveLength(1);

    for (const status of ['delivered', 'read'] as const) {
      const res = await bridge.meta.deliverWebhook({
        url: `${gateway}/webhook/meta/${a.tenantId}`,
        payload: buildStatus({ phoneNumberId: a.phoneNumberId, wamid: sent.wamid, status, recipientId: to }),
        appSecret: a.appSecret,
        maxAttempts: 1,
      });
      expect(res.statuses).toEqual([200]);
      const shown = await statusOf(a, id, status);
      expect(shown).toMatchObject({ id, to, wamid: sent.wamid, template: { name: 'order_update', language: 'en_US', parameters: ['Ana', '#4411'] } });
    }
    // Now that the message has the copy's Genesys id, Genesys hears of its delivery like of an agent's.
    const receipts = await eventually(() => {
      const r = bridge.genesys.receipts(a.integrationId).filter((x) => x.body.id === copy.response.id);
      return r.length === 2 ? r : undefined;
    }, 10_000, 'receipts of the copy');
    expect(receipts.map((r) => [r.body.status, r.body.isFinalReceipt])).toEqual([
      ['Delivered', false],
      ['Delivered', true],
    ]);
  });

  it('the same Idempotency-Key again, and three times at once: one message, one send, one copy', async () => {
    const to = '16505550702';
    const first = await send(a, orderUpdate(to, ['Bo', '#77']), 'bo-77');
    const again = await Promise.all([0, 1, 2].map(() => send(a, orderUpdate(to, ['Bo', '#77']), 'bo-77')));
    expect([first, ...again].map((r) => [r.status, r.body.id])).toEqual(Array(4).fill([202, first.body.id]));
    const burst = await Promise.all([0, 1, 2].map(() => send(a, orderUpdate(to, ['Bo', '#78']), 'bo-78')));
    expect(new Set(burst.map((r) => r.body.id)).size).toBe(1);

    // Both messages sent and their copies back: whatever a second send would be, it would be queued by now.
    for (const id of [first.body.id, burst[0].body.id]) {
      await eventually(async () => (await read(a, id)).body.genesysCopy?.status === 'posted', 10_000, 'copy posted');
    }
    await eventually(() => copiesTo(a, to).filter((r) => r.delivery).length === 2, 10_000, 'both copies delivered back');
    const [pending] = await owner<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE tenant_id = $1 AND kind = 'to_whatsapp_message'`, [a.tenantId]);
    expect(Number(pending.n)).toBe(0);
    expect(sendsTo(a, to)).toHaveLength(2);
    expect(await agentRowsTo(a, to)).toBe(0);

    const other = await send(a, orderUpdate(to, ['Bo', '#79']), 'bo-77');
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('its copy delivered to our webhook before the post’s answer is recorded, and again later: still one send to WhatsApp', async () => {
    const c = await onboard();
    const to = '16505550703';
    // Genesys answers the post slowly; meanwhile the test holds the job's row, so the connector
    // cannot record the answer until the copy has come back through our webhook.
    bridge.genesys.setLatency(1_500, { integrationId: c.integrationId });
    const holder = new Client({ connectionString: bridge.sys.tdb.ownerUrl });
    await holder.connect();
    try {
      const { body } = await send(c, orderUpdate(to), 'early-copy');
      const id = body.id as string;
      await eventually(async () => {
        const [echo] = await owner<{ posts: number }>('SELECT posts FROM agentless_echoes WHERE tenant_id = $1 AND message_id = $2', [c.tenantId, id]);
        return echo?.posts === 1;
      }, 10_000, 'the post counted (the call under way)');
      await holder.query('BEGIN');
      const held = await holder.query(`SELECT id FROM outbox WHERE tenant_id = $1 AND kind = 'to_genesys_agentless' AND message_id = $2 FOR UPDATE`, [c.tenantId, id]);
      expect(held.rowCount).toBe(1);

      const copy = await deliveredCopy(c, to);
      // Recognised by recipient and text: the message has the copy's id although the connector has not recorded it.
      const [early] = await owner<{ genesys_message_id: string; echoes: number; ids: string[] }>(
        `SELECT m.genesys_message_id, e.echoes, e.genesys_message_ids AS ids FROM message_tracking m JOIN agentless_echoes e ON e.tenant_id = m.tenant_id AND e.message_id = m.id WHERE m.id = $1`,
        [id],
      );
      expect(early).toEqual({ genesys_message_id: copy.response.id, echoes: 1, ids: [copy.response.id] });
      expect(await agentRowsTo(c, to)).toBe(0);
      await holder.query('ROLLBACK');

      await eventually(async () => {
        const [n] = await owner<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE tenant_id = $1 AND message_id = $2`, [c.tenantId, id]);
        return n.n === '0';
      }, 10_000, 'the post recorded');
      expect((await read(c, id)).body.genesysCopy).toEqual({ status: 'posted', genesysMessageId: copy.response.id });

      // Genesys delivers the same copy again (its retries): nothing is sent.
      const redelivered = await bridge.genesys.agentReply({
        webhookUrl: `${gateway}/webhook/genesys/${c.tenantId}`,
        secret: c.webhookSecret,
        integrationId: c.integrationId,
        to,
        id: copy.response.id,
        text: copy.body.textBody,
      });
      expect(redelivered.statuses).toEqual([200]);
      expect(JSON.parse(redelivered.attempts[0].responseBody ?? '{}')).toEqual({ status: 'duplicate' });
      expect(await agentRowsTo(c, to)).toBe(0);
      const [queued] = await owner<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE tenant_id = $1 AND kind = 'to_whatsapp_message'`, [c.tenantId]);
      expect(queued.n).toBe('0');
      expect(sendsTo(c, to)).toHaveLength(1);
      expect(copiesTo(c, to)).toHaveLength(1);
    } finally {
      bridge.genesys.setLatency(0, { integrationId: c.integrationId });
      await holder.end();
    }
  });
});

describe('refused through the gateway', () => {
  it('another tenant’s message id → 404 MESSAGE_NOT_FOUND', async () => {
    const { body } = await send(a, orderUpdate('16505550704'));
    expect((await read(a, body.id)).status).toBe(200);
    const res = await read(b, body.id);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('MESSAGE_NOT_FOUND');
  });

  it('a tenant without Meta credentials → 409 META_NOT_CONFIGURED', async () => {
    const bare = await bridge.sys.createTenant({ apiKeyScopes: ['messages:send'] });
    const res = await send(bare, orderUpdate('16505550705'));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('META_NOT_CONFIGURED');
  });

  it('an unknown template → 422 with the reason; text to a customer whose window is not open → 422; bad input → 400 naming the field', async () => {
    const unknown = await send(a, { to: '16505550706', template: { name: 'order_updated', language: 'en_US', parameters: [] } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'TEMPLATE_NOT_FOUND', message: expect.stringContaining('order_update (en_US): 2 parameter(s)') });
    const text = await send(a, { to: '16505550706', text: 'Hello?' });
    expect(text.status).toBe(422);
    expect(text.body.error.code).toBe('WINDOW_CLOSED');
    const bad = await send(a, { to: 'sixteen', text: 'Hello?' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^to: /);
    expect(sendsTo(a, '16505550706')).toEqual([]);
  });
});

/** A tenant and a client that try what the docs do not promise (issue #11, attack pass). */
describe('as a hostile client, through the gateway', () => {
  it('a template whose placeholders stand out of order: the text shown, its copy in Genesys and what WhatsApp shows are one text', async () => {
    // Onboarded with its templates: Meta's catalogue, synced by tenant-service.
    const t = await bridge.onboard({
      templates: [
        { name: 'pickup', language: 'en_US', body: 'Order {{2}} is ready for {{1}}.' },
        { name: 'named_hello', language: 'en_US', body: 'Hi {{first_name}}, about {{topic}}.' },
      ],
    });
    bridge.genesys.setOutboundWebhook({ integrationId: t.integrationId, webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret });

    const to = '16505550801';
    const accepted = await send(t, { to, template: { name: 'pickup', language: 'en_US', parameters: ['Ana', '#4411'] } });
    expect(accepted.status).toBe(202);
    const sent = await eventually(() => sendsTo(t, to)[0], 10_000, 'the template at Meta');
    expect(sent.template?.body).toBe('Order #4411 is ready for Ana.');
    expect(accepted.body.rendered).toBe(sent.template?.body);
    expect((await deliveredCopy(t, to)).body.textBody).toBe(sent.template?.body);

    // Named placeholders: each parameter names its placeholder, as Meta requires.
    const other = '16505550802';
    expect((await send(t, { to: other, template: { name: 'named_hello', language: 'en_US', parameters: ['Ana', 'billing'] } })).status).toBe(202);
    const named = await eventually(() => sendsTo(t, other)[0], 10_000, 'the named template at Meta');
    expect((named.body.template as { components: unknown[] }).components).toEqual([
      { type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Ana' }, { type: 'text', parameter_name: 'topic', text: 'billing' }] },
    ]);
    expect(named.template?.body).toBe('Hi Ana, about billing.');
  });

  it('POST /messages counts against the tenant’s rate limit: 429 with Retry-After in the contract’s shape', async () => {
    const t = await bridge.onboard({ rateLimit: 2 });
    const to = '16505550803';
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await send(t, { to, text: `hello ${i}` }));
    // The first reaches state-manager (no window open: 422); the last is refused at the gateway.
    expect(answers[0].status).toBe(422);
    const limited = answers[3];
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.body.error).toMatchObject({ code: 'RATE_LIMITED', message: expect.any(String), requestId: expect.any(String) });
  });

  it('with a JWT as with the key; answers and errors never carry the tenant’s Meta token or app secret', async () => {
    const token = (await request(gateway).post('/auth/token').set('X-API-Key', a.apiKey)).body.token as string;
    const to = '16505550804';
    const answers = [
      await request(gateway).post('/messages').set('Authorization', `Bearer ${token}`).send(orderUpdate(to)),
      await request(gateway).post('/messages').set('Authorization', `Bearer ${token}`).send({ to, template: { name: 'nope', language: 'en_US' } }),
      await request(gateway).post('/messages').set('Authorization', `Bearer ${token}`).send({ to, text: 'window?' }),
      await request(gateway).get('/templates').set('Authorization', `Bearer ${token}`),
    ];
    expect(answers.map((r) => r.status)).toEqual([202, 422, 422, 200]);
    answers.push(await request(gateway).get(`/messages/${answers[0].body.id}`).set('Authorization', `Bearer ${token}`));
    await eventually(async () => (await read(a, answers[0].body.id)).body.status === 'sent', 10_000, 'sent');
    answers.push(await read(a, answers[0].body.id));
    for (const r of answers) {
      const text = JSON.stringify({ body: r.body, headers: r.headers });
      expect(text).not.toContain(a.accessToken);
      expect(text).not.toContain(a.appSecret);
    }
  });
});
