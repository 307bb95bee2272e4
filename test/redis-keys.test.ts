import { Redis } from 'ioredis';
import request from 'supertest';
import { buildStatus, buildTextMessage, wamidOf } from '@bridge/simulators';
import { describeWithRedis } from './support/env';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Redis as a cluster would hold it: every key of a tenant is hash-tagged `t:{tenantId}:...` (one
 * slot per tenant), a platform key is `p:...`, and no command that names several keys (DEL,
 * MGET, EVAL, a MULTI block...) names keys of two slots, which Redis Cluster refuses (CROSSSLOT)
 * and which would tie two tenants together. Every command the whole platform sends while two
 * tenants go through the bridge is recorded (ioredis's sendCommand, in this process where every
 * service runs) and checked.
 */
interface Sent {
  client: object;
  name: string;
  keys: string[];
}

const sent: Sent[] = [];
const original = Redis.prototype.sendCommand;

/** The hash tag Redis Cluster slots a key by: the first `{...}` with something inside, else the whole key. */
function slotOf(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

describeWithRedis('Redis keys per tenant', () => {
  let bridge: Bridge;

  beforeAll(async () => {
    Redis.prototype.sendCommand = function (this: Redis, command, ...rest) {
      const c = command as unknown as { name: string; getKeys(): Array<string | Buffer> };
      sent.push({ client: this, name: c.name.toLowerCase(), keys: c.getKeys().map(String) });
      return original.call(this, command, ...rest);
    } as typeof original;
    bridge = await startBridge({ redis: true });
  }, 30_000);

  afterAll(async () => {
    Redis.prototype.sendCommand = original;
    await bridge.stop();
  });

  async function exercise(t: BridgeTenant, waId: string): Promise<void> {
    const gateway = bridge.sys.urls.gateway;
    // A customer writes; the connector sends it to Genesys (credentials, the token broker's token and lock).
    const inbound = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: `hello from ${t.tenantId}` });
    await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload: inbound, appSecret: t.appSecret });
    await eventually(() => bridge.genesys.messages(t.integrationId).some((m) => m.body.channel.messageId === wamidOf(inbound)), 10_000, 'the message at Genesys');
    // The agent answers; Meta reports it delivered, which goes back to Genesys as a receipt.
    await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to: waId, text: 'answer' });
    const send = await eventually(() => bridge.meta.sends(t.phoneNumberId).find((s) => (s.body as { to?: string }).to === waId), 10_000, 'the reply at Meta');
    await bridge.meta.deliverWebhook({
      url: `${gateway}/webhook/meta/${t.tenantId}`,
      payload: buildStatus({ phoneNumberId: t.phoneNumberId, wamid: send.wamid, status: 'delivered', recipientId: waId }),
      appSecret: t.appSecret,
    });
    // The tenant API by key and by token (the directory, the rate limits per tenant and per key).
    expect((await request(gateway).get('/state/stats').set('X-API-Key', t.apiKey)).status).toBe(200);
    const token = (await request(gateway).post('/auth/token').set('X-API-Key', t.apiKey)).body.token as string;
    expect((await request(gateway).get('/state/stats').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const limited = await bridge.sys.admin('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'limited', rateLimit: 100 }).expect(201);
    expect((await request(gateway).get('/state/stats').set('X-API-Key', limited.body.apiKey)).status).toBe(200);
    await bridge.sys.admin('delete', `/tenants/${t.tenantId}/api-keys/${limited.body.id}`).expect(204);
    // Admin changes: the directory's entries rewritten, the Genesys token dropped with the credentials.
    await bridge.sys.admin('patch', `/tenants/${t.tenantId}`).send({ rateLimit: 500 }).expect(200);
    await bridge.sys
      .admin('post', `/tenants/${t.tenantId}/credentials`)
      .send({ type: 'genesys', credentials: { clientId: t.clientId, clientSecret: t.clientSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret } })
      .expect(201);
  }

  it('tags every tenant key with its tenant, and no command spans two slots', async () => {
    const a = await bridge.onboard();
    const b = await bridge.onboard();
    await Promise.all([exercise(a, '16505557301'), exercise(b, '16505557302')]);

    const tenants = [a.tenantId, b.tenantId];
    const keyed = sent.filter((s) => s.keys.length > 0);
    const keys = [...new Set(keyed.flatMap((s) => s.keys))];
    // The scenario reached Redis for both tenants: their tokens, directory entries and counters.
    for (const t of tenants) {
      for (const purpose of ['genesys:token', 'tenant', 'ratelimit']) expect(keys).toContain(`t:{${t}}:${purpose}`);
    }
    // Every key is a tenant's (tagged) or the platform's, and a key naming a tenant is that tenant's.
    expect(keys.filter((k) => !/^t:\{[^{}]+\}:|^p:/.test(k))).toEqual([]);
    for (const t of tenants) expect(keys.filter((k) => k.includes(t) && !k.startsWith(`t:{${t}}:`))).toEqual([]);

    // One slot per command, and per MULTI ... EXEC block of one connection.
    const spanning: string[] = [];
    for (const s of keyed) if (new Set(s.keys.map(slotOf)).size > 1) spanning.push(`${s.name} ${s.keys.join(' ')}`);
    const open = new Map<object, string[]>();
    for (const s of sent) {
      if (s.name === 'multi') open.set(s.client, []);
      else if (s.name === 'exec' || s.name === 'discard') {
        const block = open.get(s.client) ?? [];
        open.delete(s.client);
        if (new Set(block.map(slotOf)).size > 1) spanning.push(`MULTI ${block.join(' ')}`);
      } else open.get(s.client)?.push(...s.keys);
    }
    expect(spanning).toEqual([]);
    expect(keyed.some((s) => s.keys.length > 1 || s.name === 'evalsha')).toBe(true);
    process.stdout.write(`redis keys: ${sent.length} commands, ${keys.length} distinct keys, e.g. ${keys.slice(0, 8).join(', ')}\n`);
  }, 90_000);
});
