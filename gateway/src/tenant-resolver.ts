import type { Request, RequestHandler } from 'express';
import {
  appError,
  hashApiKey,
  keyScopes,
  narrowScopes,
  setContextTenant,
  tenantSuspended,
  type ApiKeyEntry,
  type SecurityEvents,
  type SecurityOccurrence,
  type TenantDirectory,
  type TenantTokenKeyring,
} from '@bridge/shared';

export type TenantAuth = 'api-key' | 'jwt' | 'subdomain';

export interface ResolvedTenant {
  tenantId: string;
  /** Requests per minute for the tenant. */
  rateLimit: number;
  auth: TenantAuth;
  /** The API key used, or the one the JWT used was issued with. */
  keyId?: string;
  keyRateLimit?: number | null;
  /** What the caller may do (gateway/src/scopes.ts): the key's, narrowed by a token's; undefined for subdomain-only callers. */
  scopes?: string[];
  /** The browser origins the key may be used from (gateway/src/cors.ts); null or undefined: none. */
  allowedOrigins?: string[] | null;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      tenant?: ResolvedTenant;
    }
  }
}

export interface TenantResolverOptions {
  directory: TenantDirectory;
  /** Verifies tenant JWTs (every secret of the ring: JWT_SECRET and JWT_PREVIOUS_SECRETS). */
  jwtKeyring: TenantTokenKeyring;
  /** Parent domain for `<subdomain>.<baseDomain>` resolution; unset turns it off. */
  baseDomain?: string;
  /**
   * Lets a subdomain alone identify the tenant, for deployments behind a proxy that has already
   * authenticated the caller. Off by default: a subdomain identifies, it does not authenticate.
   */
  allowSubdomainOnly?: boolean;
  /** Told of every request authenticated by an API key or a token of one, with the client's address (to record last use without a DB write each time). */
  onApiKeyUsed?: (keyId: string, ip: string | undefined) => void;
  /**
   * Told of a revoked or expired key (or a token of one) used, and of credentials used on another
   * tenant's subdomain (security events in the key's tenant's audit trail, counted per key per
   * window: shared/src/security-events.ts). Never waits.
   */
  securityEvents?: SecurityEvents;
  /** The clock expiry is checked against (tests). */
  now?: () => number;
}

interface Credential {
  tenantId: string;
  auth: TenantAuth;
  keyId?: string;
  keyRateLimit?: number | null;
  scopes?: string[];
  allowedOrigins?: string[] | null;
}

const API_KEY_SHAPE = /^sk_[A-Za-z0-9_-]{20,200}$/;

function subdomainOf(req: Request, baseDomain: string): string | undefined {
  const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
  const suffix = `.${baseDomain.toLowerCase()}`;
  if (!host.endsWith(suffix)) return undefined;
  const label = host.slice(0, -suffix.length);
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label) ? label : undefined;
}

/**
 * Resolves the tenant of a request, in order: `X-API-Key`, `Authorization: Bearer <JWT>`, the
 * `Host` subdomain. Sets `req.tenant` and the log context. Errors: no credentials, unknown or
 * revoked or expired key, bad token, token whose key is revoked, expired or gone → 401; credentials of another tenant
 * than the subdomain → 403; no such tenant (subdomain, or credentials of a deleted tenant) → 404;
 * suspended tenant → 423. A token stands only while the key it was issued with does: its state
 * is read from the directory on every request, as a key's is, so revoking the key or deleting
 * the tenant ends its tokens on the next request on every gateway.
 */
export function createTenantResolver(options: TenantResolverOptions): RequestHandler {
  const { directory } = options;
  const now = options.now ?? Date.now;
  const expired = (entry: ApiKeyEntry) => !!entry.expiresAt && Date.parse(entry.expiresAt) <= now();

  /** A security event about key `keyId` of `tenantId`, in that tenant's trail; the client's address and the route with it. */
  function securityEvent(req: Request, action: SecurityOccurrence['action'], tenantId: string, keyId: string, details: Record<string, unknown>): void {
    options.securityEvents?.record({
      tenantId,
      action,
      subject: keyId,
      actor: `key:${keyId}`,
      target: `api_key:${keyId}`,
      clientIp: req.ip?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, ''),
      details: { method: req.method, path: req.originalUrl.split('?')[0].slice(0, 200), ...details },
    });
  }

  async function fromApiKey(req: Request, apiKey: string): Promise<Credential> {
    const entry = API_KEY_SHAPE.test(apiKey) ? await directory.apiKey(hashApiKey(apiKey)) : undefined;
    if (!entry) throw appError('INVALID_API_KEY');
    if (!entry.active) {
      securityEvent(req, 'security.revoked_key_used', entry.tenantId, entry.keyId, { via: 'api-key' });
      throw appError('API_KEY_REVOKED');
    }
    if (expired(entry)) {
      securityEvent(req, 'security.expired_key_used', entry.tenantId, entry.keyId, { via: 'api-key', expiresAt: entry.expiresAt });
      throw appError('API_KEY_EXPIRED');
    }
    return {
      tenantId: entry.tenantId,
      auth: 'api-key',
      keyId: entry.keyId,
      keyRateLimit: entry.rateLimit,
      scopes: [...keyScopes(entry)],
      allowedOrigins: entry.allowedOrigins ?? null,
    };
  }

  async function resolve(req: Request): Promise<ResolvedTenant> {
    const apiKey = req.headers['x-api-key'];
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const subdomain = options.baseDomain ? subdomainOf(req, options.baseDomain) : undefined;
    const hasKey = typeof apiKey === 'string' && apiKey !== '';
    // Refused before any lookup: a subdomain alone names a tenant, it does not authenticate.
    if (!hasKey && !bearer && !(subdomain && options.allowSubdomainOnly)) throw appError('MISSING_CREDENTIALS');

    let credential: Credential | undefined;
    if (hasKey) credential = await fromApiKey(req, apiKey.trim());
    else if (bearer) credential = { ...options.jwtKeyring.verify(bearer), auth: 'jwt' };

    // A token's key is looked up alongside its tenant (both usually cached: one round trip).
    const [tenant, tokenKey] = await Promise.all([
      subdomain ? directory.subdomain(subdomain) : directory.tenant(credential!.tenantId),
      credential?.auth === 'jwt' ? directory.apiKeyById(credential.tenantId, credential.keyId!) : undefined,
    ]);
    if (!tenant) throw appError('TENANT_NOT_FOUND', subdomain ? 'No tenant for this subdomain' : 'No tenant for these credentials');
    if (credential && credential.tenantId !== tenant.tenantId) {
      // In the credentials' tenant's trail: its key was presented at another tenant's subdomain (whose id only admins see).
      if (credential.keyId) {
        securityEvent(req, 'security.tenant_mismatch', credential.tenantId, credential.keyId, { via: credential.auth, subdomain, internal: { subdomainTenant: tenant.tenantId } });
      }
      throw appError('TENANT_MISMATCH');
    }
    if (credential?.auth === 'jwt') {
      // Gone: revoked, deleted with its tenant, or of an earlier tenant under the same id.
      if (!tokenKey?.active) {
        if (tokenKey) securityEvent(req, 'security.revoked_key_used', credential.tenantId, credential.keyId!, { via: 'token' });
        throw appError('TOKEN_REVOKED');
      }
      if (expired(tokenKey)) {
        securityEvent(req, 'security.expired_key_used', credential.tenantId, credential.keyId!, { via: 'token', expiresAt: tokenKey.expiresAt });
        throw appError('API_KEY_EXPIRED', 'The API key this token was issued with has expired');
      }
      credential.keyRateLimit = tokenKey.rateLimit;
      // The narrower of what the token carries and what its key holds now (a token from before scopes: the key's).
      credential.scopes = narrowScopes(keyScopes(tokenKey), credential.scopes ?? keyScopes(tokenKey));
      credential.allowedOrigins = tokenKey.allowedOrigins ?? null;
    }
    if (tenant.status === 'pending') throw appError('TENANT_PENDING');
    if (tenant.status !== 'active') throw tenantSuspended(tenant.suspendedReason);
    if (credential?.keyId) options.onApiKeyUsed?.(credential.keyId, req.ip);
    return {
      tenantId: tenant.tenantId,
      rateLimit: tenant.rateLimit,
      auth: credential?.auth ?? 'subdomain',
      keyId: credential?.keyId,
      keyRateLimit: credential?.keyRateLimit,
      scopes: credential?.scopes,
      allowedOrigins: credential?.allowedOrigins,
    };
  }

  return (req, _res, next) => {
    resolve(req).then(
      (tenant) => {
        req.tenant = tenant;
        req.tenantId = tenant.tenantId;
        setContextTenant(tenant.tenantId);
        next();
      },
      next,
    );
  };
}
