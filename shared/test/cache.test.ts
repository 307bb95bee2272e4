import { randomBytes } from 'node:crypto';
import { MemoryCache, RedisCache, tenantKey, platformKey, type Cache } from '../src';
import { TEST_REDIS_URL, describeWithRedis } from '../../test/support/env';

function behavesLikeACache(make: () => Cache) {
  let cache: Cache;
  const key = (name: string) => tenantKey(`c-${randomBytes(4).toString('hex')}`, name);

  beforeAll(() => {
    cache = make();
  });
  afterAll(() => cache.close());

  it('stores, reads and deletes', async () => {
    const k = key('a');
    expect(await cache.get(k)).toBeNull();
    expect(await cache.set(k, 'v1', 10)).toBe(true);
    expect(await cache.get(k)).toBe('v1');
    await cache.del(k);
    expect(await cache.get(k)).toBeNull();
  });

  it('sets only when absent on request', async () => {
    const k = key('nx');
    expect(await cache.set(k, 'first', 10, { ifAbsent: true })).toBe(true);
    expect(await cache.set(k, 'second', 10, { ifAbsent: true })).toBe(false);
    expect(await cache.get(k)).toBe('first');
  });

  it('expires entries', async () => {
    const k = key('ttl');
    await cache.set(k, 'v', 0.05);
    await new Promise((r) => setTimeout(r, 120));
    expect(await cache.get(k)).toBeNull();
  });

  it('counts', async () => {
    const k = key('n');
    expect(await cache.incr(k, 10)).toBe(1);
    expect(await cache.incr(k, 10)).toBe(2);
  });

  it('broadcasts to subscribers until they unsubscribe', async () => {
    const channel = `test:${randomBytes(4).toString('hex')}`;
    const got: string[] = [];
    const unsubscribe = await cache.subscribe(channel, (m) => got.push(m));
    await cache.publish(channel, 'hello');
    await waitUntil(() => got.length === 1);
    await unsubscribe();
    await cache.publish(channel, 'after');
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['hello']);
  });

  it('answers ping', async () => {
    expect(await cache.ping()).toBe(true);
  });
}

async function waitUntil(cond: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('MemoryCache', () => behavesLikeACache(() => new MemoryCache()));

describeWithRedis('RedisCache', () => behavesLikeACache(() => RedisCache.fromUrl(TEST_REDIS_URL!)));

describe('keys', () => {
  it('keeps a tenant on one cluster slot', () => {
    expect(tenantKey('acme', 'genesys', 'token')).toBe('t:{acme}:genesys:token');
    expect(platformKey('apikey', 'abc')).toBe('p:apikey:abc');
  });
});
