import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { AppError, RedisCache, createCache, createLogger, onTenantEvent, tenantKey } from '../src';
import { CredentialsClient } from '../src/credentials-client';
import { startTestSystem, type TestSystem } from '../../test/support/system';
import { TEST_REDIS_URL, describeWithRedis, testSecrets } from '../../test/support/env';
import { uniqueNumericId } from '../../test/support/ids';

/**
 * Stands between the client and tenant-service, counting the requests that reach tenant-service
 * and, on demand, slowing them down or failing them.
 */
interface Proxy {
  url: string;
  requests: string[];
  delayMs: number;
  failNext: number;
  close(): Promise<void>;
}

async function startProxy(target: string): Promise<Proxy> {
  const upstream = new URL(target);
  const proxy: Proxy = { url: '', requests: [], delayMs: 0, failNext: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    proxy.requests.push(req.url ?? '');
    if (proxy.failNext > 0) {
      proxy.failNext--;
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } }));
      return;
    }
    setTimeout(() => {
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(up);
    }, proxy.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}

async function waitUntil(cond: () => Promise<boolean> | boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const genesysCredentials = (n = 1) => ({
  clientId: `client-${n}-${Date.now()}`,
  clientSecret: `genesys-client-secret-${n}-abcdef`,
  region: 'mypurecloud.ie' as const,
  integrationId: `integration-${n}`,
  webhookSecret: `genesys-webhook-secret-${n}-0123456789`,
});

const metaCredentials = () => ({
  appSecret: 'meta-app-secret-1234',
  verifyToken: 'verify-token-5678',
  accessToken: 'EAAG-access-token-9999',
  phoneNumberId: uniqueNumericId(),
  wabaId: '1029384756',
});

async function storeCredentials(sys: TestSystem, tenantId: string, type: 'meta' | 'genesys', credentials: object) {
  const res = await sys.admin('post', `/tenants/${tenantId}/credentials`).send({ type, credentials });
  expect(res.status).toBe(201);
}

describe('CredentialsClient against tenant-service', () => {
  let sys: TestSystem;
  let proxy: Proxy;
  let client: CredentialsClient;
  const clients: CredentialsClient[] = [];

  /** A client that goes through the counting proxy and hears tenant events through the shared in-process cache. */
  async function newClient(options: Partial<ConstructorParameters<typeof CredentialsClient>[0]> = {}) {
    const c = new CredentialsClient({
      tenantServiceUrl: proxy.url,
      internalToken: testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN,
      cache: createCache(),
      ...options,
    });
    await c.start();
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    sys = await startTestSystem({ only: ['tenant-service'] });
    proxy = await startProxy(sys.internalUrls['tenant-service']!);
    client = await newClient();
  });

  afterAll(async () => {
    for (const c of clients) await c.close();
    await proxy?.close();
    await sys?.stop();
  });

  beforeEach(() => {
    proxy.requests.length = 0;
    proxy.delayMs = 0;
    proxy.failNext = 0;
  });

  it('returns the credentials tenant-service stores, decrypted', async () => {
    const { tenantId } = await sys.createTenant();
    const genesys = genesysCredentials();
    const meta = metaCredentials();
    await storeCredentials(sys, tenantId, 'genesys', genesys);
    await storeCredentials(sys, tenantId, 'meta', meta);

    expect(await client.genesys(tenantId)).toEqual(genesys);
    expect(await client.meta(tenantId)).toEqual(meta);
  });

  it('makes one request for many concurrent callers, then answers from memory', async () => {
    const { tenantId } = await sys.createTenant();
    const genesys = genesysCredentials();
    await storeCredentials(sys, tenantId, 'genesys', genesys);
    proxy.delayMs = 50;

    const answers = await Promise.all(Array.from({ length: 25 }, () => client.genesys(tenantId)));
    expect(answers.every((a) => a?.clientSecret === genesys.clientSecret)).toBe(true);
    expect(await client.genesys(tenantId)).toEqual(genesys);
    expect(proxy.requests).toEqual([`/internal/tenants/${tenantId}/credentials/genesys`]);
  });

  it('keeps each type apart and each tenant apart', async () => {
    const a = await sys.createTenant();
    const b = await sys.createTenant();
    const credsA = genesysCredentials(1);
    const credsB = genesysCredentials(2);
    await storeCredentials(sys, a.tenantId, 'genesys', credsA);
    await storeCredentials(sys, b.tenantId, 'genesys', credsB);

    expect((await client.genesys(a.tenantId))?.clientSecret).toBe(credsA.clientSecret);
    expect((await client.genesys(b.tenantId))?.clientSecret).toBe(credsB.clientSecret);
    expect(await client.meta(a.tenantId)).toBeUndefined();
  });

  it('uses replaced credentials at once, without waiting for the TTL', async () => {
    const { tenantId } = await sys.createTenant();
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials(1));
    expect((await client.genesys(tenantId))?.clientId).toMatch(/^client-1-/);

    const replacement = genesysCredentials(2);
    await storeCredentials(sys, tenantId, 'genesys', replacement);
    expect(await client.genesys(tenantId)).toEqual(replacement);
  });

  it('answers undefined for an unknown tenant or type, remembers that briefly, and forgets it when credentials arrive', async () => {
    expect(await client.genesys('no-such-tenant')).toBeUndefined();
    const { tenantId } = await sys.createTenant();
    expect(await client.genesys(tenantId)).toBeUndefined();
    expect(await client.genesys(tenantId)).toBeUndefined();
    expect(proxy.requests.filter((r) => r.includes(tenantId))).toHaveLength(1);

    const genesys = genesysCredentials();
    await storeCredentials(sys, tenantId, 'genesys', genesys);
    expect(await client.genesys(tenantId)).toEqual(genesys);
  });

  it('asks tenant-service nothing, and remembers nothing, for an id that is not a tenant id', async () => {
    for (const junk of ['UPPER-case', 'x', 'a'.repeat(51), '../../internal', 'with space', `${'9'.repeat(3 * 1024 * 1024)}`]) {
      expect(await client.meta(junk)).toBeUndefined();
      expect(await client.genesys(junk)).toBeUndefined();
    }
    expect(proxy.requests).toEqual([]);
  });

  it('keeps a flood of unknown tenants apart and bounded: known tenants stay in memory, the oldest unknown ones go', async () => {
    const bounded = await newClient({ maxNegativeEntries: 20 });
    const { tenantId } = await sys.createTenant();
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials());
    await bounded.genesys(tenantId);
    const unknown = Array.from({ length: 60 }, (_, i) => `flood-${i}-${Date.now().toString(36)}`);
    for (const id of unknown) expect(await bounded.genesys(id)).toBeUndefined();
    proxy.requests.length = 0;

    expect(await bounded.genesys(tenantId)).toBeDefined();
    await bounded.genesys(unknown[59]);
    expect(proxy.requests).toEqual([]);
    await bounded.genesys(unknown[0]);
    expect(proxy.requests).toEqual([`/internal/tenants/${unknown[0]}/credentials/genesys`]);
  });

  it('answers undefined once the tenant is deleted', async () => {
    const { tenantId } = await sys.createTenant();
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials());
    expect(await client.genesys(tenantId)).toBeDefined();
    expect((await sys.admin('delete', `/tenants/${tenantId}`)).status).toBe(204);
    expect(await client.genesys(tenantId)).toBeUndefined();
  });

  it('fetches again after the TTL', async () => {
    const short = await newClient({ ttlSeconds: 0.2 });
    const { tenantId } = await sys.createTenant();
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials());
    await short.genesys(tenantId);
    await short.genesys(tenantId);
    expect(proxy.requests).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    await short.genesys(tenantId);
    expect(proxy.requests).toHaveLength(2);
  });

  it('does not keep an answer that was under way when the tenant was invalidated', async () => {
    const { tenantId } = await sys.createTenant();
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials());
    proxy.delayMs = 100;
    const pending = client.genesys(tenantId);
    await new Promise((r) => setTimeout(r, 20));
    client.invalidate(tenantId);
    await pending;
    proxy.delayMs = 0;
    await client.genesys(tenantId);
    expect(proxy.requests).toHaveLength(2);
  });

  it('throws CREDENTIALS_UNAVAILABLE (503) on a tenant-service failure, and does not remember it', async () => {
    const { tenantId } = await sys.createTenant();
    const genesys = genesysCredentials();
    await storeCredentials(sys, tenantId, 'genesys', genesys);
    proxy.failNext = 1;
    await expect(client.genesys(tenantId)).rejects.toMatchObject({ code: 'CREDENTIALS_UNAVAILABLE', status: 503 });
    expect(await client.genesys(tenantId)).toEqual(genesys);
  });

  it('throws CREDENTIALS_UNAVAILABLE (503) when tenant-service is down, without logging the token', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const down = await newClient({ tenantServiceUrl: `http://127.0.0.1:${port}`, logger: createLogger({ name: 'test', level: 'debug', destination }) });
    const err = await down.genesys('acme').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'CREDENTIALS_UNAVAILABLE', status: 503 });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain(testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN);
  });

  it('throws CREDENTIALS_UNAVAILABLE (503) when tenant-service refuses the internal token', async () => {
    const wrong = await newClient({ internalToken: 'not-the-internal-token' });
    await expect(wrong.genesys('acme')).rejects.toMatchObject({ code: 'CREDENTIALS_UNAVAILABLE', status: 503 });
  });

  it('stops listening for tenant events once closed', async () => {
    const c = new CredentialsClient({ tenantServiceUrl: proxy.url, internalToken: testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN, cache: createCache() });
    await c.start();
    const { tenantId } = await sys.createTenant();
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials());
    await c.genesys(tenantId);
    await c.close();
    const spy = jest.spyOn(c, 'invalidate');
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials(2));
    expect(spy).not.toHaveBeenCalled();
  });
});

describeWithRedis('CredentialsClient with Redis', () => {
  let sys: TestSystem;
  let cache: RedisCache;
  let client: CredentialsClient;

  beforeAll(async () => {
    sys = await startTestSystem({ redis: true, only: ['tenant-service'] });
    cache = RedisCache.fromUrl(TEST_REDIS_URL!);
    client = new CredentialsClient({ tenantServiceUrl: sys.internalUrls['tenant-service']!, internalToken: testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN, cache });
    await client.start();
  });

  afterAll(async () => {
    await client?.close();
    await cache?.close();
    await sys?.stop();
  });

  it('drops credentials replaced through another process, via Redis pub/sub', async () => {
    const { tenantId } = await sys.createTenant();
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials(1));
    expect((await client.genesys(tenantId))?.clientId).toMatch(/^client-1-/);

    const replacement = genesysCredentials(2);
    await storeCredentials(sys, tenantId, 'genesys', replacement);
    await waitUntil(async () => (await client.genesys(tenantId))?.clientSecret === replacement.clientSecret, 2000);
  });

  /** Resolves once this process has heard tenant-service announce the tenant's new credentials. */
  async function announced(tenantId: string): Promise<() => Promise<void>> {
    let heard!: () => void;
    const done = new Promise<void>((resolve) => (heard = resolve));
    const unsubscribe = await onTenantEvent(cache, (e) => {
      if (e.tenantId === tenantId && e.kind === 'credentials-changed') heard();
    });
    return async () => {
      await done;
      await unsubscribe();
    };
  }

  it('drops what it holds after its subscriber reconnects: a rotation announced meanwhile is not missed', async () => {
    const { tenantId } = await sys.createTenant();
    // The first store's own announcement must have arrived before the client caches, or its late
    // arrival would drop the entry and the client would fetch the replacement early.
    const firstAnnounced = await announced(tenantId);
    await storeCredentials(sys, tenantId, 'genesys', genesysCredentials(1));
    await firstAnnounced();
    expect((await client.genesys(tenantId))?.clientId).toMatch(/^client-1-/);

    // The subscriber's connection drops; the rotation is announced while nobody listens.
    const subscriber = (cache as unknown as { subscriber: RedisCache['redis'] }).subscriber;
    // disconnect() only half-closes the socket: a message published before the server closes
    // its side would still arrive. Wait for 'end' so the announcement really finds nobody.
    const ended = new Promise((resolve) => subscriber.once('end', resolve));
    subscriber.disconnect();
    await ended;
    const replacement = genesysCredentials(2);
    await storeCredentials(sys, tenantId, 'genesys', replacement);
    expect(subscriber.status).not.toBe('ready');
    expect((await client.genesys(tenantId))?.clientId).toMatch(/^client-1-/);

    // Once it is back, the stale entry is gone (without a reconnect rule it would stay for 300 s).
    await subscriber.connect();
    await waitUntil(async () => (await client.genesys(tenantId))?.clientSecret === replacement.clientSecret, 3000);
  });

  it('never writes a secret to Redis', async () => {
    const { tenantId } = await sys.createTenant();
    const genesys = genesysCredentials();
    await storeCredentials(sys, tenantId, 'genesys', genesys);
    await client.genesys(tenantId);
    const keys = await cache.redis.keys(`${tenantKey(tenantId)}*`);
    const values = await Promise.all(keys.map(async (k) => ((await cache.redis.type(k)) === 'string' ? cache.redis.get(k) : '')));
    for (const value of values) {
      expect(value ?? '').not.toContain(genesys.clientSecret);
      expect(value ?? '').not.toContain(genesys.webhookSecret);
    }
  });
});
