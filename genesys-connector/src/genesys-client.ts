import { LRUCache } from 'lru-cache';
import CircuitBreaker from 'opossum';
import { AppError, createHttpClient, regionUrl, type CredentialsClient, type HttpClient } from '@bridge/shared';
import { DeliveryError, credentialRefused, fromNetworkError, permanent, retryAfterMs, transient } from './errors';
import type { GenesysTokenClient } from './genesys-token-client';

export interface GenesysClientOptions {
  credentials: Pick<CredentialsClient, 'genesys'>;
  tokens: Pick<GenesysTokenClient, 'token'>;
  apiUrlTemplate: string;
  timeoutMs: number;
  breakerResetMs: number;
}

type Endpoint = 'message' | 'receipt' | 'event';

/** The answer to an agentless message (`SendAgentlessOutboundMessageResponse`, the fields the bridge reads). */
export interface GenesysAgentlessAnswer {
  id?: string;
  conversationId?: string;
}

/**
 * Calls a tenant's Genesys Open Messaging API: the token from auth-service (fetched again once
 * on a 401), answers classified into transient and permanent failures, and a circuit breaker per
 * tenant so that an org that is down is not hammered (and does not hold workers others need).
 */
export class GenesysClient {
  private readonly http: HttpClient;
  /**
   * One breaker per tenant with work, the least recently used going (timers stopped) past 10,000
   * tenants, so that tenants deleted long ago are not kept for the life of the process.
   */
  private readonly breakers = new LRUCache<string, CircuitBreaker<[() => Promise<unknown>], unknown>>({
    max: 10_000,
    dispose: (breaker) => breaker.shutdown(),
  });

  /** Times a breaker opened, since start. */
  private opens = 0;

  constructor(private readonly options: GenesysClientOptions) {
    this.http = createHttpClient({ timeoutMs: options.timeoutMs, maxSockets: 256, maxBodyLength: 512_000 });
  }

  private breaker(tenantId: string) {
    let breaker = this.breakers.get(tenantId);
    if (!breaker) {
      breaker = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
        timeout: false,
        resetTimeout: this.options.breakerResetMs,
        errorThresholdPercentage: 50,
        volumeThreshold: 5,
        rollingCountTimeout: 10_000,
        // Our own mistakes (400s) say nothing about the org's health, nor does a refused OAuth
        // client (the tenant's deliveries to Genesys are held until it is replaced).
        errorFilter: (err: unknown) => err instanceof DeliveryError && (err.kind === 'permanent' || err.kind === 'credential'),
      });
      breaker.on('open', () => this.opens++);
      this.breakers.set(tenantId, breaker);
    }
    return breaker;
  }

  /** The breakers by state, and how many times one opened since start (for metrics). */
  breakerStates(): { open: number; halfOpen: number; closed: number; opens: number } {
    const states = { open: 0, halfOpen: 0, closed: 0, opens: this.opens };
    for (const breaker of this.breakers.values()) {
      if (breaker.halfOpen) states.halfOpen++;
      else if (breaker.opened) states.open++;
      else states.closed++;
    }
    return states;
  }

  /** Whether the tenant's circuit is open (deliveries to it are deferred without a call). */
  isOpen(tenantId: string): boolean {
    return this.breakers.get(tenantId)?.opened ?? false;
  }

  async send<T = Record<string, unknown>>(tenantId: string, endpoint: Endpoint, body: unknown): Promise<T> {
    const credentials = await this.options.credentials.genesys(tenantId);
    if (!credentials) throw transient('GENESYS_NOT_CONFIGURED', 'The tenant has no Genesys credentials yet');
    const base = regionUrl(this.options.apiUrlTemplate, credentials.region);
    const url = `${base}/api/v2/conversations/messages/${encodeURIComponent(credentials.integrationId)}/inbound/open/${endpoint}${
      endpoint === 'message' ? '?prefetchConversationId=true' : ''
    }`;
    return this.fire<T>(tenantId, url, body);
  }

  /**
   * Posts an agentless message (`POST /api/v2/conversations/messages/agentless`: text only on
   * Open Messaging) from the tenant's integration to the customer `toAddress` (the id Genesys
   * knows them by), into their active conversation; `textBody` at most 2,000 characters
   * (shared `agentlessText`). Returns Genesys's 202 answer (`id`: the Genesys message id it will
   * deliver to our outbound webhook, `conversationId`), or undefined when the tenant has no
   * Genesys credentials (then nothing is called). `beforePost` runs once the credentials are
   * known, just before the call. Facts: shared/reference/genesys-open-messaging.md ("Structured
   * content, typing and agentless messages"); failures are classified as for `send`.
   */
  async agentless(
    tenantId: string,
    message: { toAddress: string; textBody: string },
    options: { beforePost?: () => Promise<unknown> } = {},
  ): Promise<GenesysAgentlessAnswer | undefined> {
    const credentials = await this.options.credentials.genesys(tenantId);
    if (!credentials) return undefined;
    await options.beforePost?.();
    const url = `${regionUrl(this.options.apiUrlTemplate, credentials.region)}/api/v2/conversations/messages/agentless`;
    const body = {
      fromAddress: credentials.integrationId,
      toAddress: message.toAddress,
      toAddressMessengerType: 'open',
      textBody: message.textBody,
      useExistingActiveConversation: true,
    };
    return this.fire<GenesysAgentlessAnswer>(tenantId, url, body);
  }

  /** One POST through the tenant's circuit breaker. */
  private async fire<T>(tenantId: string, url: string, body: unknown): Promise<T> {
    try {
      return (await this.breaker(tenantId).fire(() => this.post<T>(tenantId, url, body))) as T;
    } catch (err) {
      if ((err as { code?: string }).code === 'EOPENBREAKER') {
        throw transient('CIRCUIT_OPEN', 'Genesys is failing for this tenant; deliveries paused', this.options.breakerResetMs);
      }
      throw err;
    }
  }

  private async post<T>(tenantId: string, url: string, body: unknown): Promise<T> {
    let token = await this.tokenFor(tenantId);
    let res = await this.attempt(url, body, token);
    if (res.status === 401) {
      // Once: the token may have been revoked or expired early; a second 401 is a real failure.
      token = await this.tokenFor(tenantId, token);
      res = await this.attempt(url, body, token);
    }
    if (res.status >= 200 && res.status < 300) return res.data as T;
    const text = genesysErrorText(res.status, res.data);
    if (res.status === 429) throw transient('GENESYS_RATE_LIMITED', text, retryAfterMs(res.headers['retry-after']) ?? 5_000);
    if (res.status >= 500 || res.status === 408) throw transient('GENESYS_UNAVAILABLE', text, retryAfterMs(res.headers['retry-after']));
    if (res.status === 401 || res.status === 403) throw transient('GENESYS_AUTH_FAILED', `Genesys refused the tenant's credentials (HTTP ${res.status})`);
    throw permanent('GENESYS_REJECTED', text);
  }

  private async tokenFor(tenantId: string, rejected?: string): Promise<string> {
    try {
      return await this.options.tokens.token(tenantId, rejected);
    } catch (err) {
      // Genesys refused the tenant's OAuth client (its token endpoint's 400/401/403, e.g.
      // invalid_client): the credential is marked invalid and the tenant's deliveries to Genesys
      // held until it is replaced (shared/src/credential-health.ts).
      if (err instanceof AppError && err.code === 'GENESYS_AUTH_FAILED') throw credentialRefused('genesys', 'GENESYS_CREDENTIALS_REFUSED', err.message);
      throw transient('GENESYS_TOKEN_UNAVAILABLE', `No Genesys token: ${(err as Error).message}`);
    }
  }

  private async attempt(url: string, body: unknown, token: string) {
    try {
      return await this.http.post(url, body, { headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
    } catch (err) {
      throw fromNetworkError(err, 'Genesys');
    }
  }

  /** Stops the breakers' timers and releases kept-alive connections. */
  close(): void {
    // clear() disposes of each breaker: shutdown() stops its timers.
    this.breakers.clear();
    this.http.close();
  }
}

/**
 * A Genesys error answer, written once: its message, the messages of its nested `errors[]` when
 * they add something, then its code and the HTTP status — "Rate limit exceeded the maximum. Retry
 * the request in [42] seconds (Genesys too.many.requests.retry.after, HTTP 429)". Genesys' error
 * body: `{message, code, status, errors?: [{message, code}], ...}` (shared/reference/genesys-open-messaging.md).
 */
export function genesysErrorText(httpStatus: number, body: unknown): string {
  const error = typeof body === 'object' && body ? (body as { message?: unknown; code?: unknown; errors?: unknown }) : {};
  const said = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() ? value.trim() : undefined);
  const nested = Array.isArray(error.errors) ? error.errors.map((e) => said((e as { message?: unknown })?.message)) : [];
  const messages = [...new Set([said(error.message), ...nested].filter((m): m is string => !!m))];
  const code = said(error.code);
  const where = `${code ? `Genesys ${code}, ` : 'Genesys '}HTTP ${httpStatus}`;
  return messages.length ? `${messages.join('; ')} (${where})`.slice(0, 1000) : `Genesys answered HTTP ${httpStatus}${code ? ` (${code})` : ''}`;
}
