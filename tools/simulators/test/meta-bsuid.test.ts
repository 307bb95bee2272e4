import { buildStatus, buildTextMessage, startMetaSimulator, validateSendBody, type MetaSimulator } from '@bridge/simulators';
import { post, startReceiver, type Receiver } from './helpers';

/**
 * Customers without a phone number, as the Meta simulator models them (users.ts): a send names a
 * phone number in `to` or a business-scoped user id (BSUID) in `recipient`, never a BSUID in
 * `to`; 131062 where a BSUID cannot receive the message; webhooks without phone numbers; statuses
 * with `recipient_user_id`; one window and one pair rate limit per user whichever id names them.
 */
describe('Meta simulator: usernames and business-scoped user ids', () => {
  const NUM = { phoneNumberId: '106540352242922', accessToken: 'EAAG-token-a', wabaId: '102290129340398' };
  const APP_SECRET = 'app-secret';
  const ANA = '16505551234';
  const ANA_ID = 'US.13491208655302741918';
  const MAX_ID = `US.${'A1b2C3d4'.repeat(16)}`;
  const PARENT_MAX_ID = `US.ENT.${'9'.repeat(128)}`;
  let sim: MetaSimulator;
  let receiver: Receiver;

  beforeAll(async () => {
    sim = await startMetaSimulator({ controlApi: true });
    sim.addNumber(NUM);
    sim.addTemplate({ wabaId: NUM.wabaId, name: 'login_code', language: 'en_US', category: 'AUTHENTICATION', body: 'Your code is {{1}}' });
    sim.addTemplate({ wabaId: NUM.wabaId, name: 'hello', language: 'en_US', body: 'Hello!' });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });
  beforeEach(() => sim.reset());

  const send = (address: Record<string, unknown>, body: Record<string, unknown> = { type: 'text', text: { body: 'hi' } }) =>
    post(`${sim.graphUrl}/${NUM.phoneNumberId}/messages`, { messaging_product: 'whatsapp', ...address, ...body }, { Authorization: `Bearer ${NUM.accessToken}` });

  it('accepts a BSUID in recipient (parent and maximum-length ones too) and answers with its user_id, not a wa_id', async () => {
    for (const id of [ANA_ID, MAX_ID, PARENT_MAX_ID]) {
      const res = await send({ recipient: id });
      expect(res.status).toBe(200);
      expect(res.json.contacts).toEqual([{ input: id, user_id: id }]);
    }
    expect(sim.sent.map((s) => s.body.recipient)).toEqual([ANA_ID, MAX_ID, PARENT_MAX_ID]);
    expect(sim.calls.map((c) => c.recipient)).toEqual([ANA_ID, MAX_ID, PARENT_MAX_ID]);
  });

  it('refuses a BSUID in to (100, saying to use recipient), a malformed recipient, and a send naming nobody', async () => {
    const inTo = await send({ to: ANA_ID });
    expect(inTo.status).toBe(400);
    expect(inTo.json.error).toMatchObject({ code: 100 });
    expect(inTo.json.error.message).toContain('recipient');
    for (const bad of [`US.${'9'.repeat(129)}`, 'us.123', 'US.ENT.', '16505551234', 'US.12-34']) {
      expect((await send({ recipient: bad })).json.error?.code).toBe(100);
    }
    expect((await send({})).json.error?.code).toBe(100);
    expect(sim.sent).toHaveLength(0);
    expect(validateSendBody({ messaging_product: 'whatsapp', recipient: ANA_ID, type: 'text', text: { body: 'x' } })).toEqual([]);
  });

  it('with both, to wins: the phone number is the one answered', async () => {
    const res = await send({ to: ANA, recipient: ANA_ID });
    expect(res.status).toBe(200);
    expect(res.json.contacts).toEqual([{ input: ANA, wa_id: ANA }]);
  });

  it('refuses sends to BSUIDs with 131062 when switched off, and authentication templates to BSUIDs always', async () => {
    const template = (name: string, parameters: string[] = []) => ({
      type: 'template',
      template: { name, language: { code: 'en_US' }, ...(parameters.length ? { components: [{ type: 'body', parameters: parameters.map((text) => ({ type: 'text', text })) }] } : {}) },
    });
    const auth = await send({ recipient: ANA_ID }, template('login_code', ['123456']));
    expect(auth.status).toBe(400);
    expect(auth.json.error).toMatchObject({ code: 131062, message: expect.stringContaining('Business-scoped User ID recipients are not supported') });
    // The same template to the phone number goes.
    expect((await send({ to: ANA }, template('login_code', ['123456']))).status).toBe(200);

    sim.setBsuidRecipients(false);
    expect((await send({ recipient: ANA_ID })).json.error?.code).toBe(131062);
    expect((await send({ recipient: ANA_ID }, template('hello'))).json.error?.code).toBe(131062);
    expect((await send({ to: ANA })).status).toBe(200);
    // The control API switches it too; reset() restores the start option.
    expect((await post(`${sim.url}/_sim/bsuid-recipients`, { supported: true })).status).toBe(200);
    expect((await send({ recipient: ANA_ID })).status).toBe(200);
    sim.setBsuidRecipients(false);
    sim.reset();
    expect((await send({ recipient: ANA_ID })).status).toBe(200);
  });

  it('keys the pair rate limit on the user: recipient as well as to, and one pair once a webhook linked the two ids', async () => {
    sim.setPairRateLimit({ intervalMs: 60_000, burst: 1 });
    expect((await send({ recipient: ANA_ID })).status).toBe(200);
    expect((await send({ recipient: ANA_ID })).json.error?.code).toBe(131056);
    expect((await send({ to: ANA })).status).toBe(200);
    // A webhook shows Ana's number and BSUID together: from then on they are one pair.
    sim.setPairRateLimit({ intervalMs: 60_000, burst: 1 });
    await sim.deliverWebhook({ url: receiver.url, appSecret: APP_SECRET, payload: buildTextMessage({ phoneNumberId: NUM.phoneNumberId, from: ANA, userId: ANA_ID, body: 'hi' }) });
    expect((await send({ to: ANA })).status).toBe(200);
    expect((await send({ recipient: ANA_ID })).json.error?.code).toBe(131056);
  });

  it('opens the 24-hour window of a user who wrote without a phone number, for sends to their BSUID', async () => {
    sim.setWindowEnforcement(true);
    expect((await send({ recipient: ANA_ID })).json.error?.code).toBe(131047);
    const hello = buildTextMessage({ phoneNumberId: NUM.phoneNumberId, from: null, userId: ANA_ID, username: 'ana.b', body: 'hi' });
    await sim.deliverWebhook({ url: receiver.url, appSecret: APP_SECRET, payload: hello });
    expect((await send({ recipient: ANA_ID })).status).toBe(200);
  });

  it('builds webhooks without phone numbers: username-only messages, statuses with recipient_user_id', () => {
    const message = buildTextMessage({ phoneNumberId: NUM.phoneNumberId, from: null, userId: ANA_ID, username: 'ana.b', profileName: null, body: 'hi' });
    const value = message.entry[0].changes[0].value;
    expect(value.contacts).toEqual([{ profile: { username: 'ana.b' }, user_id: ANA_ID }]);
    expect(value.messages![0]).not.toHaveProperty('from');
    expect(value.messages![0].from_user_id).toBe(ANA_ID);

    const delivered = buildStatus({ phoneNumberId: NUM.phoneNumberId, wamid: 'wamid.X', status: 'delivered', recipientId: null, recipientUserId: ANA_ID, username: 'ana.b' });
    const status = delivered.entry[0].changes[0].value;
    expect(status.statuses![0]).not.toHaveProperty('recipient_id');
    expect(status.statuses![0].recipient_user_id).toBe(ANA_ID);
    expect(status.contacts).toEqual([{ profile: { username: 'ana.b' }, user_id: ANA_ID }]);
    // Failed statuses carry no contacts; sent ones no username.
    const failed = buildStatus({ phoneNumberId: NUM.phoneNumberId, wamid: 'wamid.X', status: 'failed', recipientId: null, recipientUserId: ANA_ID });
    expect(failed.entry[0].changes[0].value.contacts).toBeUndefined();
    const sent = buildStatus({ phoneNumberId: NUM.phoneNumberId, wamid: 'wamid.X', status: 'sent', recipientUserId: ANA_ID, username: 'ana.b' });
    expect(sent.entry[0].changes[0].value.contacts).toEqual([{ wa_id: '16505551234', user_id: ANA_ID }]);
  });
});
