import { randomUUID } from 'node:crypto';
import {
  AppError,
  MemoryCache,
  SingleFlight,
  appError,
  createHttpClient,
  onTenantEvent,
  regionUrl,
  tenantKey,
  type Cache,
  type CacheCounts,
  type GenesysCredentials,
  type HttpClient,
  type Logger,
} from '@bridge/shared';

export interface GenesysCredentialsSource {
  genesys(tenantId: string): Promise<GenesysCredentials | undefined>;
}

export interface GenesysTokenBrokerOptions {
  /** Shared cache: with Redis, every auth-service replica shares one token per tenant. */
  cache: Cache;
  /** Usually a CredentialsClient. */
  credentials: GenesysCredentialsSource;
  /** GENESYS_LOGIN_URL, e.g. `https://login.{region}`. */
  loginUrlTemplate: string;
  /** Refresh this long before expiry; default 60, capped at half the token's lifetime. */
  refreshMarginSeconds?: number;
  /** Per token request; default 5000. */
  timeoutMs?: number;
  /** How long a refused client id/secret is remembered before Genesys is asked again; default 5. */
  authFailureTtlSeconds?: number;
  logger?: Logger;
}

export interface GenesysToken {
  accessToken: string;
  /** When Genesys says the token expires (ISO-8601). */
  expiresAt: string;
}

interface StoredToken {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** A remembered GENESYS_AUTH_FAILED. `code` and `status` are kept for replicas of earlier versions, which read them. */
interface StoredFailure {
  code: 'GENESYS_AUTH_FAILED';
  message: string;
  status: number;
}

const POLL_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Genesys Cloud OAuth (client credentials) tokens per tenant, shared by every replica through the
 * cache: `t:{tenantId}:genesys:token` holds the current token until `refreshMargin` before it
 * expires. Many concurrent callers cause one token request — in this process through one shared
 * promise, across replicas through a short lock in the cache whose losers wait for the winner's
 * token. A token that Genesys rejected is replaced once, however many callers report it. A client
 * id/secret that Genesys refuses is remembered for a few seconds so that a burst of messages does
 * not become a burst of failing logins. When the shared cache fails (Redis away or slow), the same
 * is done over a cache in this process: tokens are then per replica and fetched without the
 * cross-replica lock, rather than not at all.
 */
export class GenesysTokenBroker {
  /**
   * Per tenant, tagged with the token a flight was started to replace, if any. forget() lets go
   * of a tenant's flight: a request started before it must not store its (old-credentials) token.
   */
  private readonly flights = new SingleFlight<string, StoredToken, string>();
  private readonly http: HttpClient;
  private readonly marginSeconds: number;
  private readonly timeoutMs: number;
  private readonly failureTtlSeconds: number;
  private unsubscribe?: () => Promise<void>;
  /** Tokens answered from the cache, and those fetched from Genesys or awaited from another replica (`bridge_cache_lookups_total{cache="genesys-token-broker"}`). */
  readonly cacheCounts: CacheCounts = { hits: 0, misses: 0 };
  /** Where tokens are kept while the shared cache fails. */
  private local = new MemoryCache();

  constructor(private readonly opts: GenesysTokenBrokerOptions) {
    this.marginSeconds = opts.refreshMarginSeconds ?? 60;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.failureTtlSeconds = opts.authFailureTtlSeconds ?? 5;
    this.http = createHttpClient({ timeoutMs: this.timeoutMs, maxSockets: 32, maxRedirects: 0 });
  }

  /**
   * A valid access token for the tenant's Genesys org. `rejected`: a token the caller just got a
   * 401 with — if it is still the current one it is replaced (once, however many callers report
   * it); if it was already replaced, the current one is returned without asking Genesys.
   */
  async token(tenantId: string, rejected?: string): Promise<GenesysToken> {
    for (let round = 0; ; round++) {
      const flight = this.flights.get(tenantId) ?? this.flights.start(tenantId, (isCurrent) => this.obtain(tenantId, rejected, isCurrent), rejected);
      const token = await flight.promise;
      // A flight started without knowing of the rejection may hand back the rejected token itself:
      // then start (or join) one that replaces it. One that was asked to replace it is final.
      if (rejected === undefined || token.accessToken !== rejected || flight.tag === rejected || round >= 2) {
        return { accessToken: token.accessToken, expiresAt: new Date(token.expiresAt).toISOString() };
      }
    }
  }

  /** Drops the tenant's token and any remembered login failure (its credentials changed). */
  async forget(tenantId: string): Promise<void> {
    this.flights.forget(tenantId);
    await this.local.del(this.tokenKey(tenantId), this.failureKey(tenantId));
    await this.opts.cache.del(this.tokenKey(tenantId), this.failureKey(tenantId));
  }

  /** Subscribes to tenant events: a tenant's token goes when its credentials change or it is deleted. */
  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.unsubscribe = await onTenantEvent(
      this.opts.cache,
      (event) => {
        if (event.kind === 'credentials-changed' || event.kind === 'tenant-deleted') {
          this.forget(event.tenantId).catch((err: unknown) =>
            this.opts.logger?.error({ err, tenantId: event.tenantId }, 'could not drop the Genesys token of a changed tenant; it expires by TTL'),
          );
        }
      },
      // Events were missed while Redis was away: tokens kept here meanwhile may be of old credentials.
      () => this.dropLocal(),
    );
  }

  /** Unsubscribes and releases connections; the cache belongs to the caller. */
  async close(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.().catch(() => undefined);
    await this.local.close();
    this.http.close();
  }

  private dropLocal(): void {
    const old = this.local;
    this.local = new MemoryCache();
    void old.close();
  }

  private tokenKey(tenantId: string) {
    return tenantKey(tenantId, 'genesys', 'token');
  }

  private lockKey(tenantId: string) {
    return tenantKey(tenantId, 'genesys', 'token-lock');
  }

  private failureKey(tenantId: string) {
    return tenantKey(tenantId, 'genesys', 'token-failure');
  }

  /** One flight's work; `isCurrent()` turns false when forget() lets go of the flight. */
  private async obtain(tenantId: string, rejected: string | undefined, isCurrent: () => boolean): Promise<StoredToken> {
    try {
      return await this.obtainWith(this.opts.cache, tenantId, rejected, isCurrent);
    } catch (err) {
      if (err instanceof AppError) throw err;
      // In practice the shared cache (Redis) failing: a token is still better than none.
      this.opts.logger?.warn({ err: { message: (err as Error).message }, tenantId }, 'shared token cache unavailable; token kept in this process');
    }
    try {
      return await this.obtainWith(this.local, tenantId, rejected, isCurrent);
    } catch (err) {
      if (err instanceof AppError) throw err;
      this.opts.logger?.error({ err, tenantId }, 'Genesys token broker failed');
      throw appError('TOKEN_CACHE_UNAVAILABLE');
    }
  }

  private async obtainWith(cache: Cache, tenantId: string, rejected: string | undefined, isCurrent: () => boolean): Promise<StoredToken> {
    const cached = await this.readToken(cache, tenantId);
    if (cached && cached.accessToken !== rejected) {
      this.cacheCounts.hits++;
      return cached;
    }
    this.cacheCounts.misses++;
    await this.throwRememberedFailure(cache, tenantId);
    return this.fetchOnce(cache, tenantId, rejected, isCurrent);
  }

  /**
   * Across replicas: whoever takes the lock asks Genesys; the others poll the cache for its
   * token (or its remembered failure), and take the lock in turn if it is released without one.
   * After waiting about one request's worth they stop waiting and ask Genesys themselves.
   */
  private async fetchOnce(cache: Cache, tenantId: string, rejected: string | undefined, isCurrent: () => boolean): Promise<StoredToken> {
    const lockKey = this.lockKey(tenantId);
    const lockTtlSeconds = Math.ceil((2 * this.timeoutMs) / 1000) + 1;
    const giveUpAt = Date.now() + this.timeoutMs + 1000;
    for (;;) {
      const owner = randomUUID();
      if (await cache.set(lockKey, owner, lockTtlSeconds, { ifAbsent: true })) {
        try {
          // Someone may have stored a token between our read and our lock.
          const cached = await this.readToken(cache, tenantId);
          if (cached && cached.accessToken !== rejected) return cached;
          await this.throwRememberedFailure(cache, tenantId);
          return await this.fetchAndStore(cache, tenantId, isCurrent);
        } finally {
          // Not atomic, but at worst another holder's lock goes early and one extra request follows.
          if ((await cache.get(lockKey).catch(() => null)) === owner) await cache.del(lockKey).catch(() => undefined);
        }
      }
      await sleep(POLL_MS);
      const cached = await this.readToken(cache, tenantId);
      if (cached && cached.accessToken !== rejected) return cached;
      await this.throwRememberedFailure(cache, tenantId);
      if (Date.now() >= giveUpAt) {
        this.opts.logger?.warn({ tenantId }, 'Genesys token lock held too long; requesting a token without it');
        return this.fetchAndStore(cache, tenantId, isCurrent);
      }
    }
  }

  private async fetchAndStore(cache: Cache, tenantId: string, isCurrent: () => boolean): Promise<StoredToken> {
    const credentials = await this.opts.credentials.genesys(tenantId);
    if (!credentials) throw appError('GENESYS_NOT_CONFIGURED');
    try {
      const { token, lifetimeSeconds } = await this.requestToken(tenantId, credentials);
      const margin = Math.min(this.marginSeconds, lifetimeSeconds / 2);
      if (isCurrent()) {
        // A token that could not be shared is still good for this caller.
        await cache.set(this.tokenKey(tenantId), JSON.stringify(token), lifetimeSeconds - margin).catch(() => undefined);
      }
      return token;
    } catch (err) {
      if (err instanceof AppError && err.code === 'GENESYS_AUTH_FAILED' && isCurrent()) {
        const failure: StoredFailure = { code: err.code, message: err.message, status: err.status };
        await cache.set(this.failureKey(tenantId), JSON.stringify(failure), this.failureTtlSeconds).catch(() => undefined);
      }
      throw err;
    }
  }

  /** `POST {login}/oauth/token`, client credentials grant, exactly as Genesys documents it. */
  private async requestToken(tenantId: string, credentials: GenesysCredentials): Promise<{ token: StoredToken; lifetimeSeconds: number }> {
    const url = `${regionUrl(this.opts.loginUrlTemplate, credentials.region)}/oauth/token`;
    const basic = Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`, 'utf8').toString('base64');
    const sentAt = Date.now();
    let status: number;
    let body: unknown;
    let retryAfter: string | undefined;
    try {
      const res = await this.http.post(url, 'grant_type=client_credentials', {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}`, Accept: 'application/json' },
      });
      status = res.status;
      body = res.data;
      retryAfter = typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined;
    } catch (err) {
      // Code and message only: the axios error's config holds the Basic credentials.
      const e = err as { code?: string; message?: string };
      this.opts.logger?.warn({ tenantId, code: e.code, reason: e.message }, 'Genesys login unreachable');
      throw appError('GENESYS_UNAVAILABLE');
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (status >= 200 && status < 300) {
      const accessToken = b.access_token;
      const expiresIn = b.expires_in;
      if (typeof accessToken === 'string' && accessToken.length > 0 && typeof expiresIn === 'number' && expiresIn > 0) {
        this.opts.logger?.info({ tenantId, clientId: credentials.clientId, expiresIn }, 'Genesys token issued');
        // Counted from when we asked, so our idea of expiry is never later than Genesys's.
        return { token: { accessToken, expiresAt: sentAt + expiresIn * 1000 }, lifetimeSeconds: expiresIn };
      }
      this.opts.logger?.error({ tenantId, status }, 'Genesys login answered without a usable token');
      throw appError('GENESYS_UNAVAILABLE', 'Genesys login service gave an unexpected answer');
    }
    const reason = typeof b.error === 'string' ? b.error : typeof b.code === 'string' ? b.code : undefined;
    if (status === 400 || status === 401 || status === 403) {
      this.opts.logger?.warn({ tenantId, clientId: credentials.clientId, status, reason }, 'Genesys refused the tenant\'s OAuth client');
      throw appError('GENESYS_AUTH_FAILED', `Genesys refused this tenant's OAuth client credentials${reason ? ` (${reason})` : ''}`);
    }
    this.opts.logger?.warn({ tenantId, status, reason }, 'Genesys login failed');
    throw appError(
      'GENESYS_UNAVAILABLE',
      `Genesys login service answered ${status}`,
      status === 429 && retryAfter && /^\d+$/.test(retryAfter) ? { 'Retry-After': retryAfter } : undefined,
    );
  }

  private async readToken(cache: Cache, tenantId: string): Promise<StoredToken | undefined> {
    const raw = await cache.get(this.tokenKey(tenantId));
    if (!raw) return undefined;
    try {
      const token = JSON.parse(raw) as StoredToken;
      if (typeof token.accessToken === 'string' && typeof token.expiresAt === 'number' && token.expiresAt > Date.now()) return token;
    } catch {
      // An unreadable entry is treated as absent and overwritten by the next token.
    }
    return undefined;
  }

  private async throwRememberedFailure(cache: Cache, tenantId: string): Promise<void> {
    const raw = await cache.get(this.failureKey(tenantId));
    if (!raw) return;
    let failure: StoredFailure | undefined;
    try {
      failure = JSON.parse(raw) as StoredFailure;
    } catch {
      return;
    }
    throw appError('GENESYS_AUTH_FAILED', failure.message);
  }
}
