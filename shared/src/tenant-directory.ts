import { platformKey, tenantKey, type Cache } from './cache';
import type { CacheCounts } from './metrics';
import type { QueryResultRow } from 'pg';
import { statement, type Database } from './db';
import { appError, type AppError } from './errors';
import { API_KEY_SCOPES } from './api-key-scopes';

/**
 * Who a request belongs to, cached. Readers (the gateway) fill the cache from PostgreSQL with
 * set-if-absent; the writer (tenant-service) overwrites entries with the new truth right after
 * committing a change. Because a reader never overwrites, a reader that loaded a row just before
 * a change cannot put the old state back: a revoked key or a suspended tenant is refused on the
 * very next request on every node sharing the cache, without waiting for a TTL.
 */

export interface ApiKeyEntry {
  tenantId: string;
  keyId: string;
  active: boolean;
  /** The key's own requests-per-minute limit, if it has one. */
  rateLimit: number | null;
  /**
   * What the key may do (shared/src/api-key-scopes.ts). Absent from entries cached before keys had
   * scopes: those keys could do everything, and migration 1732060800100 gave them every scope.
   */
  scopes?: string[];
  /** When the key stops working (ISO 8601), or null: never. */
  expiresAt?: string | null;
  /** The browser origins the key may be used from; null or absent: none. */
  allowedOrigins?: string[] | null;
}

/** A key's scopes, for entries cached before keys had them (see ApiKeyEntry.scopes). */
export const keyScopes = (entry: ApiKeyEntry): readonly string[] => entry.scopes ?? API_KEY_SCOPES;

/** The columns of tenant_api_keys the directory reads (tenant-service's rows have them too). */
export interface DirectoryKeyRow {
  id: string;
  tenant_id: string;
  is_active: boolean;
  rate_limit: number | null;
  scopes: string[];
  expires_at: Date | null;
  allowed_origins: string[] | null;
}

/** The directory's entry for a key's row (tenant-service announces its changes with it too). */
export const keyEntryOf = (r: DirectoryKeyRow): ApiKeyEntry => ({
  tenantId: r.tenant_id,
  keyId: r.id,
  active: r.is_active,
  rateLimit: r.rate_limit,
  scopes: r.scopes,
  expiresAt: r.expires_at?.toISOString() ?? null,
  allowedOrigins: r.allowed_origins,
});

const toKeyEntry = (r: DirectoryKeyRow | undefined): ApiKeyEntry | undefined => r && keyEntryOf(r);

export interface TenantEntry {
  tenantId: string;
  /** `pending`: created by automatic provisioning, not yet activated by an admin (423 TENANT_PENDING). */
  status: 'active' | 'suspended' | 'pending';
  rateLimit: number;
  subdomain: string | null;
  /**
   * Why the tenant is suspended (1–500 characters, bounded by the column's CHECK, so entries stay
   * small), null while active. Absent from entries cached before reasons existed.
   */
  suspendedReason?: string | null;
}

/**
 * The 423 TENANT_SUSPENDED every service answers for a suspended tenant: "This tenant is
 * suspended: <reason>", the reason the admin gave (PATCH /tenants/:id), which holds nothing secret
 * by contract; without a reason, the table's message.
 */
export function tenantSuspended(reason?: string | null): AppError {
  return appError('TENANT_SUSPENDED', reason ? `This tenant is suspended: ${reason}` : undefined);
}

/** What the cache holds: an entry, or a remembered "there is none". */
type Cached<T> = { v: T } | { none: true };

const keys = {
  apiKey: (keyHash: string) => platformKey('apikey', keyHash),
  apiKeyById: (tenantId: string, keyId: string) => tenantKey(tenantId, 'apikey', keyId),
  tenant: (tenantId: string) => tenantKey(tenantId, 'tenant'),
  subdomain: (subdomain: string) => platformKey('subdomain', subdomain),
};

// By names from outside, across tenants: SECURITY DEFINER functions (migration 1732060800020).
const KEY_ENTRY_COLUMNS = 'id, tenant_id, is_active, rate_limit, scopes, expires_at, allowed_origins';
const API_KEY_BY_HASH = statement('directory-api-key', `SELECT ${KEY_ENTRY_COLUMNS} FROM api_key_by_hash($1)`);
const API_KEY_BY_ID = statement('directory-api-key-id', `SELECT ${KEY_ENTRY_COLUMNS} FROM tenant_api_keys WHERE id = $1 AND tenant_id = $2`);
// A tenant being deleted (its rows purged in the background) is no tenant at all to readers.
const TENANT_BY_ID = statement('directory-tenant', "SELECT status, rate_limit, subdomain, suspended_reason FROM tenants WHERE tenant_id = $1 AND status <> 'deleting'");
const TENANT_BY_SUBDOMAIN = statement('directory-subdomain', 'SELECT tenant_by_subdomain($1) AS tenant_id');

export interface DirectoryOptions {
  /** How long a found entry is kept. */
  ttlSeconds?: number;
  /** How long a miss (unknown key, tenant or subdomain) is remembered. */
  negativeTtlSeconds?: number;
  /**
   * Bounds the database lookups of names anyone can make up (API key hashes, subdomains) that
   * miss the cache: at most `concurrency` at once, `queue` more waiting; beyond that a lookup is
   * refused with 503 AUTH_LOOKUPS_BUSY at once. A flood of random keys then holds at most
   * `concurrency` connections of the pool, and the rest stay free for what only known callers
   * can cause (tenants by id, keys by id from a signed token). Unset: unbounded.
   */
  strangerLookups?: { concurrency: number; queue: number };
}

/** A counting semaphore with a bounded queue: `run` waits for a slot, or throws when the queue is full. */
class LookupGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limits: { concurrency: number; queue: number }) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.queue) throw appError('AUTH_LOOKUPS_BUSY', undefined, { 'Retry-After': '1' });
      // The slot is handed over by the finishing lookup (`active` stays counted for us).
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** A cache read that failed, told apart from a miss. */
const CACHE_DOWN = Symbol('cache down');

export class TenantDirectory {
  private readonly ttl: number;
  private readonly negativeTtl: number;
  private readonly strangerGate?: LookupGate;
  /** Lookups answered from the cache, and those that went to PostgreSQL (reported as `bridge_cache_lookups_total{cache="tenant-directory"}`). */
  readonly cacheCounts: CacheCounts = { hits: 0, misses: 0 };

  constructor(
    private readonly db: Database,
    private readonly cache: Cache,
    options: DirectoryOptions = {},
  ) {
    this.ttl = options.ttlSeconds ?? 60;
    this.negativeTtl = options.negativeTtlSeconds ?? 10;
    if (options.strangerLookups) this.strangerGate = new LookupGate(options.strangerLookups);
  }

  /** A platform-wide lookup by a name from outside (one of the platform functions), under the gate when there is one. */
  private strangerLookup<R extends QueryResultRow>(query: { name: string; text: string }, value: string): Promise<R | undefined> {
    const lookup = async () => (await this.db.unscoped<R>(query, [value]))[0];
    return this.strangerGate ? this.strangerGate.run(lookup) : lookup();
  }

  /**
   * The cached answer, or `load()`'s (PostgreSQL's), kept for the next reader. The cache is only a
   * shortcut: when it fails (Redis away or slow), the answer comes from PostgreSQL and is not kept,
   * so a request never fails because of the cache.
   */
  private async cached<T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const hit = await this.cache.get(key).catch((): typeof CACHE_DOWN => CACHE_DOWN);
    if (hit === CACHE_DOWN || !hit) this.cacheCounts.misses++;
    else this.cacheCounts.hits++;
    if (hit === CACHE_DOWN) return load();
    if (hit) {
      const parsed = JSON.parse(hit) as Cached<T>;
      return 'v' in parsed ? parsed.v : undefined;
    }
    const value = await load();
    const entry: Cached<T> = value === undefined ? { none: true } : { v: value };
    await this.cache.set(key, JSON.stringify(entry), value === undefined ? this.negativeTtl : this.ttl, { ifAbsent: true }).catch(() => false);
    return value;
  }

  /** The API key with this hash (see hashApiKey), whichever tenant's. */
  apiKey(keyHash: string): Promise<ApiKeyEntry | undefined> {
    return this.cached(keys.apiKey(keyHash), () =>
      this.strangerLookup<DirectoryKeyRow>(API_KEY_BY_HASH, keyHash).then(toKeyEntry),
    );
  }

  /** The tenant's API key with this id (a UUID), e.g. the one a token was issued with. */
  apiKeyById(tenantId: string, keyId: string): Promise<ApiKeyEntry | undefined> {
    return this.cached(keys.apiKeyById(tenantId, keyId), () =>
      this.db.withTenant(tenantId, async (q) => toKeyEntry((await q.query<DirectoryKeyRow>({ ...API_KEY_BY_ID, values: [keyId, tenantId] })).rows[0])),
    );
  }

  tenant(tenantId: string): Promise<TenantEntry | undefined> {
    return this.cached(keys.tenant(tenantId), () =>
      this.db.withTenant(tenantId, async (q) => {
        const { rows } = await q.query<{ status: TenantEntry['status']; rate_limit: number; subdomain: string | null; suspended_reason: string | null }>({
          ...TENANT_BY_ID,
          values: [tenantId],
        });
        const r = rows[0];
        return r && { tenantId, status: r.status, rateLimit: r.rate_limit, subdomain: r.subdomain, suspendedReason: r.suspended_reason };
      }),
    );
  }

  /** The tenant a subdomain names, checked against the tenant's current entry (subdomains move). */
  async subdomain(subdomain: string): Promise<TenantEntry | undefined> {
    const tenantId = await this.cached(keys.subdomain(subdomain), () =>
      this.strangerLookup<{ tenant_id: string | null }>(TENANT_BY_SUBDOMAIN, subdomain).then((r) => r?.tenant_id ?? undefined),
    );
    if (!tenantId) return undefined;
    const tenant = await this.tenant(tenantId);
    if (tenant?.subdomain === subdomain) return tenant;
    // The subdomain moved or went away since it was cached: forget it and ask once more.
    await this.cache.del(keys.subdomain(subdomain)).catch(() => undefined);
    const fresh = (await this.strangerLookup<{ tenant_id: string | null }>(TENANT_BY_SUBDOMAIN, subdomain))?.tenant_id;
    return fresh ? this.tenant(fresh) : undefined;
  }

  // ---- the writer's side (tenant-service, after commit) ----

  /** Records a tenant's new state (or its deletion) for every reader at once. */
  async tenantChanged(tenantId: string, entry: TenantEntry | undefined, previousSubdomain?: string | null): Promise<void> {
    const value: Cached<TenantEntry> = entry ? { v: entry } : { none: true };
    await this.cache.set(keys.tenant(tenantId), JSON.stringify(value), entry ? this.ttl : this.negativeTtl);
    if (previousSubdomain && previousSubdomain !== entry?.subdomain) await this.cache.del(keys.subdomain(previousSubdomain));
    if (entry?.subdomain) await this.cache.set(keys.subdomain(entry.subdomain), JSON.stringify({ v: tenantId }), this.ttl);
  }

  /**
   * Records an API key's new state (created, revoked, or gone with its tenant), under its hash and
   * under its id, so that the key and every token issued with it see the change at once.
   */
  async apiKeyChanged(key: { keyHash: string; tenantId: string; keyId: string }, entry: ApiKeyEntry | undefined): Promise<void> {
    const value = JSON.stringify(entry ? { v: entry } : { none: true });
    await Promise.all([this.cache.set(keys.apiKey(key.keyHash), value, this.ttl), this.cache.set(keys.apiKeyById(key.tenantId, key.keyId), value, this.ttl)]);
  }
}
