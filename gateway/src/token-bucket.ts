import type { Redis } from 'ioredis';
import { RedisCache, platformKey, type Cache, type Logger } from '@bridge/shared';

/** A bucket of `capacity` tokens that refills at `perMinute` tokens a minute, up to `capacity`. */
export interface BucketPolicy {
  capacity: number;
  perMinute: number;
}

/** A bucket after a take (or a look). */
export interface BucketState {
  /** Whether the take succeeded (for a look: whether at least one token is there). */
  allowed: boolean;
  /** Tokens left, possibly fractional. */
  tokens: number;
  /** Milliseconds until one more token is there (0 when one is). */
  retryAfterMs: number;
  /** Milliseconds until the bucket is full again. */
  fullInMs: number;
}

/**
 * Token buckets by key (e.g. a client address): `take` spends a token when there is one, `peek`
 * looks without spending. With Redis the buckets are shared by every process using it (one
 * atomic script per call, on Redis's clock); while Redis cannot be reached each process falls
 * back to buckets of its own, so the budget still holds per process rather than failing open or
 * failing every request.
 */
export interface TokenBuckets {
  readonly policy: BucketPolicy;
  take(key: string): Promise<BucketState>;
  peek(key: string): Promise<BucketState>;
}

function stateOf(policy: BucketPolicy, tokens: number, allowed: boolean): BucketState {
  const perMs = policy.perMinute / 60_000;
  return {
    allowed,
    tokens,
    retryAfterMs: tokens >= 1 ? 0 : Math.ceil((1 - tokens) / perMs),
    fullInMs: Math.ceil((policy.capacity - tokens) / perMs),
  };
}

/** In-process buckets. At most `maxKeys` are remembered; the least recently used go first (a forgotten bucket is a full one). */
export class LocalTokenBuckets implements TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly policy: BucketPolicy,
    private readonly options: { maxKeys?: number; now?: () => number } = {},
  ) {}

  private level(key: string, now: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return this.policy.capacity;
    return Math.min(this.policy.capacity, bucket.tokens + ((now - bucket.at) * this.policy.perMinute) / 60_000);
  }

  async take(key: string): Promise<BucketState> {
    const now = (this.options.now ?? Date.now)();
    const tokens = this.level(key, now);
    if (tokens < 1) return stateOf(this.policy, tokens, false);
    // Delete then set: a Map iterates in insertion order, so the first key is the least recently used.
    this.buckets.delete(key);
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.buckets.size > (this.options.maxKeys ?? 100_000)) this.buckets.delete(this.buckets.keys().next().value!);
    return stateOf(this.policy, tokens - 1, true);
  }

  async peek(key: string): Promise<BucketState> {
    const tokens = this.level(key, (this.options.now ?? Date.now)());
    return stateOf(this.policy, tokens, tokens >= 1);
  }
}

/**
 * KEYS[1]: the bucket (a hash of `tokens` and `at`, ms). ARGV: capacity, tokens per ms, cost (0 to
 * look only). Returns {allowed (0|1), tokens left (a string: Lua numbers become integers)}.
 * A refused take writes nothing, so a client that keeps knocking is not pushed further back.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
end
if cost == 0 then
  return {tokens >= 1 and 1 or 0, tostring(tokens)}
end
if tokens < cost then
  return {0, tostring(tokens)}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return {1, tostring(tokens)}
`;

type BucketRedis = Redis & { bridgeTokenBucket(key: string, capacity: number, perMs: number, cost: number): Promise<[number, string]> };

/** Buckets in Redis, under `p:budget:<name>:<key>`, with in-process buckets while Redis is away. */
export class RedisTokenBuckets implements TokenBuckets {
  private readonly redis: BucketRedis;
  private readonly fallback: LocalTokenBuckets;
  private fallingBack = false;

  constructor(
    redis: Redis,
    private readonly name: string,
    readonly policy: BucketPolicy,
    private readonly logger?: Logger,
  ) {
    if (!('bridgeTokenBucket' in redis)) redis.defineCommand('bridgeTokenBucket', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.redis = redis as BucketRedis;
    this.fallback = new LocalTokenBuckets(policy);
  }

  take(key: string): Promise<BucketState> {
    return this.call(key, 1, () => this.fallback.take(key));
  }

  peek(key: string): Promise<BucketState> {
    return this.call(key, 0, () => this.fallback.peek(key));
  }

  private async call(key: string, cost: number, local: () => Promise<BucketState>): Promise<BucketState> {
    // Not connected: do not queue behind a reconnect, answer from this process at once.
    if (this.redis.status !== 'ready') return this.fallBack(local);
    try {
      const [allowed, tokens] = await this.redis.bridgeTokenBucket(platformKey('budget', this.name, key), this.policy.capacity, this.policy.perMinute / 60_000, cost);
      if (this.fallingBack) {
        this.fallingBack = false;
        this.logger?.info({ budget: this.name }, 'client budget back in Redis');
      }
      return stateOf(this.policy, Number(tokens), allowed === 1);
    } catch (err) {
      return this.fallBack(local, err);
    }
  }

  private fallBack(local: () => Promise<BucketState>, err?: unknown): Promise<BucketState> {
    if (!this.fallingBack) {
      this.fallingBack = true;
      this.logger?.warn({ budget: this.name, err }, 'Redis unavailable: client budget counted in this process until it returns');
    }
    return local();
  }
}

/** Buckets shared through the cache when it is Redis, in this process otherwise. */
export function createTokenBuckets(cache: Cache, name: string, policy: BucketPolicy, logger?: Logger): TokenBuckets {
  return cache instanceof RedisCache ? new RedisTokenBuckets(cache.redis, name, policy, logger) : new LocalTokenBuckets(policy);
}
