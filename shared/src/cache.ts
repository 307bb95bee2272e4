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
  /**
   * Calls `handler` for every message published on `channel` from now on; returns an unsubscribe
   * function. Never waits for Redis: while it is away the subscription is made when it comes back.
   * `onGap` is called whenever messages on the channel may have been missed (the subscription was
   * (re)established after a time without one): a holder of copies drops them then.
   */
  subscribe(channel: string, handler: (message: string) => void, onGap?: () => void): Promise<() => Promise<void>>;
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

/** The longest a Redis command may take before it fails (and its caller falls back), in ms. */
export const REDIS_COMMAND_TIMEOUT_MS = 1000;

/** How long `subscribe` waits for a subscriber that is not connected, in ms. */
const SUBSCRIBE_WAIT_MS = 1000;

/**
 * Redis, shared by every process pointed at it. Redis is a cache and a counter store, never a
 * condition for serving: a command fails at once while the connection is down (no offline
 * queue) and after REDIS_COMMAND_TIMEOUT_MS when Redis does not answer (a cut connection), and
 * every caller has a fallback (PostgreSQL, or a counter in this process). The subscriber
 * reconnects on its own and re-subscribes; each time it does, `onGap` handlers run, since what
 * was published meanwhile is lost.
 */
export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  private subscriber?: Redis;
  private readonly emitter = new EventEmitter();
  private readonly gapHandlers = new Map<string, Set<() => void>>();
  /** Emits 'subscribed' whenever the subscriber has (re)subscribed its channels. */
  private readonly subscriptions = new EventEmitter();

  constructor(readonly redis: Redis) {
    this.emitter.setMaxListeners(0);
    this.subscriptions.setMaxListeners(0);
    // A down Redis is reported through failed commands and readiness, not as unhandled errors.
    redis.on('error', () => undefined);
  }

  static fromUrl(url: string): RedisCache {
    // Commands fail fast while Redis is away instead of queueing (callers fall back): only those
    // sent before the first connection wait for it (commandTimeout bounds them too). Commands
    // issued in the same tick (concurrent requests) go out in one write.
    const redis = new Redis(url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: true,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      lazyConnect: false,
      enableAutoPipelining: true,
      // Reconnect every half second at most, so a returning Redis is used again within about that.
      retryStrategy: (times) => Math.min(times * 50, 500),
    });
    redis.once('ready', () => {
      redis.options.enableOfflineQueue = false;
    });
    return new RedisCache(redis);
  }

  /** Resolves true once connected, or false after `timeoutMs` (start-up goes on without Redis). */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.redis.on('ready', onReady);
    });
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

  async subscribe(channel: string, handler: (message: string) => void, onGap?: () => void) {
    const subscriber = this.ensureSubscriber();
    const first = this.emitter.listenerCount(channel) === 0;
    this.emitter.on(channel, handler);
    if (onGap) {
      const set = this.gapHandlers.get(channel) ?? new Set();
      set.add(onGap);
      this.gapHandlers.set(channel, set);
    }
    if (first && subscriber.status === 'ready') {
      await subscriber.subscribe(channel).catch(() => undefined);
    } else if (subscriber.status !== 'ready') {
      // Not connected yet (or away): the 'ready' handler subscribes every channel when it
      // connects. Wait for that a little (a service starting next to a running Redis hears
      // everything from its first request), but never for an absent Redis.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, SUBSCRIBE_WAIT_MS);
        timer.unref();
        this.subscriptions.once('subscribed', done);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    return async () => {
      this.emitter.off(channel, handler);
      if (onGap) this.gapHandlers.get(channel)?.delete(onGap);
      if (this.emitter.listenerCount(channel) === 0 && this.subscriber?.status === 'ready') {
        await this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  private ensureSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    // Our own re-subscription (below) rather than ioredis's, so that we know when a gap ended.
    const subscriber = this.redis.duplicate({ autoResubscribe: false, enableOfflineQueue: true, commandTimeout: undefined });
    subscriber.on('message', (ch: string, msg: string) => this.emitter.emit(ch, msg));
    subscriber.on('error', () => undefined);
    subscriber.on('ready', () => {
      const channels = this.emitter.eventNames().filter((c): c is string => typeof c === 'string' && this.emitter.listenerCount(c) > 0);
      if (!channels.length) return;
      subscriber.subscribe(...channels).then(
        () => {
          // Whatever was published while there was no subscription is lost: copies may be stale.
          for (const c of channels) for (const gap of this.gapHandlers.get(c) ?? []) gap();
          this.subscriptions.emit('subscribed');
        },
        // The connection went again; the next 'ready' tries again.
        () => undefined,
      );
    });
    this.subscriber = subscriber;
    return subscriber;
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
