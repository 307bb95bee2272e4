import { LRUCache } from 'lru-cache';

export interface LookupCacheOptions<V> {
  /** How long a found value is kept, in ms. */
  ttlMs: number;
  /** How long a miss ("there is none") is remembered, in ms. */
  negativeTtlMs: number;
  /** Found values kept at most; default 10,000. */
  max?: number;
  /** Estimated bytes of found values (keys included) kept at most; default 16 MiB. */
  maxBytes?: number;
  /** Misses remembered at most; default 2,000. */
  negativeMax?: number;
  /** Estimated bytes of remembered misses (their keys) at most; default 1 MiB. */
  negativeMaxBytes?: number;
  /** Estimated bytes a value holds; default: twice the length of its JSON (strings are UTF-16). */
  sizeOf?: (value: V) => number;
  /** The clock, in ms; default Date.now. */
  now?: () => number;
}

/** How often expired entries are dropped even if nobody asks for them. */
const SWEEP_MS = 60_000;

const keyBytes = (key: string) => 2 * key.length + 64;
const jsonBytes = (value: unknown) => 2 * (JSON.stringify(value)?.length ?? 0);

/**
 * An in-process cache of lookups (tenant id → credentials, phone number id → tenant, ...):
 * bounded in entries and in bytes, least recently used evicted first, expired entries dropped
 * (when read, and by a sweep every minute). Misses are remembered apart from found values, in a
 * smaller cache of their own, so that a flood of unknown keys evicts only other misses, never
 * the entries of known tenants. An entry larger than the byte bound is not kept at all.
 * Built on lru-cache (isaacs/node-lru-cache).
 */
export class LookupCache<V extends NonNullable<unknown>> {
  private readonly found: LRUCache<string, V>;
  private readonly missing: LRUCache<string, true>;

  constructor(options: LookupCacheOptions<V>) {
    const now = options.now ?? Date.now;
    // ttlResolution 0: every check reads the clock, so a fake clock in tests is obeyed at once.
    const perf = { now: () => now() };
    const sizeOf = options.sizeOf ?? jsonBytes;
    this.found = new LRUCache<string, V>({
      max: options.max ?? 10_000,
      maxSize: options.maxBytes ?? 16 * 1024 * 1024,
      sizeCalculation: (value, key) => Math.max(1, keyBytes(key) + sizeOf(value)),
      ttl: Math.max(1, options.ttlMs),
      ttlResolution: 0,
      perf,
    });
    this.missing = new LRUCache<string, true>({
      max: options.negativeMax ?? 2_000,
      maxSize: options.negativeMaxBytes ?? 1024 * 1024,
      sizeCalculation: (_value, key) => keyBytes(key),
      ttl: Math.max(1, options.negativeTtlMs),
      ttlResolution: 0,
      perf,
    });
    // The timer holds the cache only weakly: a cache nobody uses any more is not kept alive by it.
    const self = new WeakRef(this);
    const sweeper: NodeJS.Timeout = setInterval(() => {
      const cache = self.deref();
      if (cache) cache.purgeStale();
      else clearInterval(sweeper);
    }, SWEEP_MS);
    sweeper.unref();
  }

  /** `{ value }` when cached (value undefined: a remembered miss), undefined when not cached or expired. */
  get(key: string): { value: V | undefined } | undefined {
    const value = this.found.get(key);
    if (value !== undefined) return { value };
    return this.missing.get(key) ? { value: undefined } : undefined;
  }

  /** Keeps a found value, or (undefined) remembers that there is none. */
  set(key: string, value: V | undefined): void {
    if (value === undefined) {
      this.found.delete(key);
      this.missing.set(key, true);
    } else {
      this.missing.delete(key);
      this.found.set(key, value);
    }
  }

  delete(key: string): void {
    this.found.delete(key);
    this.missing.delete(key);
  }

  clear(): void {
    this.found.clear();
    this.missing.clear();
  }

  /** Drops every expired entry now. */
  purgeStale(): void {
    this.found.purgeStale();
    this.missing.purgeStale();
  }

  /** What it holds: entries and estimated bytes, found and missing apart. */
  get stats(): { found: number; foundBytes: number; missing: number; missingBytes: number } {
    return { found: this.found.size, foundBytes: this.found.calculatedSize, missing: this.missing.size, missingBytes: this.missing.calculatedSize };
  }
}
