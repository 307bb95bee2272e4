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

describe('MemoryCache in a service’s heap', () => {
  it('holds at most maxEntries keys, evicting the least recently used', async () => {
    const cache = new MemoryCache(Date.now, { maxEntries: 100 });
    for (let i = 0; i < 1_000; i++) await cache.set(`k${i}`, 'v', 60);
    expect(cache.stats.entries).toBe(100);
    expect(await cache.get('k0')).toBeNull();
    expect(await cache.get('k999')).toBe('v');
    await cache.close();
  });

  it('holds at most maxBytes, and keeps no value larger than that', async () => {
    const cache = new MemoryCache(Date.now, { maxBytes: 100_000 });
    for (let i = 0; i < 1_000; i++) await cache.set(`k${i}`, 'x'.repeat(1_000), 60);
    expect(cache.stats.bytes).toBeLessThanOrEqual(100_000);
    expect(await cache.get('k999')).toBe('x'.repeat(1_000));
    expect(await cache.set('huge', 'y'.repeat(1_000_000), 60)).toBe(true);
    expect(await cache.get('huge')).toBeNull();
    await cache.close();
  });

  it('expires on its clock, keeps a counter’s first expiry, and sweeps what expired', async () => {
    let now = 1_000_000;
    const cache = new MemoryCache(() => now);
    await cache.set('a', 'v', 10);
    expect(await cache.incr('n', 10)).toBe(1);
    now += 9_000;
    expect(await cache.incr('n', 10)).toBe(2);
    now += 1_001;
    expect(await cache.get('a')).toBeNull();
    expect(await cache.incr('n', 10)).toBe(1);
    for (let i = 0; i < 50; i++) await cache.set(`gone${i}`, 'v', 1);
    now += 1_001;
    (cache as unknown as { entries: { purgeStale(): void } }).entries.purgeStale();
    expect(cache.stats.entries).toBe(1);
    await cache.close();
  });
});

describeWithRedis('RedisCache', () => behavesLikeACache(() => RedisCache.fromUrl(TEST_REDIS_URL!)));

describe('keys', () => {
  it('keeps a tenant on one cluster slot', () => {
    expect(tenantKey('acme', 'genesys', 'token')).toBe('t:{acme}:genesys:token');
    expect(platformKey('apikey', 'abc')).toBe('p:apikey:abc');
  });
});
