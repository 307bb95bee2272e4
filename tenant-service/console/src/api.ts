/**
 * The console's only way to the server: the admin API on the same origin (tenant-service :3007),
 * with the admin key as `Authorization: Bearer`. The key lives in this closure, in the page's
 * memory: never in a cookie, localStorage or sessionStorage, so it is gone when the tab closes or
 * reloads, and no other site's page can make the browser send it (no cookie: no CSRF).
 */

/** An answer of the API in the contract's error shape `{error: {code, message, requestId}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
  ) {
    super(message);
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  patch<T>(path: string, body: unknown): Promise<T>;
  delete(path: string): Promise<void>;
}

/** The admin API with `adminKey`; every failure is an ApiError (network ones: code NETWORK_ERROR). */
export function createApi(adminKey: string): Api {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let headers: Headers;
    try {
      headers = new Headers({ Authorization: `Bearer ${adminKey}`, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) });
    } catch {
      // A character outside ISO-8859-1 (or a control character): the browser refuses to send it.
      throw new ApiError(0, 'INVALID_ADMIN_KEY', 'The admin key has a character no HTTP header can carry: check what was typed or pasted', null);
    }
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'NETWORK_ERROR', `The admin API did not answer (${(err as Error).message})`, null);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; requestId?: string } } | undefined)?.error;
      throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText, e?.requestId ?? res.headers.get('X-Request-Id'));
    }
    return json as T;
  }
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    patch: (path, body) => call('PATCH', path, body),
    delete: (path) => call('DELETE', path),
  };
}

/** An error as the console shows it: code, message and the request id to quote to whoever reads the logs. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}${err.requestId ? ` (request ${err.requestId})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

/** A path segment: ids from the API put into URLs. */
export const seg = (s: string) => encodeURIComponent(s);

// The API's shapes the console reads (shared/src/openapi/responses.ts), the fields it uses.

export interface Tenant {
  tenantId: string;
  name: string;
  subdomain: string | null;
  status: 'active' | 'suspended' | 'pending';
  plan: string;
  suspendedReason: string | null;
  suspendedAt: string | null;
  createdAt: string;
}

export interface CreatedTenant {
  tenant: Tenant;
  apiKey: string;
  apiKeyId: string;
  apiKeyScopes: string[];
}

export interface Plan {
  name: string;
}

export interface Credentials {
  type: 'meta' | 'genesys';
  credentials: Record<string, string | null>;
  updatedAt: string;
  health: { status: string; invalidReason: string | null; invalidAt: string | null; verifiedAt: string | null };
}

export interface ApiKey {
  id: string;
  prefix: string;
  name: string;
  isActive: boolean;
  scopes: string[];
  expiresAt: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface CreatedApiKey {
  id: string;
  apiKey: string;
  prefix: string;
  name: string;
}

export interface Quota {
  quota: string;
  period: 'day' | 'month';
  used: number;
  limit: number | null;
  percent: number | null;
  exceeded: boolean;
  resetsAt: string;
}

export interface Usage {
  plan: { name: string; hardLimit: string };
  period: { month: string };
  quotas: Quota[];
  daily: Array<{ date: string; messages: number }>;
}

export interface Message {
  id: string;
  direction: 'inbound' | 'outbound';
  waId: string | null;
  type: string;
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  updatedAt: string;
}

export interface AuditEvent {
  id: string;
  tenantId: string | null;
  actor: string;
  action: string;
  target: string | null;
  at: string;
}
