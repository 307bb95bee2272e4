import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';

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

interface Entry {
  value: string;
  expiresAt: number;
}

/** The single-node implementation: a Map with expiry, and an EventEmitter for broadcasts. */
export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly emitter = new EventEmitter();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly options: { shared?: boolean } = {},
  ) {
    this.emitter.setMaxListeners(0);
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep() {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  async get(key: string) {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlSeconds: number, options?: { ifAbsent?: boolean }) {
    if (options?.ifAbsent && this.live(key)) return false;
    this.entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
    return true;
  }

  async del(...keys: string[]) {
    for (const key of keys) this.entries.delete(key);
  }

  async incr(key: string, ttlSeconds: number) {
    const entry = this.live(key);
    const next = (entry ? Number(entry.value) : 0) + 1;
    this.entries.set(key, { value: String(next), expiresAt: entry?.expiresAt ?? this.now() + ttlSeconds * 1000 });
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
