import { createHmac } from 'node:crypto';
import { startGenesysSimulator, type GenesysSimulator } from '@bridge/simulators';
import { post, startReceiver, type Receiver } from './helpers';

describe('Genesys simulator: agentless messages', () => {
  let sim: GenesysSimulator;
  let receiver: Receiver;
  const ORG_A = { clientId: 'client-a', clientSecret: 'secret-a', integrationId: 'integ-a' };
  const ORG_B = { clientId: 'client-b', clientSecret: 'secret-b', integrationId: 'integ-b' };
  const SECRET = 'genesys-webhook-secret-0123456789';
  const CUSTOMER = '16505551234';

  beforeAll(async () => {
    sim = await startGenesysSimulator({ retryDelayMs: 20 });
    sim.addOrg(ORG_A);
    sim.addOrg(ORG_B);
    sim.addOrg({ clientId: 'client-c', clientSecret: 'secret-c', integrationId: 'integ-unwired' });
    receiver = await startReceiver();
    sim.setOutboundWebhook({ integrationId: 'integ-a', webhookUrl: receiver.url, secret: SECRET, headers: { 'X-Tenant-Hint': 'acme' }, nickname: 'Acme' });
  });
  afterAll(async () => {
    await receiver.close();
    await sim.close();
  });
  beforeEach(() => {
    sim.reset();
    receiver.received.length = 0;
    receiver.script.length = 0;
  });
  // Deliveries run after the 202: let each test's finish before the next one looks at the receiver.
  afterEach(async () => {
    const deadline = Date.now() + 5000;
    while (!sim.agentlessMessages().every((r) => r.delivery || r.deliverySkipped) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  async function token(org: { clientId: string; clientSecret: string } = ORG_A): Promise<string> {
    const res = await fetch(`${sim.url}/oauth/token`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${org.clientId}:${org.clientSecret}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    return ((await res.json()) as { access_token: string }).access_token;
  }
  const url = () => `${sim.url}/api/v2/conversations/messages/agentless`;
  const agentless = async (body: unknown, org: { clientId: string; clientSecret: string } = ORG_A) => post(url(), body, { Authorization: `Bearer ${await token(org)}` });
  const valid = (extra: Record<string, unknown> = {}) => ({
    fromAddress: 'integ-a',
    toAddress: CUSTOMER,
    toAddressMessengerType: 'open',
    textBody: 'Your order #123 ships today.',
    ...extra,
  });

  it('answers 202 with the documented fields, records it, then delivers it to the integration’s webhook as Genesys does', async () => {
    const res = await agentless(valid());
    expect(res.status).toBe(202);
    expect(res.json).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      conversationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      fromAddress: 'integ-a',
      toAddress: CUSTOMER,
      messengerType: 'open',
      textBody: 'Your order #123 ships today.',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
    });
    const [record] = sim.agentlessMessages('integ-a');
    expect(record).toMatchObject({ integrationId: 'integ-a', clientId: 'client-a', body: valid(), response: res.json });
    expect(record.headers.authorization).toBe('Bearer [REDACTED]');

    const sent = await sim.waitForOutbound((o) => o.kind === 'agentless' && o.messageId === res.json.id, 2000);
    expect(sent.delivered).toBe(true);
    const [got] = receiver.received;
    expect(got.raw.toString('utf8')).toBe(sent.raw);
    expect(got.headers['x-hub-signature-256']).toBe(`sha256=${createHmac('sha256', SECRET).update(got.raw).digest('base64')}`);
    expect(got.headers['x-tenant-hint']).toBe('acme');
    expect(JSON.parse(got.raw.toString('utf8'))).toEqual({
      id: res.json.id,
      channel: {
        id: 'integ-a',
        platform: 'Open',
        type: 'Private',
        to: { id: CUSTOMER },
        from: { nickname: 'Acme', id: 'integ-a', idType: 'Opaque' },
        time: res.json.timestamp,
        messageId: res.json.id,
      },
      type: 'Text',
      text: 'Your order #123 ships today.',
      direction: 'Outbound',
    });
    expect(sim.agentlessMessages()[0].delivery?.statuses).toEqual([200]);
    expect(sim.calls.filter((c) => c.endpoint === 'agentless').map((c) => [c.integrationId, c.clientId, c.status])).toEqual([['integ-a', 'client-a', 202]]);
  });

  it('retries the delivery like any outbound webhook (5xx and 429, fixed delay)', async () => {
    receiver.script.push(503, 429, 200);
    const res = await agentless(valid());
    const sent = await sim.waitForOutbound((o) => o.messageId === res.json.id, 3000);
    expect(sent.attempts.map((a) => a.status)).toEqual([503, 429, 200]);
  });

  it('joins the active conversation with useExistingActiveConversation, else starts one the customer’s next message joins', async () => {
    const existing = sim.conversationIdFor('integ-a', CUSTOMER);
    const joined = await agentless(valid({ useExistingActiveConversation: true }));
    expect(joined.json).toMatchObject({ conversationId: existing, useExistingActiveConversation: true });
    const started = await agentless(valid());
    expect(started.json.conversationId).not.toBe(existing);
    expect(sim.conversationIdFor('integ-a', CUSTOMER)).toBe(started.json.conversationId);
  });

  it.each([
    ['no fromAddress', (b: any) => delete b.fromAddress, 'fromAddress'],
    ['an empty toAddress', (b: any) => (b.toAddress = ''), 'toAddress'],
    ['no messenger type', (b: any) => delete b.toAddressMessengerType, 'toAddressMessengerType'],
    ['messenger type sms', (b: any) => (b.toAddressMessengerType = 'sms'), 'only open'],
    ['an unknown messenger type', (b: any) => (b.toAddressMessengerType = 'Open'), 'toAddressMessengerType'],
    ['no textBody', (b: any) => delete b.textBody, 'textBody'],
    ['a textBody over 2000 characters', (b: any) => (b.textBody = 'x'.repeat(2001)), '2000'],
    ['a messagingTemplate', (b: any) => (b.messagingTemplate = { responseId: 'r1' }), 'messagingTemplate'],
    ['a non-boolean useExistingActiveConversation', (b: any) => (b.useExistingActiveConversation = 'yes'), 'useExistingActiveConversation'],
    ['an unknown field', (b: any) => (b.channel = {}), 'unknown field(s): channel'],
    ['another org’s integration', (b: any) => (b.fromAddress = 'integ-b'), 'not an Open Messaging integration of this organization'],
  ])('refuses %s with 400 bad.request, recording and delivering nothing', async (_name, mutate, message) => {
    const body = valid();
    mutate(body);
    const res = await agentless(body);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'bad.request', status: 400 });
    expect(res.json.message).toContain(message);
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.agentlessMessages()).toHaveLength(0);
    expect(receiver.received).toHaveLength(0);
  });

  it('needs a live bearer token, a JSON body and POST', async () => {
    expect((await post(url(), valid())).status).toBe(401);
    const bearer = { Authorization: `Bearer ${await token()}` };
    sim.revokeTokens('client-a');
    expect((await post(url(), valid(), bearer)).json).toMatchObject({ status: 401, code: 'bad.credentials' });
    const fresh = { Authorization: `Bearer ${await token()}` };
    expect((await post(url(), '{not json', fresh)).status).toBe(400);
    expect((await post(url(), JSON.stringify(valid()), { ...fresh, 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await fetch(url(), { headers: fresh })).status).toBe(405);
    expect(sim.agentlessMessages()).toHaveLength(0);
  });

  it('takes failNext and scoped outages on the agentless endpoint', async () => {
    sim.failNext(1, { status: 429, endpoint: 'agentless', integrationId: 'integ-a', retryAfterSeconds: 3 });
    const limited = await agentless(valid());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect((await agentless(valid())).status).toBe(202);
    sim.setOutage(true, { integrationId: 'integ-a' });
    expect((await agentless(valid())).status).toBe(503);
    expect((await agentless(valid({ fromAddress: 'integ-b' }), ORG_B)).status).toBe(202);
    sim.setOutage(false, { integrationId: 'integ-a' });
    expect(sim.calls.filter((c) => c.endpoint === 'agentless').map((c) => [c.status, c.injected])).toEqual([
      [429, true],
      [202, false],
      [503, true],
      [202, false],
    ]);
  });

  it('accepts a message for an integration with no webhook configured, and says why nothing was delivered', async () => {
    const res = await agentless({ ...valid(), fromAddress: 'integ-unwired' }, { clientId: 'client-c', clientSecret: 'secret-c' });
    expect(res.status).toBe(202);
    expect(sim.agentlessMessages('integ-unwired')[0].deliverySkipped).toMatch(/no outbound webhook/);
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.outbound).toHaveLength(0);
  });

  it('setOutboundWebhook refuses an unknown integration or a bad target', () => {
    expect(() => sim.setOutboundWebhook({ integrationId: 'nope', webhookUrl: receiver.url, secret: SECRET })).toThrow(/unknown integration/);
    expect(() => sim.setOutboundWebhook({ integrationId: 'integ-b', webhookUrl: 'ftp://x', secret: SECRET })).toThrow(/webhookUrl/);
    expect(() => sim.setOutboundWebhook({ integrationId: 'integ-b', webhookUrl: receiver.url, secret: '' })).toThrow(/secret/);
  });

  it('has control routes to configure outbound webhooks and read agentless messages', async () => {
    const ctl = await startGenesysSimulator({ controlApi: true, retryDelayMs: 20 });
    try {
      expect((await post(`${ctl.url}/_sim/orgs`, ORG_A)).status).toBe(201);
      expect((await post(`${ctl.url}/_sim/outbound-webhooks`, { integrationId: 'integ-a', webhookUrl: receiver.url, secret: SECRET })).status).toBe(201);
      expect((await post(`${ctl.url}/_sim/outbound-webhooks`, { integrationId: 'nope', webhookUrl: receiver.url, secret: SECRET })).status).toBe(400);
      const tok = await fetch(`${ctl.url}/oauth/token`, {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from('client-a:secret-a').toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      }).then((r) => r.json() as Promise<{ access_token: string }>);
      const res = await post(`${ctl.url}/api/v2/conversations/messages/agentless`, valid(), { Authorization: `Bearer ${tok.access_token}` });
      expect(res.status).toBe(202);
      await ctl.waitForOutbound((o) => o.messageId === res.json.id, 2000);
      const listed = (await (await fetch(`${ctl.url}/_sim/agentless`)).json()) as any[];
      expect(listed.map((r) => r.response.id)).toEqual([res.json.id]);
      expect(listed[0].delivery.delivered).toBe(true);
    } finally {
      await ctl.close();
    }
  });
});
