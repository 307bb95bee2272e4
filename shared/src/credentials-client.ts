import type { Cache } from './cache';
import type { CredentialType, GenesysCredentials, MetaCredentials } from './credentials';
import { appError, type AppError } from './errors';
import { INTERNAL_TOKEN_HEADER } from './http';
import { createHttpClient, type HttpClient } from './http-client';
import { isTenantId } from './ids';
import type { Logger } from './logger';
import { LookupCache } from './lookup-cache';
import type { CacheCounts } from './metrics';
import { SingleFlight } from './single-flight';
import { onTenantEvent } from './tenant-events';

export interface CredentialsClientOptions {
  /** tenant-service base URL (TENANT_SERVICE_URL). */
  tenantServiceUrl: string;
  /** INTERNAL_SERVICE_TOKEN, sent as `X-Internal-Token`. */
  internalToken: string;
  /** Carries the tenant events that invalidate entries. Secrets are never written to it. */
  cache: Cache;
  /** How long fetched credentials are kept in process memory; default 300 (change events drop them sooner). */
  ttlSeconds?: number;
  /** How long "this tenant has none" is remembered; default 5. */
  negativeTtlSeconds?: number;
  /** Credentials (tenant and type) kept at most; default 10,000. Least recently used go first. */
  maxEntries?: number;
  /** "Has none" answers remembered at most, apart from the credentials; default 2,000. */
  maxNegativeEntries?: number;
  /** Per request to tenant-service; default 3000. */
  timeoutMs?: number;
  logger?: Logger;
}

type Value = MetaCredentials | GenesysCredentials;

type Credentials<T extends CredentialType> = T extends 'meta' ? MetaCredentials : GenesysCredentials;

/**
 * Decrypted tenant credentials, fetched from tenant-service's internal route and kept only in
 * this process's memory (a secret never goes to Redis), per tenant and type, for a short TTL.
 * Concurrent misses share one request. A tenant event (`credentials-changed`, `tenant-updated`,
 * `tenant-deleted`) from any node drops the tenant's entries at once, so a rotated secret is
 * used from the next call on; the TTL only bounds staleness if a broadcast is lost. The memory is
 * bounded (LookupCache): so many entries and bytes, least recently used evicted, "has none"
 * answers apart and fewer; a tenant id not of the tenant-id shape is answered "none" without
 * asking anyone or remembering it.
 */
export class CredentialsClient {
  private readonly entries: LookupCache<Value>;
  private readonly flights = new SingleFlight<string, Value | undefined>();
  private readonly http: HttpClient;
  private unsubscribe?: () => Promise<void>;
  /** Lookups answered from the in-process copy, and those that asked tenant-service (`bridge_cache_lookups_total{cache="credentials"}`). */
  readonly cacheCounts: CacheCounts = { hits: 0, misses: 0 };

  constructor(private readonly opts: CredentialsClientOptions) {
    this.entries = new LookupCache<Value>({
      ttlMs: (opts.ttlSeconds ?? 300) * 1000,
      negativeTtlMs: (opts.negativeTtlSeconds ?? 5) * 1000,
      max: opts.maxEntries,
      negativeMax: opts.maxNegativeEntries,
    });
    this.http = createHttpClient({
      baseURL: opts.tenantServiceUrl.replace(/\/+$/, ''),
      timeoutMs: opts.timeoutMs ?? 3000,
      maxSockets: 64,
      maxRedirects: 0,
      headers: { [INTERNAL_TOKEN_HEADER]: opts.internalToken, Accept: 'application/json' },
    });
  }

  meta(tenantId: string): Promise<MetaCredentials | undefined> {
    return this.get(tenantId, 'meta');
  }

  genesys(tenantId: string): Promise<GenesysCredentials | undefined> {
    return this.get(tenantId, 'genesys');
  }

  /** Subscribes to tenant events; call once before serving. */
  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.unsubscribe = await onTenantEvent(
      this.opts.cache,
      (event) => {
        if (event.kind === 'credentials-changed' || event.kind === 'tenant-deleted' || event.kind === 'tenant-updated') {
          this.invalidate(event.tenantId);
        }
      },
      () => this.invalidateAll(),
    );
  }

  /** Drops every tenant's entries (events may have been missed while Redis was away). */
  invalidateAll(): void {
    this.entries.clear();
    this.flights.clear();
  }

  /** Unsubscribes and releases connections; the cache belongs to the caller and stays open. */
  async close(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.().catch(() => undefined);
    this.entries.clear();
    this.flights.clear();
    this.http.close();
  }

  /** Drops everything remembered about the tenant, including requests already under way. */
  invalidate(tenantId: string): void {
    for (const type of ['meta', 'genesys'] as const) {
      const key = entryKey(tenantId, type);
      this.entries.delete(key);
      // Callers already waiting keep their answer; it is not stored, and new callers fetch anew.
      this.flights.forget(key);
    }
  }

  private async get<T extends CredentialType>(tenantId: string, type: T): Promise<Credentials<T> | undefined> {
    if (!isTenantId(tenantId)) return undefined;
    const key = entryKey(tenantId, type);
    const cached = this.entries.get(key);
    if (cached) {
      this.cacheCounts.hits++;
      return cached.value as Credentials<T> | undefined;
    }
    this.cacheCounts.misses++;
    const value = await this.flights.run(key, async (isCurrent) => {
      const fetched = await this.fetch(tenantId, type);
      // Stored only if nobody invalidated the tenant while the request was under way.
      if (isCurrent()) this.entries.set(key, fetched);
      return fetched;
    });
    return value as Credentials<T> | undefined;
  }

  private async fetch(tenantId: string, type: CredentialType): Promise<Value | undefined> {
    const path = `/internal/tenants/${encodeURIComponent(tenantId)}/credentials/${type}`;
    let status: number;
    let body: unknown;
    try {
      const res = await this.http.get(path);
      status = res.status;
      body = res.data;
    } catch (err) {
      // Only the message and code: the request config on axios errors carries the internal token.
      const e = err as { code?: string; message?: string };
      this.opts.logger?.error({ tenantId, type, code: e.code, reason: e.message }, 'tenant-service unreachable for credentials');
      throw unavailable();
    }
    if (status === 200 && isCredentialsBody(body, type)) return body.credentials as MetaCredentials | GenesysCredentials;
    const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
    // A 404 for the tenant or its credentials means "none"; a 404 for the route means a misconfigured URL.
    if (status === 404 && code !== 'ROUTE_NOT_FOUND') return undefined;
    this.opts.logger?.error({ tenantId, type, status, code: typeof code === 'string' ? code : undefined }, 'tenant-service refused a credentials request');
    throw unavailable();
  }
}

function entryKey(tenantId: string, type: CredentialType): string {
  return `${type}\u0000${tenantId}`;
}

function unavailable(): AppError {
  return appError('CREDENTIALS_UNAVAILABLE');
}

function isCredentialsBody(body: unknown, type: CredentialType): body is { type: CredentialType; credentials: object } {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as { type?: unknown; credentials?: unknown };
  return b.type === type && typeof b.credentials === 'object' && b.credentials !== null;
}
