import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LocalTokenBuckets, RedisTokenBuckets, type TokenBuckets } from '../src/token-bucket';
import { TEST_REDIS_URL, describeWithRedis } from '../../test/support/env';

const policy = { capacity: 3, perMinute: 60 }; // a token a second

async function takeAll(buckets: TokenBuckets, key: string, n: number): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) out.push((await buckets.take(key)).allowed);
  return out;
}

describe('in-process token buckets', () => {
  it('spend a burst of `capacity`, then refill at the policy’s rate, never above capacity', async () => {
    let now = 1_000_000;
    const buckets = new LocalTokenBuckets(policy, { now: () => now });
    expect(await takeAll(buckets, 'a', 4)).toEqual([true, true, true, false]);
    const empty = await buckets.peek('a');
    expect(empty).toMatchObject({ allowed: false, retryAfterMs: 1000, fullInMs: 3000 });
    now += 1000;
    expect(await takeAll(buckets, 'a', 2)).toEqual([true, false]);
    now += 60_000;
    expect((await buckets.peek('a')).tokens).toBe(3);
    expect(await takeAll(buckets, 'b', 3)).toEqual([true, true, true]);
  });

  it('look without spending', async () => {
    const buckets = new LocalTokenBuckets(policy);
    for (let i = 0; i < 10; i++) expect((await buckets.peek('a')).allowed).toBe(true);
    expect(await takeAll(buckets, 'a', 4)).toEqual([true, true, true, false]);
  });

  it('remember a bounded number of keys, forgetting the least recently used first', async () => {
    const buckets = new LocalTokenBuckets(policy, { maxKeys: 100, now: () => 0 });
    await takeAll(buckets, 'first', 3);
    for (let i = 0; i < 200; i++) await buckets.take(`k${i}`);
    expect((buckets as unknown as { buckets: Map<string, unknown> }).buckets.size).toBe(100);
    // Forgotten: a forgotten bucket is a full one.
    expect((await buckets.peek('first')).tokens).toBe(3);
  });
});

describeWithRedis('token buckets in Redis', () => {
  let redis: Redis[];
  const key = () => `test-${randomBytes(6).toString('hex')}`;

  beforeAll(() => {
    redis = [new Redis(TEST_REDIS_URL!), new Redis(TEST_REDIS_URL!)];
  });
  afterAll(async () => {
    for (const r of redis) r.disconnect();
  });

  it('are one bucket for every process using the same Redis', async () => {
    const [a, b] = redis.map((r) => new RedisTokenBuckets(r, 'test', policy));
    await Promise.all(redis.map((r) => r.ping()));
    const k = key();
    expect([(await a.take(k)).allowed, (await b.take(k)).allowed, (await a.take(k)).allowed]).toEqual([true, true, true]);
    expect((await b.take(k)).allowed).toBe(false);
    const state = await a.peek(k);
    expect(state.allowed).toBe(false);
    expect(state.retryAfterMs).toBeGreaterThan(0);
    expect(state.retryAfterMs).toBeLessThanOrEqual(1000);
    // The next token comes a second later, on Redis's clock.
    await new Promise((r) => setTimeout(r, 1050));
    expect((await b.take(k)).allowed).toBe(true);
    expect((await a.take(k)).allowed).toBe(false);
  });

  it('expire once full again, leaving nothing behind in Redis', async () => {
    const buckets = new RedisTokenBuckets(redis[0], 'test', { capacity: 1, perMinute: 60_000 });
    const k = key();
    await buckets.take(k);
    expect(await redis[0].pttl(`p:budget:test:${k}`)).toBeLessThanOrEqual(1001);
    expect(await redis[0].pttl(`p:budget:test:${k}`)).toBeGreaterThan(0);
  });

  it('are counted in the process while Redis cannot be reached, instead of failing or letting all through', async () => {
    // A client whose server is gone: connection refused, retrying in the background.
    const gone = new Redis({ port: 1, lazyConnect: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    gone.on('error', () => undefined);
    try {
      const buckets = new RedisTokenBuckets(gone, 'test', policy);
      const started = Date.now();
      expect(await takeAll(buckets, 'k', 4)).toEqual([true, true, true, false]);
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      gone.disconnect();
    }
  });
});
