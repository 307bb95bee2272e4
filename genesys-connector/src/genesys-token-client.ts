import { LRUCache } from 'lru-cache';
import { INTERNAL_TOKEN_HEADER, appError, isErrorCode, SingleFlight, createHttpClient, type HttpClient, type CacheCounts } from '@bridge/shared';

export interface GenesysTokenClientOptions {
  /** AUTH_SERVICE_INTERNAL_URL: auth-service's internal listener. */
  authServiceUrl: string;
  /** genesys-connector's own internal token (GENESYS_CONNECTOR_INTERNAL_TOKEN). */
  internalToken: string;
  /** Per call to auth-service; default 5000 (auth-service may itself be waiting on Genesys). */
  timeoutMs?: number;
  /**
   * Longest a token is reused locally without asking auth-service; default 30000. Kept short
   * because this process hears of no credential change: after one, the old token is used for at
   * most this long.
   */
  maxLocalAgeMs?: number;
  /** Tenants whose token is kept locally at most; default 10,000 (least recently used evicted). */
  maxTenants?: number;
}

interface Local {
  accessToken: string;
  /** Epoch ms after which auth-service is asked again. */
  useUntil: number;
}

/** Stop reusing a token this long before it expires (capped at half its remaining life). */
const EXPIRY_MARGIN_MS = 60_000;

/**
 * genesys-connector's side of the token broker: asks auth-service (`POST /internal/genesys/token`)
 * and keeps a small in-process copy per tenant, so that a burst of messages costs one hop.
 * Concurrent callers share one request. After a 401 from Genesys, pass the rejected token: the
 * local copy goes and auth-service replaces the token once for all its callers.
 */
export class GenesysTokenClient {
  /** Bounded: at most `maxTenants` copies, least recently used evicted, each dropped once past `useUntil`. */
  private readonly local: LRUCache<string, Local>;
  /** Tagged with the rejected token a flight was started to replace, if any. */
  private readonly flights = new SingleFlight<string, string, string>();
  private readonly http: HttpClient;
  private readonly maxLocalAgeMs: number;
  /** Tokens answered from the local copy, and those asked of auth-service (`bridge_cache_lookups_total{cache="genesys-token"}`). */
  readonly cacheCounts: CacheCounts = { hits: 0, misses: 0 };

  constructor(opts: GenesysTokenClientOptions) {
    this.maxLocalAgeMs = opts.maxLocalAgeMs ?? 30_000;
    this.local = new LRUCache<string, Local>({ max: opts.maxTenants ?? 10_000 });
    this.http = createHttpClient({
      baseURL: opts.authServiceUrl.replace(/\/+$/, ''),
      timeoutMs: opts.timeoutMs ?? 5000,
      maxSockets: 32,
      maxRedirects: 0,
      headers: { [INTERNAL_TOKEN_HEADER]: opts.internalToken, 'Content-Type': 'application/json' },
    });
  }

  /** A Genesys access token for the tenant; `rejectedToken` is one Genesys just answered 401 to. */
  async token(tenantId: string, rejectedToken?: string): Promise<string> {
    if (rejectedToken !== undefined) {
      if (this.local.get(tenantId)?.accessToken === rejectedToken) this.local.delete(tenantId);
    } else {
      const copy = this.local.get(tenantId);
      if (copy && copy.useUntil > Date.now()) {
        this.cacheCounts.hits++;
        return copy.accessToken;
      }
    }
    this.cacheCounts.misses++;
    const flight = this.flights.get(tenantId);
    // A plain request in flight may bring back the rejected token; only share one that knows of it.
    if (flight && (rejectedToken === undefined || flight.tag === rejectedToken)) return flight.promise;
    const started = this.flights.start(
      tenantId,
      async (isCurrent) => {
        const answer = await this.request(tenantId, rejectedToken);
        // A flight overtaken by a rejection report must not put back the token it brought.
        if (isCurrent() && answer.useUntil !== undefined) {
          this.local.set(tenantId, { accessToken: answer.accessToken, useUntil: answer.useUntil }, { ttl: Math.max(1, answer.useUntil - Date.now()) });
        }
        return answer.accessToken;
      },
      rejectedToken,
    );
    return started.promise;
  }

  /** Forgets every local copy. */
  clear(): void {
    this.local.clear();
  }

  /** Releases kept-alive connections. */
  close(): void {
    this.local.clear();
    this.http.close();
  }

  private async request(tenantId: string, rejectedToken?: string): Promise<{ accessToken: string; useUntil?: number }> {
    let status: number;
    let body: unknown;
    try {
      const res = await this.http.post('/internal/genesys/token', rejectedToken === undefined ? { tenantId } : { tenantId, rejectedToken });
      status = res.status;
      body = res.data;
    } catch {
      throw appError('AUTH_SERVICE_UNAVAILABLE');
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (status === 200 && typeof b.accessToken === 'string' && typeof b.expiresAt === 'string') {
      const now = Date.now();
      const expiresAt = Date.parse(b.expiresAt);
      if (!Number.isFinite(expiresAt)) return { accessToken: b.accessToken };
      const margin = Math.min(EXPIRY_MARGIN_MS, (expiresAt - now) / 2);
      return { accessToken: b.accessToken, useUntil: Math.min(expiresAt - margin, now + this.maxLocalAgeMs) };
    }
    // auth-service's own error (GENESYS_AUTH_FAILED, GENESYS_NOT_CONFIGURED, ...) passes through.
    const error = b.error as { code?: unknown; message?: unknown } | undefined;
    if (status >= 400 && isErrorCode(error?.code)) {
      const message = typeof error.message === 'string' ? error.message : 'Genesys token unavailable';
      // Our own misconfiguration (a bad internal token) is our failure, not the caller's.
      if (status === 401) throw appError('AUTH_SERVICE_UNAVAILABLE', 'auth-service refused the internal token');
      // Same table, so the same status as auth-service answered.
      throw appError(error.code, message);
    }
    throw appError('AUTH_SERVICE_UNAVAILABLE', `auth-service answered ${status}`);
  }
}
