import { batch, buildStatus, buildTextMessage, CUSTOMER_WINDOW_MS, startMetaSimulator, type MetaSimulator } from '@bridge/simulators';
import { post, startReceiver, type Receiver } from './helpers';

describe('Meta simulator: the 24-hour customer service window', () => {
  let sim: MetaSimulator;
  let receiver: Receiver;
  const WABA = '102290129340398';
  const NUM_A = { phoneNumberId: '106540352242922', accessToken: 'EAAG-token-a', wabaId: WABA };
  const NUM_B = { phoneNumberId: '106540352242933', accessToken: 'EAAG-token-b', wabaId: WABA };
  const USER = '16505551234';
  const APP_SECRET = 'meta-app-secret';
  const MINUTE = 60_000;

  beforeAll(async () => {
    sim = await startMetaSimulator({ retryDelayMs: 10, enforceCustomerWindow: true });
    sim.addNumber(NUM_A);
    sim.addNumber(NUM_B);
    sim.addTemplate({ wabaId: WABA, name: 'reopen', language: 'en_US', body: '{{1}}' });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await sim.close();
  });
  beforeEach(() => sim.reset());

  const send = (body: Record<string, unknown>, num = NUM_A) =>
    post(`${sim.graphUrl}/${num.phoneNumberId}/messages`, { messaging_product: 'whatsapp', to: USER, ...body }, { Authorization: `Bearer ${num.accessToken}` });
  const freeForm = (t = 'hello', num = NUM_A) => send({ type: 'text', text: { body: t } }, num);
  const template = () => send({ type: 'template', template: { name: 'reopen', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'hi' }] }] } });
  const userWrites = (at: Date, num = NUM_A) =>
    sim.deliverWebhook({ url: receiver.url, appSecret: APP_SECRET, payload: buildTextMessage({ phoneNumberId: num.phoneNumberId, from: USER, body: 'hi', timestamp: at }) });

  it('refuses a free-form send to a user who never wrote with 131047, and lets a template through', async () => {
    const res = await freeForm();
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({
      code: 131047,
      message: '(#131047) Re-engagement message',
      error_data: { messaging_product: 'whatsapp', details: expect.stringContaining('more than 24 hours') },
    });
    expect(sim.calls[0]).toMatchObject({ endpoint: 'messages', errorCode: 131047, injected: false });
    for (const body of [
      { type: 'image', image: { link: 'https://cdn.example/a.jpg' } },
      { type: 'reaction', reaction: { message_id: 'wamid.x', emoji: '👍' } },
      { type: 'interactive', interactive: { type: 'button', body: { text: 'pick' }, action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A' } }] } } },
    ]) {
      expect((await send(body)).json.error.code).toBe(131047);
    }
    expect((await template()).status).toBe(200);
    expect(sim.sent.map((s) => s.body.type)).toEqual(['template']);
  });

  it('opens the window from the timestamp of a customer message the simulator delivers, per business number', async () => {
    await userWrites(new Date(Date.now() - 25 * 60 * MINUTE));
    expect(sim.customerLastMessage(NUM_A.phoneNumberId, USER)?.getTime()).toBeLessThan(Date.now() - 24 * 60 * MINUTE);
    expect((await freeForm()).json.error.code).toBe(131047);

    await userWrites(new Date(Date.now() - (24 * 60 - 1) * MINUTE)); // 23 h 59 m ago
    expect((await freeForm('just in time')).status).toBe(200);
    // The user wrote to number A, not to number B.
    expect((await freeForm('from B', NUM_B)).json.error.code).toBe(131047);
    // An older message delivered late does not close the window again.
    await userWrites(new Date(Date.now() - 48 * 60 * MINUTE));
    expect((await freeForm('still open')).status).toBe(200);
    expect(sim.sent.map((s) => s.body.text?.body)).toEqual(['just in time', 'still open']);
  });

  it('reads every message of a batch, but not statuses, and not a message without a phone number', async () => {
    const now = new Date();
    await sim.deliverWebhook({
      url: receiver.url,
      appSecret: APP_SECRET,
      payload: batch([
        buildStatus({ phoneNumberId: NUM_B.phoneNumberId, wamid: 'wamid.out', status: 'read', recipientId: USER }),
        buildTextMessage({ phoneNumberId: NUM_A.phoneNumberId, from: '4915112345678', body: 'a', timestamp: now }),
        buildTextMessage({ phoneNumberId: NUM_A.phoneNumberId, from: null, userId: 'US.1', body: 'b', timestamp: now }),
      ]),
    });
    expect(sim.customerLastMessage(NUM_A.phoneNumberId, '4915112345678')?.getTime()).toBe(Math.floor(now.getTime() / 1000) * 1000);
    expect(sim.customerLastMessage(NUM_B.phoneNumberId, USER)).toBeUndefined();
    // Raw bytes are read too.
    await sim.deliverWebhook({ url: receiver.url, appSecret: APP_SECRET, payload: Buffer.from(JSON.stringify(buildTextMessage({ phoneNumberId: NUM_B.phoneNumberId, from: USER, body: 'c' }))) });
    expect((await freeForm('to B', NUM_B)).status).toBe(200);
  });

  it('closes at 24 hours: setCustomerLastMessage moves the last message for tests', async () => {
    sim.setCustomerLastMessage({ phoneNumberId: NUM_A.phoneNumberId, waId: USER, at: Date.now() - CUSTOMER_WINDOW_MS + MINUTE });
    expect((await freeForm()).status).toBe(200);
    sim.setCustomerLastMessage({ phoneNumberId: NUM_A.phoneNumberId, waId: USER, at: new Date(Date.now() - CUSTOMER_WINDOW_MS - MINUTE) });
    expect((await freeForm()).json.error.code).toBe(131047);
    sim.setCustomerLastMessage({ phoneNumberId: NUM_A.phoneNumberId, waId: USER, at: null });
    expect(sim.customerLastMessage(NUM_A.phoneNumberId, USER)).toBeUndefined();
    expect(() => sim.setCustomerLastMessage({ phoneNumberId: NUM_A.phoneNumberId, waId: USER, at: NaN })).toThrow(RangeError);
  });

  it('can be switched off and on; reset() forgets the times and restores the start option', async () => {
    sim.setWindowEnforcement(false);
    expect((await freeForm()).status).toBe(200);
    sim.setWindowEnforcement(true);
    expect((await freeForm()).json.error.code).toBe(131047);
    sim.setWindowEnforcement(false);
    sim.setCustomerLastMessage({ phoneNumberId: NUM_A.phoneNumberId, waId: USER, at: new Date() });
    sim.reset();
    expect(sim.customerLastMessage(NUM_A.phoneNumberId, USER)).toBeUndefined();
    expect((await freeForm()).json.error.code).toBe(131047);
  });

  it('is off by default', async () => {
    const lenient = await startMetaSimulator();
    try {
      lenient.addNumber(NUM_A);
      const res = await post(`${lenient.graphUrl}/${NUM_A.phoneNumberId}/messages`, { messaging_product: 'whatsapp', to: USER, text: { body: 'hi' } }, { Authorization: `Bearer ${NUM_A.accessToken}` });
      expect(res.status).toBe(200);
      lenient.setWindowEnforcement(true);
      const refused = await post(`${lenient.graphUrl}/${NUM_A.phoneNumberId}/messages`, { messaging_product: 'whatsapp', to: USER, text: { body: 'hi' } }, { Authorization: `Bearer ${NUM_A.accessToken}` });
      expect(refused.json.error.code).toBe(131047);
    } finally {
      await lenient.close();
    }
  });
});
