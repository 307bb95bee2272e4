import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { buildTextMessage, signMeta, metaSerialize, wamidOf, type MetaWebhookPayload } from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge } from './support/bridge';
import { uniqueNumericId } from './support/ids';

/**
 * Automatic provisioning (issue #13, AUTO_PROVISION=true): a customer's message on the
 * platform-wide webhook, signed with the platform app secret, for a number no tenant owns creates
 * a pending tenant for it and holds the messages; once an admin stores its Genesys credentials
 * and activates it they reach Genesys in order, and later messages go straight through.
 */
let bridge: Bridge;
let gateway: string;
const PLATFORM_SECRET = `platform-${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  bridge = await startBridge({ env: { AUTO_PROVISION: 'true', META_PLATFORM_APP_SECRET: PLATFORM_SECRET } });
  gateway = bridge.sys.urls.gateway;
});
afterAll(() => bridge.stop());

const platformWebhook = (payload: MetaWebhookPayload, secret = PLATFORM_SECRET) =>
  request(gateway).post('/webhook/meta').set('Content-Type', 'application/json').set('X-Hub-Signature-256', signMeta(secret, Buffer.from(metaSerialize(payload)))).send(metaSerialize(payload));

const tenantsFor = (phoneNumberId: string) => ownerQuery<{ tenant_id: string; status: string }>(bridge.sys.tdb, 'SELECT tenant_id, status FROM tenants WHERE provisioned_phone_number_id = $1', [phoneNumberId]);

describe('a message for a number nobody owns', () => {
  it('creates one pending tenant (concurrent webhooks too), holds the messages, and delivers them in order once it is activated', async () => {
    const pnid = uniqueNumericId();
    const tenantId = `wa-${pnid}`;
    const from = '16505550777';
    const t0 = Math.floor(Date.now() / 1000) - 60;
    const messages = ['first', 'second', 'third'].map((body, i) =>
      buildTextMessage({ phoneNumberId: pnid, displayPhoneNumber: '15550123456', from, body, timestamp: t0 + i }),
    );
    // Several webhooks for the new number at once (the first one twice, as Meta may redeliver).
    const answers = await Promise.all([...messages, messages[0]].map((m) => platformWebhook(m)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(await tenantsFor(pnid)).toEqual([{ tenant_id: tenantId, status: 'pending' }]);

    const tenant = await bridge.sys.admin('get', `/tenants/${tenantId}`).expect(200);
    expect(tenant.body).toMatchObject({ tenantId, status: 'pending', name: 'WhatsApp 15550123456', metadata: { autoProvisioned: { phoneNumberId: pnid } } });
    const audit = await bridge.sys.admin('get', `/audit?tenant=${tenantId}`).expect(200);
    expect(audit.body.events.map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([['tenant.provisioned', 'platform:auto-provision']]);
    const held = await bridge.sys.admin('get', `/unclaimed-changes?phoneNumberId=${pnid}`).expect(200);
    expect(held.body.changes).toHaveLength(3);

    // While pending: its API calls are refused 423, and activating it without Genesys credentials 409.
    const key = await bridge.sys.admin('post', `/tenants/${tenantId}/api-keys`).send({ name: 'ops' }).expect(201);
    const refused = await request(gateway).get('/state/stats').set('X-API-Key', key.body.apiKey);
    expect([refused.status, refused.body.error.code]).toEqual([423, 'TENANT_PENDING']);
    const early = await bridge.sys.admin('patch', `/tenants/${tenantId}`).send({ status: 'active' });
    expect([early.status, early.body.error.code]).toEqual([409, 'TENANT_NOT_READY']);
    // A message arriving while pending is held too (the tenant owns the number, pending).
    const fourth = buildTextMessage({ phoneNumberId: pnid, from, body: 'fourth', timestamp: t0 + 3 });
    expect((await platformWebhook(fourth)).status).toBe(200);
    expect((await bridge.sys.admin('get', `/unclaimed-changes?phoneNumberId=${pnid}`).expect(200)).body.changes).toHaveLength(4);
    expect(bridge.genesys.messages().filter((m) => m.body.channel.from.id === from)).toEqual([]);

    // The admin stores its Genesys credentials and activates it.
    const org = { clientId: `client-${randomBytes(4).toString('hex')}`, clientSecret: randomBytes(16).toString('hex'), integrationId: randomBytes(8).toString('hex') };
    bridge.genesys.addOrg(org);
    await bridge.sys
      .admin('post', `/tenants/${tenantId}/credentials`)
      .send({ type: 'genesys', credentials: { ...org, region: 'mypurecloud.ie', webhookSecret: randomBytes(16).toString('hex') } })
      .expect(201);
    await bridge.sys.admin('patch', `/tenants/${tenantId}`).send({ status: 'active' }).expect(200);

    const delivered = await eventually(() => {
      const got = bridge.genesys.messages(org.integrationId);
      return got.length >= 4 && got;
    }, 20_000, 'the held messages delivered to Genesys');
    expect(delivered.map((m) => m.body.text)).toEqual(['first', 'second', 'third', 'fourth']);
    expect(delivered.map((m) => m.body.channel.messageId)).toEqual([...messages, fourth].map(wamidOf));
    expect((await bridge.sys.admin('get', `/unclaimed-changes?phoneNumberId=${pnid}`).expect(200)).body.changes).toEqual([]);

    // Now the number is the tenant's: a new message goes straight through.
    const fifth = buildTextMessage({ phoneNumberId: pnid, from, body: 'fifth' });
    const res = await platformWebhook(fifth);
    expect(res.body).toMatchObject({ tenants: 1, newMessages: 1, held: 0 });
    await eventually(() => bridge.genesys.messages(org.integrationId).some((m) => m.body.text === 'fifth'), 20_000, 'the new message delivered');
    const trail = await bridge.sys.admin('get', `/audit?tenant=${tenantId}&type=tenant`).expect(200);
    expect(trail.body.events.map((e: { action: string }) => e.action)).toEqual(['tenant.activated', 'tenant.provisioned']);
    expect(await tenantsFor(pnid)).toEqual([{ tenant_id: tenantId, status: 'active' }]);
    // The tenant sees its creation as the platform's doing, without an address.
    const own = await request(gateway).get('/state/audit?type=tenant').set('X-API-Key', key.body.apiKey).expect(200);
    expect(own.body.events.map((e: { action: string; actor: string; clientIp: string | null }) => [e.action, e.actor, e.clientIp])).toEqual([
      ['tenant.activated', 'platform-admin', null],
      ['tenant.provisioned', 'platform', null],
    ]);
  });

  it('creates nothing for a payload without the platform’s signature', async () => {
    const pnid = uniqueNumericId();
    const res = await platformWebhook(buildTextMessage({ phoneNumberId: pnid, body: 'forged' }), 'some-other-secret');
    expect(res.status).toBe(401);
    expect(await tenantsFor(pnid)).toEqual([]);
    expect((await bridge.sys.admin('get', `/tenants/wa-${pnid}`)).status).toBe(404);
  });
});
