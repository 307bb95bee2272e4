import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/**
 * Short-lived shared state and broadcasts. Two implementations: Redis (shared by every process
 * pointed at it) and in-process (for a single node, used when REDIS_URL is unset). Callers never
 * know which one they have.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /** Stores `value` for `ttlSeconds`. With `ifAbsent`, only when the key is not set; returns whether it stored. */
  set(key: string, value: string, ttlSeconds: number, options?: { ifAbsent?: boolean }): Promise<boolean>;
  del(...keys: string[]): Promise<void>;
  /** Increments a counter, starting its TTL when the counter is created. */
  incr(key: string, ttlSeconds: number): Promise<number>;
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for every message published on `channel` from now on; returns an unsubscribe function. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** `t:{tenantId}:purpose:...` — braces keep a tenant's keys on one Redis Cluster slot. */
export function tenantKey(tenantId: string, ...parts: string[]): string {
  return [`t:{${tenantId}}`, ...parts].join(':');
}

/** Keys that exist before a tenant is known (e.g. API key hash → tenant). */
export function platformKey(...parts: string[]): string {
  return ['p', ...parts].join(':');
}

/** lru-cache's TTL: whole milliseconds, at least 1 (0 would mean "never expires"). */
const ttlMs = (seconds: number) => Math.max(1, Math.round(seconds * 1000));

export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  private subscriber?: Redis;
  private readonly emitter = new EventEmitter();

  constructor(readonly redis: Redis) {
    this.emitter.setMaxListeners(0);
  }

  static fromUrl(url: string): RedisCache {
    // Commands fail fast while Redis is away instead of queueing without bound; commands issued in
    // the same tick (concurrent requests) go out in one write.
    return new RedisCache(new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false, enableAutoPipelining: true }));
  }

  get(key: string) {
    return this.redis.get(key);
  }

  async set(key: string, value: string, ttlSeconds: number, options?: { ifAbsent?: boolean }) {
    const ms = Math.max(1, Math.round(ttlSeconds * 1000));
    const result = options?.ifAbsent
      ? await this.redis.set(key, value, 'PX', ms, 'NX')
      : await this.redis.set(key, value, 'PX', ms);
    return result === 'OK';
  }

  async del(...keys: string[]) {
    if (keys.length) await this.redis.del(...keys);
  }

  async incr(key: string, ttlSeconds: number) {
    const ms = Math.max(1, Math.round(ttlSeconds * 1000));
    const [[, count]] = (await this.redis.multi().incr(key).pexpire(key, ms, 'NX').exec()) as [[null, number], unknown];
    return count;
  }

  async publish(channel: string, message: string) {
    await this.redis.publish(channel, message);
  }

  async subscribe(channel: string, handler: (message: string) => void) {
    if (!this.subscriber) {
      this.subscriber = this.redis.duplicate();
      this.subscriber.on('message', (ch: string, msg: string) => this.emitter.emit(ch, msg));
      this.subscriber.on('error', () => undefined);
    }
    if (this.emitter.listenerCount(channel) === 0) await this.subscriber.subscribe(channel);
    this.emitter.on(channel, handler);
    return async () => {
      this.emitter.off(channel, handler);
      if (this.emitter.listenerCount(channel) === 0) await this.subscriber?.unsubscribe(channel);
    };
  }

  async ping() {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close() {
    this.subscriber?.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export interface MemoryCacheOptions {
  /** The process-wide instance (createCache): close() leaves it open for the other services. */
  shared?: boolean;
  /** Keys kept at most; default 100,000. */
  maxEntries?: number;
  /** Estimated bytes (keys and values, as UTF-16) kept at most; default 64 MiB. */
  maxBytes?: number;
}

/**
 * The single-node implementation: an LRU map with expiry (lru-cache), and an EventEmitter for
 * broadcasts. Unlike Redis it lives in the service's heap, so it is bounded in keys and bytes:
 * when full, the least recently used keys go first (a reader then loads from PostgreSQL again;
 * a counter starts over), expired keys are dropped when read and by a sweep every minute, and
 * a value larger than the byte bound is not kept.
 */
export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  private readonly entries: LRUCache<string, string>;
  private readonly emitter = new EventEmitter();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    now: () => number = Date.now,
    private readonly options: MemoryCacheOptions = {},
  ) {
    this.entries = new LRUCache<string, string>({
      max: options.maxEntries ?? 100_000,
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (value, key) => 2 * (key.length + value.length) + 64,
      // Every set gives its own TTL; ttlResolution 0 reads the clock on every check.
      ttlResolution: 0,
      perf: { now: () => now() },
    });
    this.emitter.setMaxListeners(0);
    this.sweeper = setInterval(() => this.entries.purgeStale(), 60_000);
    this.sweeper.unref();
  }

  /** Keys held now, and their estimated bytes. */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.entries.calculatedSize };
  }

  async get(key: string) {
    return this.entries.get(key) ?? null;
  }

  async set(key: string, value: string, ttlSeconds: number, options?: { ifAbsent?: boolean }) {
    if (options?.ifAbsent && this.entries.has(key)) return false;
    this.entries.set(key, value, { ttl: ttlMs(ttlSeconds) });
    return true;
  }

  async del(...keys: string[]) {
    for (const key of keys) this.entries.delete(key);
  }

  async incr(key: string, ttlSeconds: number) {
    const current = this.entries.get(key);
    const next = (current === undefined ? 0 : Number(current)) + 1;
    // A counter keeps the expiry it was created with.
    const ttl = current === undefined ? ttlMs(ttlSeconds) : Math.max(1, this.entries.getRemainingTTL(key));
    this.entries.set(key, String(next), { ttl });
    return next;
  }

  async publish(channel: string, message: string) {
    this.emitter.emit(channel, message);
  }

  async subscribe(channel: string, handler: (message: string) => void) {
    this.emitter.on(channel, handler);
    return async () => {
      this.emitter.off(channel, handler);
    };
  }

  async ping() {
    return true;
  }

  async close() {
    // The process-wide instance outlives any one service that uses it.
    if (this.options.shared) return;
    clearInterval(this.sweeper);
    this.entries.clear();
    this.emitter.removeAllListeners();
  }
}

let processCache: MemoryCache | undefined;

/**
 * Redis when a URL is given, otherwise the process-wide in-process cache: services started in
 * one process (as `npm start` does without Redis) share it, so invalidations reach all of them.
 */
export function createCache(redisUrl?: string): Cache {
  if (redisUrl) return RedisCache.fromUrl(redisUrl);
  processCache ??= new MemoryCache(Date.now, { shared: true });
  return processCache;
}
