import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import request from 'supertest';
import type { RunningService } from '@bridge/shared';
import { buildTextMessage, wamidOf } from '@bridge/simulators';
import { freePort } from '../scripts/src/postgres';
import { serviceEntries, type ServiceName } from '../scripts/src/system';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/** Longer than Genesys's retry window (5 retries, 5 s apart: about 25-30 s). */
const OUTAGE_MS = 35_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** A Redis of this test's own, which it stops and starts (the shared test Redis is never touched). */
async function privateRedis() {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const redis = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await eventually(() => spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().includes('PONG'), 5_000, 'redis-server up');
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
  return redis;
}

const SERVICES: ServiceName[] = ['gateway', 'tenant-service', 'auth-service', 'state-manager', 'webhook-service', 'genesys-connector'];

/**
 * Redis is a cache and a counter store: with it down for longer than Genesys retries a webhook,
 * every signed webhook is still accepted (200) and delivered once and in order, tenant API calls
 * answer 200 or 503 (never 500), every service stays ready (`checks.redis: "degraded"`), a tenant
 * can be onboarded, and a service started meanwhile comes up.
 */
(hasRedisServer ? describe : describe.skip)('a Redis outage longer than Genesys’s retry window', () => {
  let redis: Awaited<ReturnType<typeof privateRedis>>;
  let bridge: Bridge;

  beforeAll(async () => {
    redis = await privateRedis();
    await redis.start();
    bridge = await startBridge({ env: { REDIS_URL: redis.url } });
  }, 60_000);

  afterAll(async () => {
    await bridge?.stop();
    await redis?.stop();
  });

  it('loses no message, answers no 500, and keeps every service ready', async () => {
    const gateway = bridge.sys.urls.gateway;
    const before = await bridge.onboard();
    const sent = new Map<BridgeTenant, { customer: string[]; agent: string[] }>();
    const api: number[] = [];
    const ready: Array<{ service: string; status: number; redis: string }> = [];
    const refused: string[] = [];

    /** One round of traffic for a tenant: a customer message, an agent reply, a tenant API call. */
    async function round(t: BridgeTenant, n: number) {
      const log = sent.get(t) ?? { customer: [], agent: [] };
      sent.set(t, log);
      const payload = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: '16505550101', body: `customer ${n}` });
      // One attempt each: stricter than Meta (days of retries) and Genesys (5 retries).
      const inbound = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1, timeoutMs: 5_000 });
      if (inbound.delivered) log.customer.push(wamidOf(payload));
      else refused.push(`customer ${n}: ${inbound.statuses.join(',')}`);
      const text = `agent ${t.tenantId} ${n}`;
      const reply = await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to: '16505550101', text, maxRetries: 0 });
      if (reply.delivered) log.agent.push(text);
      else refused.push(`agent ${n}: ${reply.attempts.map((a) => a.status).join(',')}`);
      api.push((await request(gateway).get('/state/stats').set('X-API-Key', t.apiKey)).status);
    }

    await round(before, 0);
    await redis.stop();
    const downAt = Date.now();

    // A tenant onboarded during the outage: its Genesys token is fetched without the shared cache.
    const during = await bridge.onboard();
    // A service started while Redis is down comes up and serves.
    const extra: RunningService = await serviceEntries
      .find((s) => s.name === 'webhook-service')!
      .start({ ...bridge.sys.serviceEnv, PORT: '0', INTERNAL_PORT: '0' });
    try {
      const extraReady = await request(`http://127.0.0.1:${extra.port}`).get('/ready');
      expect(extraReady.status).toBe(200);
      expect(extraReady.body.checks).toEqual({ postgres: 'ok', redis: 'degraded' });
      const direct = buildTextMessage({ phoneNumberId: during.phoneNumberId, from: '16505550102', body: 'to the replica started without Redis' });
      const res = await bridge.meta.deliverWebhook({ url: `http://127.0.0.1:${extra.port}/webhook/meta/${during.tenantId}`, payload: direct, appSecret: during.appSecret, maxAttempts: 1 });
      expect(res.statuses).toEqual([200]);
      await eventually(() => bridge.genesys.messages(during.integrationId).some((m) => m.body.channel.messageId === wamidOf(direct)), 15_000, 'the direct message delivered');
    } finally {
      await extra.close();
    }

    for (let n = 1; Date.now() - downAt < OUTAGE_MS; n++) {
      await Promise.all([round(before, n), round(during, n)]);
      for (const name of SERVICES) {
        const res = await request(bridge.sys.urls[name]).get('/ready');
        ready.push({ service: name, status: res.status, redis: res.body.checks?.redis });
      }
      await sleep(500);
    }
    await redis.start();

    expect(refused).toEqual([]);
    expect(api.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(api.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(ready.filter((r) => r.status !== 200 || r.redis !== 'degraded')).toEqual([]);

    // Everything accepted arrives once, in the order it was sent.
    for (const [t, log] of sent) {
      await eventually(() => {
        const atGenesys = bridge.genesys.messages(t.integrationId).map((m) => m.body.channel.messageId);
        return log.customer.every((w) => atGenesys.includes(w));
      }, 30_000, `customer messages of ${t.tenantId} at Genesys`);
      await eventually(() => {
        const atMeta = bridge.meta.sends(t.phoneNumberId).map((s) => (s.body as { text?: { body?: string } }).text?.body);
        return log.agent.every((text) => atMeta.includes(text));
      }, 30_000, `agent replies of ${t.tenantId} at Meta`);
      const customerArrivals = bridge.genesys.messages(t.integrationId).map((m) => m.body.channel.messageId).filter((w): w is string => !!w && log.customer.includes(w));
      expect(customerArrivals).toEqual(log.customer);
      const agentArrivals = bridge.meta.sends(t.phoneNumberId).map((s) => (s.body as { text?: { body?: string } }).text?.body).filter((b): b is string => !!b && log.agent.includes(b));
      expect(agentArrivals).toEqual(log.agent);
    }

    // Redis back: readiness reports it ok again.
    await eventually(async () => (await request(bridge.sys.urls.gateway).get('/ready')).body.checks?.redis === 'ok', 5_000, 'redis ok again');
  }, 120_000);
});
