import { MemoryStore, rateLimit, type ClientRateLimitInfo, type Options, type Store } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { RedisCache, appError, type Cache, type Logger } from '@bridge/shared';

const WINDOW_MS = 60_000;

/**
 * Counts in Redis (rate-limit-redis), shared by every gateway replica, and in this process
 * (express-rate-limit's MemoryStore) whenever Redis is not connected or a command fails, so that
 * a Redis outage neither fails nor unlimits tenant requests: each replica then enforces the limit
 * on its own. (express-rate-limit's `passOnStoreError` would let every request through instead.)
 * RedisStore loads its scripts in `init`; if Redis was away then, it is initialised again once
 * Redis is back.
 */
export class FallbackRateLimitStore implements Store {
  readonly localKeys = false;
  private readonly local = new MemoryStore();
  private primary?: RedisStore;
  private options?: Options;
  private fallingBack = false;

  constructor(
    private readonly redis: Redis,
    private readonly redisPrefix: string,
    private readonly logger?: Logger,
  ) {}

  init(options: Options): void {
    this.options = options;
    this.local.init(options);
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    return this.either((s) => s.increment(key), () => this.local.increment(key));
  }

  async decrement(key: string): Promise<void> {
    await this.either((s) => s.decrement(key), () => this.local.decrement(key));
  }

  async resetKey(key: string): Promise<void> {
    await Promise.all([this.local.resetKey(key), this.either((s) => s.resetKey(key), async () => undefined)]);
  }

  shutdown(): void {
    this.local.shutdown();
  }

  private async either<T>(remote: (s: RedisStore) => Promise<T>, local: () => Promise<T>): Promise<T> {
    // Not connected: answer from this process at once rather than wait for a reconnect.
    if (this.redis.status !== 'ready') return this.fallBack(local);
    try {
      const result = await remote(await this.ready());
      if (this.fallingBack) {
        this.fallingBack = false;
        this.logger?.info('rate limits counted in Redis again');
      }
      return result;
    } catch (err) {
      // Its script promises may hold the failure: build it afresh next time.
      this.primary = undefined;
      return this.fallBack(local, err);
    }
  }

  private async ready(): Promise<RedisStore> {
    if (this.primary) return this.primary;
    const redis = this.redis;
    const store = new RedisStore({
      prefix: this.redisPrefix,
      sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
    });
    await store.init(this.options!);
    this.primary = store;
    return store;
  }

  private fallBack<T>(local: () => Promise<T>, err?: unknown): Promise<T> {
    if (!this.fallingBack) {
      this.fallingBack = true;
      this.logger?.warn({ err: err && { message: (err as Error).message } }, 'Redis unavailable: rate limits counted in this process until it returns');
    }
    return local();
  }
}

/** Counters live in Redis when there is one, so that every gateway replica shares them. */
function storeFor(cache: Cache, logger?: Logger): Store | undefined {
  if (!(cache instanceof RedisCache)) return undefined;
  // Keys come out as t:{tenantId}:ratelimit:... (see keyGenerator).
  return new FallbackRateLimitStore(cache.redis, 't:', logger);
}

/**
 * Per tenant, at the tenant's requests-per-minute, and per API key where the key has a limit of
 * its own. Standard `RateLimit`/`RateLimit-Policy` headers; `Retry-After` on 429.
 */
export function createRateLimits(cache: Cache, logger?: Logger) {
  const common = {
    windowMs: WINDOW_MS,
    standardHeaders: 'draft-7' as const,
    legacyHeaders: false,
    // Counted by tenant, not by IP: the IP validations do not apply.
    validate: { trustProxy: false, xForwardedForHeader: false, ip: false, keyGeneratorIpFallback: false },
    handler: (_req: unknown, _res: unknown, next: (err: unknown) => void) => next(appError('RATE_LIMITED')),
  };
  const perTenant = rateLimit({
    ...common,
    store: storeFor(cache, logger),
    limit: (req) => req.tenant!.rateLimit,
    keyGenerator: (req) => `{${req.tenant!.tenantId}}:ratelimit`,
  });
  const perKey = rateLimit({
    ...common,
    store: storeFor(cache, logger),
    skip: (req) => !req.tenant?.keyRateLimit,
    limit: (req) => req.tenant!.keyRateLimit!,
    keyGenerator: (req) => `{${req.tenant!.tenantId}}:ratelimit:key:${req.tenant!.keyId}`,
  });
  return [perTenant, perKey];
}
