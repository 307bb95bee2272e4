import { Redis } from 'ioredis';
import { buildTextMessage, wamidOf } from '@bridge/simulators';
import { describeWithRedis, TEST_REDIS_URL } from './support/env';
import { eventually, startBridge, type Bridge } from './support/bridge';

/** The bridge as deployed: caches, token broker and change broadcasts in Redis. */
describeWithRedis('the bridge on Redis', () => {
  let bridge: Bridge;
  let redis: Redis;

  beforeAll(async () => {
    bridge = await startBridge({ redis: true });
    redis = new Redis(TEST_REDIS_URL!);
  });

  afterAll(async () => {
    redis.disconnect();
    await bridge.stop();
  });

  it('delivers, keeps the tenant’s Genesys token under t:{tenant}:genesys:token, and drops it when credentials change', async () => {
    const t = await bridge.onboard();
    const gateway = bridge.sys.urls.gateway;
    const first = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: '16505559001', body: 'on redis' });
    await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload: first, appSecret: t.appSecret });
    await eventually(() => bridge.genesys.messages(t.integrationId).some((m) => m.body.channel.messageId === wamidOf(first)));
    const key = `t:{${t.tenantId}}:genesys:token`;
    expect(await redis.exists(key)).toBe(1);
    expect(bridge.genesys.tokenRequests(t.clientId)).toBe(1);

    const secret = `rotated-${Date.now()}-secret`;
    bridge.genesys.addOrg({ clientId: t.clientId, clientSecret: secret, integrationId: t.integrationId });
    await bridge.sys
      .admin('post', `/tenants/${t.tenantId}/credentials`)
      .send({ type: 'genesys', credentials: { clientId: t.clientId, clientSecret: secret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret } })
      .expect(201);
    await eventually(async () => (await redis.exists(key)) === 0, 2_000, 'the old token dropped');
    bridge.genesys.revokeTokens(t.clientId);
    const second = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: '16505559001', body: 'after rotation' });
    await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload: second, appSecret: t.appSecret });
    await eventually(() => bridge.genesys.messages(t.integrationId).some((m) => m.body.channel.messageId === wamidOf(second)));
    expect(bridge.genesys.tokensIssued(t.clientId)).toBe(2);
  });
});
