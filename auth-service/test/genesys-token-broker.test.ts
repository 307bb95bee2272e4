import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import {
  AppError,
  MemoryCache,
  RedisCache,
  createCache,
  createLogger,
  createServiceApp,
  listen,
  publishTenantEvent,
  type Cache,
  type GenesysCredentials,
  type RunningService,
} from '@bridge/shared';
import { startGenesysSimulator, type GenesysSimulator } from '@bridge/simulators';
import { CredentialsClient } from '../../shared/src/credentials-client';
import { GenesysTokenClient } from '../../genesys-connector/src/genesys-token-client';
import { GenesysTokenBroker, type GenesysTokenBrokerOptions } from '../src/genesys-token-broker';
import { internalRoutes } from '../src/internal-routes';
import { startTestSystem, type TestSystem } from '../../test/support/system';
import { TEST_REDIS_URL, describeWithRedis, testSecrets } from '../../test/support/env';
import { uniqueTenantId } from '../../test/support/ids';

const logger = createLogger({ name: 'test', level: 'silent' });
/** The caller of POST /internal/genesys/token. */
const INTERNAL = testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN;

/** What the broker asks for credentials: a map the test can change. */
class StubCredentials {
  readonly byTenant = new Map<string, GenesysCredentials>();
  calls = 0;
  async genesys(tenantId: string) {
    this.calls++;
    return this.byTenant.get(tenantId);
  }
}

let sim: GenesysSimulator;

beforeAll(async () => {
  sim = await startGenesysSimulator();
});

afterAll(async () => {
  await sim?.close();
});

/** A new org (OAuth client) at the simulator and the credentials a tenant would store for it. */
function newOrg(tokenTtlSeconds?: number): GenesysCredentials {
  const credentials: GenesysCredentials = {
    clientId: `client-${randomBytes(5).toString('hex')}`,
    clientSecret: `secret-${randomBytes(12).toString('hex')}`,
    region: 'mypurecloud.com',
    integrationId: randomUUID(),
    webhookSecret: `webhook-${randomBytes(12).toString('hex')}`,
  };
  sim.addOrg({ clientId: credentials.clientId, clientSecret: credentials.clientSecret, integrationId: credentials.integrationId, tokenTtlSeconds });
  return credentials;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GenesysTokenBroker', () => {
  let cache: MemoryCache;
  let stub: StubCredentials;
  const brokers: GenesysTokenBroker[] = [];

  function newBroker(options: Partial<GenesysTokenBrokerOptions> = {}) {
    const broker = new GenesysTokenBroker({ cache, credentials: stub, loginUrlTemplate: sim.url, logger, ...options });
    brokers.push(broker);
    return broker;
  }

  /** A tenant whose stub credentials point at a new simulator org. */
  function newTenant(tokenTtlSeconds?: number) {
    const tenantId = uniqueTenantId();
    const credentials = newOrg(tokenTtlSeconds);
    stub.byTenant.set(tenantId, credentials);
    return { tenantId, credentials };
  }

  beforeEach(() => {
    cache = new MemoryCache();
    stub = new StubCredentials();
  });

  afterEach(async () => {
    sim.clearFaults();
    for (const b of brokers.splice(0)) await b.close();
    await cache.close();
  });

  it('makes one token request for 50 concurrent callers, in the documented form', async () => {
    const broker = newBroker();
    const { tenantId, credentials } = newTenant();
    const before = Date.now();
    const tokens = await Promise.all(Array.from({ length: 50 }, () => broker.token(tenantId)));

    expect(sim.tokenRequests(credentials.clientId)).toBe(1);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    const expiresAt = Date.parse(tokens[0].expiresAt);
    expect(tokens[0].expiresAt).toBe(new Date(expiresAt).toISOString());
    expect(expiresAt).toBeGreaterThanOrEqual(before + 86_400_000 - 1000);
    // The simulator answers 200 only to a POST /oauth/token with Basic auth, a form body and the grant.
    const call = sim.calls.filter((c) => c.endpoint === 'token' && c.clientId === credentials.clientId);
    expect(call).toEqual([expect.objectContaining({ method: 'POST', path: '/oauth/token', status: 200 })]);
    expect(stub.calls).toBe(1);
  });

  it('keeps the token in the cache under t:{tenantId}:genesys:token', async () => {
    const broker = newBroker();
    const { tenantId } = newTenant();
    const { accessToken } = await broker.token(tenantId);
    const stored = await cache.get(`t:{${tenantId}}:genesys:token`);
    expect(JSON.parse(stored!)).toMatchObject({ accessToken });
  });

  it('reuses the token until the refresh margin before expiry, then fetches a new one', async () => {
    const broker = newBroker({ refreshMarginSeconds: 1 });
    const { tenantId, credentials } = newTenant(3);
    const first = await broker.token(tenantId);
    await sleep(1000);
    expect((await broker.token(tenantId)).accessToken).toBe(first.accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(1);

    await sleep(1200);
    const second = await broker.token(tenantId);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(2);
  });

  it('caps the refresh margin at half the token lifetime', async () => {
    const broker = newBroker(); // margin 60 s, lifetime 4 s: refresh after 2 s, not at once
    const { tenantId, credentials } = newTenant(4);
    const first = await broker.token(tenantId);
    expect((await broker.token(tenantId)).accessToken).toBe(first.accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(1);
    await sleep(2100);
    expect((await broker.token(tenantId)).accessToken).not.toBe(first.accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(2);
  });

  it('replaces a rejected token once, however many callers report it', async () => {
    const broker = newBroker();
    const { tenantId, credentials } = newTenant();
    const old = await broker.token(tenantId);
    sim.revokeTokens(credentials.clientId);

    const renewed = await Promise.all(Array.from({ length: 20 }, () => broker.token(tenantId, old.accessToken)));
    expect(sim.tokenRequests(credentials.clientId)).toBe(2);
    expect(new Set(renewed.map((t) => t.accessToken)).size).toBe(1);
    expect(renewed[0].accessToken).not.toBe(old.accessToken);

    // Late reporters of the same token get the new one without another request.
    expect((await broker.token(tenantId, old.accessToken)).accessToken).toBe(renewed[0].accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(2);
  });

  it('replaces a rejected token once even when plain callers are already waiting for it', async () => {
    const broker = newBroker();
    const { tenantId, credentials } = newTenant();
    const old = await broker.token(tenantId);
    const mixed = await Promise.all(Array.from({ length: 20 }, (_, i) => broker.token(tenantId, i % 2 ? old.accessToken : undefined)));
    expect(sim.tokenRequests(credentials.clientId)).toBe(2);
    const reported = mixed.filter((_, i) => i % 2);
    expect(new Set(reported.map((t) => t.accessToken)).size).toBe(1);
    expect(reported[0].accessToken).not.toBe(old.accessToken);
  });

  it('does not fetch for a stale rejected token', async () => {
    const broker = newBroker();
    const { tenantId, credentials } = newTenant();
    const current = await broker.token(tenantId);
    expect((await broker.token(tenantId, 'an-older-token')).accessToken).toBe(current.accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(1);
  });

  it('answers GENESYS_AUTH_FAILED (502) to a wrong client secret, and does not ask again at once', async () => {
    const broker = newBroker();
    const { tenantId, credentials } = newTenant();
    stub.byTenant.set(tenantId, { ...credentials, clientSecret: 'not-the-right-secret' });

    const results = await Promise.allSettled(Array.from({ length: 10 }, () => broker.token(tenantId)));
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'GENESYS_AUTH_FAILED', status: 502 } });
    await expect(broker.token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_AUTH_FAILED' });
    expect(sim.tokenRequests(credentials.clientId)).toBe(1);
  });

  it('asks again after the remembered auth failure expires', async () => {
    const broker = newBroker({ authFailureTtlSeconds: 0.2 });
    const { tenantId, credentials } = newTenant();
    stub.byTenant.set(tenantId, { ...credentials, clientSecret: 'not-the-right-secret' });
    await expect(broker.token(tenantId)).rejects.toBeInstanceOf(AppError);
    stub.byTenant.set(tenantId, credentials);
    await sleep(300);
    await expect(broker.token(tenantId)).resolves.toHaveProperty('accessToken');
    expect(sim.tokenRequests(credentials.clientId)).toBe(2);
  });

  it('answers GENESYS_UNAVAILABLE (503) during an outage, and recovers at once after it', async () => {
    const broker = newBroker();
    const { tenantId, credentials } = newTenant();
    const refusedBefore = sim.calls.filter((c) => c.endpoint === 'token' && c.status === 503).length;
    sim.setOutage(true);
    await expect(broker.token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_UNAVAILABLE', status: 503 });
    expect(sim.calls.filter((c) => c.endpoint === 'token' && c.status === 503).length).toBe(refusedBefore + 1);
    sim.setOutage(false);
    // The outage is not remembered: the next call goes straight to Genesys (an outage answers before counting the client).
    await expect(broker.token(tenantId)).resolves.toHaveProperty('accessToken');
    expect(sim.tokenRequests(credentials.clientId)).toBe(1);
  });

  it('answers GENESYS_UNAVAILABLE (503) to a 5xx and to an unreachable login service', async () => {
    const { tenantId, credentials } = newTenant();
    sim.failNext(1, { status: 500, endpoint: 'token', clientId: credentials.clientId });
    await expect(newBroker().token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_UNAVAILABLE', status: 503 });

    const nowhere = newBroker({ loginUrlTemplate: 'http://127.0.0.1:1', timeoutMs: 1000 });
    await expect(nowhere.token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_UNAVAILABLE', status: 503 });
  });

  it('answers GENESYS_NOT_CONFIGURED (404) for a tenant without Genesys credentials', async () => {
    const broker = newBroker();
    await expect(broker.token(uniqueTenantId())).rejects.toMatchObject({ code: 'GENESYS_NOT_CONFIGURED', status: 404 });
  });

  it('uses new credentials at once after a credentials-changed event', async () => {
    const broker = newBroker();
    await broker.start();
    const { tenantId, credentials } = newTenant();
    const first = await broker.token(tenantId);

    const next = newOrg();
    stub.byTenant.set(tenantId, next);
    await publishTenantEvent(cache, { tenantId, kind: 'credentials-changed' });
    await sleep(10);

    const second = await broker.token(tenantId);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(1);
    expect(sim.tokenRequests(next.clientId)).toBe(1);
  });

  it('forgets a remembered auth failure when the credentials are fixed', async () => {
    const broker = newBroker();
    await broker.start();
    const { tenantId, credentials } = newTenant();
    stub.byTenant.set(tenantId, { ...credentials, clientSecret: 'not-the-right-secret' });
    await expect(broker.token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_AUTH_FAILED' });

    stub.byTenant.set(tenantId, credentials);
    await publishTenantEvent(cache, { tenantId, kind: 'credentials-changed' });
    await sleep(10);
    await expect(broker.token(tenantId)).resolves.toHaveProperty('accessToken');
  });

  it('does not store a token fetched with credentials that changed meanwhile', async () => {
    const broker = newBroker();
    const { tenantId } = newTenant();
    sim.setLatency(150);
    const pending = broker.token(tenantId);
    await sleep(50);
    const next = newOrg();
    stub.byTenant.set(tenantId, next);
    await broker.forget(tenantId);
    await pending;
    sim.setLatency(0);
    await broker.token(tenantId);
    expect(sim.tokenRequests(next.clientId)).toBe(1);
  });
});

describe('GenesysTokenBroker with a real CredentialsClient and tenant-service', () => {
  let sys: TestSystem;
  let cache: Cache;
  let credentials: CredentialsClient;
  let broker: GenesysTokenBroker;

  beforeAll(async () => {
    sys = await startTestSystem({ only: ['tenant-service'] });
    // The process-wide cache tenant-service publishes its events on.
    cache = createCache();
    credentials = new CredentialsClient({ tenantServiceUrl: sys.internalUrls['tenant-service']!, internalToken: testSecrets.AUTH_SERVICE_INTERNAL_TOKEN, cache });
    await credentials.start();
    broker = new GenesysTokenBroker({ cache, credentials, loginUrlTemplate: sim.url, logger });
    await broker.start();
  });

  afterAll(async () => {
    await broker?.close();
    await credentials?.close();
    await sys?.stop();
  });

  it('fetches with the stored credentials and switches when the admin replaces them', async () => {
    const { tenantId } = await sys.createTenant();
    const first = newOrg();
    expect((await sys.admin('post', `/tenants/${tenantId}/credentials`).send({ type: 'genesys', credentials: first })).status).toBe(201);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => broker.token(tenantId)));
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(sim.tokenRequests(first.clientId)).toBe(1);

    const second = newOrg();
    expect((await sys.admin('post', `/tenants/${tenantId}/credentials`).send({ type: 'genesys', credentials: second })).status).toBe(201);
    const after = await broker.token(tenantId);
    expect(after.accessToken).not.toBe(tokens[0].accessToken);
    expect(sim.tokenRequests(second.clientId)).toBe(1);
    expect(sim.tokenRequests(first.clientId)).toBe(1);
  });

  it('answers GENESYS_NOT_CONFIGURED for a tenant without Genesys credentials', async () => {
    const { tenantId } = await sys.createTenant();
    await expect(broker.token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_NOT_CONFIGURED', status: 404 });
  });
});

describeWithRedis('GenesysTokenBroker replicas sharing Redis', () => {
  let caches: RedisCache[];
  let brokers: GenesysTokenBroker[];
  let stub: StubCredentials;

  beforeAll(async () => {
    stub = new StubCredentials();
    caches = [RedisCache.fromUrl(TEST_REDIS_URL!), RedisCache.fromUrl(TEST_REDIS_URL!)];
    brokers = caches.map((cache) => new GenesysTokenBroker({ cache, credentials: stub, loginUrlTemplate: sim.url, logger }));
    await Promise.all(brokers.map((b) => b.start()));
  });

  afterAll(async () => {
    for (const b of brokers ?? []) await b.close();
    for (const c of caches ?? []) await c.close();
  });

  function newTenant(tokenTtlSeconds?: number) {
    const tenantId = uniqueTenantId();
    const credentials = newOrg(tokenTtlSeconds);
    stub.byTenant.set(tenantId, credentials);
    return { tenantId, credentials };
  }

  it('makes one token request for concurrent callers on both replicas, stored at t:{tenantId}:genesys:token', async () => {
    const { tenantId, credentials } = newTenant();
    sim.setLatency(100);
    try {
      const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => brokers[i % 2].token(tenantId)));
      expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
      expect(sim.tokenRequests(credentials.clientId)).toBe(1);

      const key = `t:{${tenantId}}:genesys:token`;
      expect(JSON.parse((await caches[0].redis.get(key))!)).toMatchObject({ accessToken: tokens[0].accessToken });
      const ttl = await caches[0].redis.pttl(key);
      expect(ttl).toBeGreaterThan(86_300_000);
      expect(ttl).toBeLessThanOrEqual(86_340_000);
    } finally {
      sim.setLatency(0);
    }
  });

  it('replaces a rejected token once across replicas', async () => {
    const { tenantId, credentials } = newTenant();
    const old = await brokers[0].token(tenantId);
    sim.setLatency(100);
    try {
      const renewed = await Promise.all(Array.from({ length: 20 }, (_, i) => brokers[i % 2].token(tenantId, old.accessToken)));
      expect(new Set(renewed.map((t) => t.accessToken)).size).toBe(1);
      expect(renewed[0].accessToken).not.toBe(old.accessToken);
      expect(sim.tokenRequests(credentials.clientId)).toBe(2);
    } finally {
      sim.setLatency(0);
    }
  });

  it('shares a remembered auth failure across replicas', async () => {
    const { tenantId, credentials } = newTenant();
    stub.byTenant.set(tenantId, { ...credentials, clientSecret: 'not-the-right-secret' });
    await expect(brokers[0].token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_AUTH_FAILED' });
    await expect(brokers[1].token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_AUTH_FAILED' });
    expect(sim.tokenRequests(credentials.clientId)).toBe(1);
  });

  it('drops the shared token when credentials change, whichever replica hears of it', async () => {
    const { tenantId, credentials } = newTenant();
    const first = await brokers[0].token(tenantId);
    const next = newOrg();
    stub.byTenant.set(tenantId, next);
    await publishTenantEvent(caches[1], { tenantId, kind: 'credentials-changed' });
    const key = `t:{${tenantId}}:genesys:token`;
    for (let i = 0; i < 100 && (await caches[0].redis.get(key)); i++) await sleep(20);

    const second = await brokers[1].token(tenantId);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(1);
    expect(sim.tokenRequests(next.clientId)).toBe(1);
  });
});

describe('POST /internal/genesys/token and GenesysTokenClient', () => {
  let cache: MemoryCache;
  let stub: StubCredentials;
  let broker: GenesysTokenBroker;
  let app: ReturnType<typeof createServiceApp>;
  let running: RunningService;
  let client: GenesysTokenClient;

  beforeAll(async () => {
    cache = new MemoryCache();
    stub = new StubCredentials();
    broker = new GenesysTokenBroker({ cache, credentials: stub, loginUrlTemplate: sim.url, logger });
    app = createServiceApp({ name: 'auth-service', logger, readiness: {}, routes: (a) => a.use(internalRoutes(broker, { 'genesys-connector': [INTERNAL] })) });
    running = await listen(app, { port: 0, host: '127.0.0.1' });
    client = new GenesysTokenClient({ authServiceUrl: `http://127.0.0.1:${running.port}`, internalToken: INTERNAL });
  });

  afterAll(async () => {
    client?.close();
    await running?.close();
    await broker?.close();
    await cache?.close();
  });

  function newTenant() {
    const tenantId = uniqueTenantId();
    const credentials = newOrg();
    stub.byTenant.set(tenantId, credentials);
    return { tenantId, credentials };
  }

  const post = () => request(app).post('/internal/genesys/token');

  it('refuses a call without the internal token (401)', async () => {
    const { tenantId } = newTenant();
    const res = await post().send({ tenantId });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_INTERNAL_TOKEN');
    expect((await post().set('X-Internal-Token', 'wrong').send({ tenantId })).status).toBe(401);
    // Another service's token does not open this route.
    expect((await post().set('X-Internal-Token', testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN).send({ tenantId })).status).toBe(401);
  });

  it('refuses a bad body (400), naming the field', async () => {
    const missing = await post().set('X-Internal-Token', INTERNAL).send({});
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/tenantId/);
    const bad = await post().set('X-Internal-Token', INTERNAL).send({ tenantId: 'Not A Tenant', rejectedToken: 5 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/tenantId/);
    expect(bad.body.error.message).toMatch(/rejectedToken/);
    const malformed = await post().set('X-Internal-Token', INTERNAL).set('Content-Type', 'application/json').send('{"tenantId":');
    expect(malformed.status).toBe(400);
  });

  it('answers a token, not to be cached by HTTP intermediaries', async () => {
    const { tenantId } = newTenant();
    const res = await post().set('X-Internal-Token', INTERNAL).send({ tenantId });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.keys(res.body).sort()).toEqual(['accessToken', 'expiresAt']);
    expect(typeof res.body.accessToken).toBe('string');
    expect(Number.isNaN(Date.parse(res.body.expiresAt))).toBe(false);
  });

  it('replaces a rejected token given in the body', async () => {
    const { tenantId, credentials } = newTenant();
    const first = await post().set('X-Internal-Token', INTERNAL).send({ tenantId });
    const second = await post().set('X-Internal-Token', INTERNAL).send({ tenantId, rejectedToken: first.body.accessToken });
    expect(second.status).toBe(200);
    expect(second.body.accessToken).not.toBe(first.body.accessToken);
    expect(sim.tokenRequests(credentials.clientId)).toBe(2);
  });

  it('passes the broker errors on in the contract shape', async () => {
    const res = await post().set('X-Internal-Token', INTERNAL).send({ tenantId: uniqueTenantId() });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('GENESYS_NOT_CONFIGURED');
  });

  it('GenesysTokenClient: one hop for concurrent callers, then a local copy', async () => {
    const { tenantId, credentials } = newTenant();
    const spy = jest.spyOn(broker, 'token');
    try {
      const tokens = await Promise.all(Array.from({ length: 10 }, () => client.token(tenantId)));
      expect(new Set(tokens).size).toBe(1);
      expect(await client.token(tenantId)).toBe(tokens[0]);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(sim.tokenRequests(credentials.clientId)).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('GenesysTokenClient: a rejected token bypasses the local copy and is replaced once', async () => {
    const { tenantId, credentials } = newTenant();
    const old = await client.token(tenantId);
    const renewed = await Promise.all(Array.from({ length: 10 }, () => client.token(tenantId, old)));
    expect(new Set(renewed).size).toBe(1);
    expect(renewed[0]).not.toBe(old);
    expect(sim.tokenRequests(credentials.clientId)).toBe(2);
    expect(await client.token(tenantId)).toBe(renewed[0]);
  });

  it('GenesysTokenClient: asks again once its local copy is too old', async () => {
    const short = new GenesysTokenClient({ authServiceUrl: `http://127.0.0.1:${running.port}`, internalToken: INTERNAL, maxLocalAgeMs: 100 });
    const { tenantId } = newTenant();
    const spy = jest.spyOn(broker, 'token');
    try {
      await short.token(tenantId);
      await sleep(150);
      await short.token(tenantId);
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
      short.close();
    }
  });

  it('GenesysTokenClient: passes auth-service errors on, and treats a refused internal token as unavailable', async () => {
    await expect(client.token(uniqueTenantId())).rejects.toMatchObject({ code: 'GENESYS_NOT_CONFIGURED', status: 404 });

    const { tenantId, credentials } = newTenant();
    stub.byTenant.set(tenantId, { ...credentials, clientSecret: 'not-the-right-secret' });
    await expect(client.token(tenantId)).rejects.toMatchObject({ code: 'GENESYS_AUTH_FAILED', status: 502 });

    const wrong = new GenesysTokenClient({ authServiceUrl: `http://127.0.0.1:${running.port}`, internalToken: 'wrong' });
    await expect(wrong.token(tenantId)).rejects.toMatchObject({ code: 'AUTH_SERVICE_UNAVAILABLE', status: 503 });
    wrong.close();

    const down = new GenesysTokenClient({ authServiceUrl: 'http://127.0.0.1:1', internalToken: INTERNAL, timeoutMs: 1000 });
    await expect(down.token(tenantId)).rejects.toMatchObject({ code: 'AUTH_SERVICE_UNAVAILABLE', status: 503 });
    down.close();
  });
});
