import type { Request, RequestHandler } from 'express';
import { appError, hashApiKey, setContextTenant, verifyTenantToken, type TenantDirectory, type TenantEntry } from '@bridge/shared';

export type TenantAuth = 'api-key' | 'jwt' | 'subdomain';

export interface ResolvedTenant {
  tenantId: string;
  /** Requests per minute for the tenant. */
  rateLimit: number;
  auth: TenantAuth;
  /** The API key used, when one was. */
  keyId?: string;
  keyRateLimit?: number | null;
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
  jwtSecret: string;
  /** Parent domain for `<subdomain>.<baseDomain>` resolution; unset turns it off. */
  baseDomain?: string;
  /**
   * Lets a subdomain alone identify the tenant, for deployments behind a proxy that has already
   * authenticated the caller. Off by default: a subdomain identifies, it does not authenticate.
   */
  allowSubdomainOnly?: boolean;
  /** Told of every request authenticated by an API key (to record last use without a DB write each time). */
  onApiKeyUsed?: (keyId: string) => void;
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
 * revoked key, bad token → 401; credentials of another tenant than the subdomain → 403; no
 * such tenant (subdomain, or credentials of a deleted tenant) → 404; suspended tenant → 423.
 */
export function createTenantResolver(options: TenantResolverOptions): RequestHandler {
  const { directory } = options;

  async function fromApiKey(apiKey: string): Promise<{ tenantId: string; keyId: string; keyRateLimit: number | null }> {
    const entry = API_KEY_SHAPE.test(apiKey) ? await directory.apiKey(hashApiKey(apiKey)) : undefined;
    if (!entry) throw appError('INVALID_API_KEY');
    if (!entry.active) throw appError('API_KEY_REVOKED');
    options.onApiKeyUsed?.(entry.keyId);
    return { tenantId: entry.tenantId, keyId: entry.keyId, keyRateLimit: entry.rateLimit };
  }

  async function resolve(req: Request): Promise<ResolvedTenant> {
    const apiKey = req.headers['x-api-key'];
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const subdomain = options.baseDomain ? subdomainOf(req, options.baseDomain) : undefined;

    let credential: { tenantId: string; auth: TenantAuth; keyId?: string; keyRateLimit?: number | null } | undefined;
    if (typeof apiKey === 'string' && apiKey) credential = { ...(await fromApiKey(apiKey.trim())), auth: 'api-key' };
    else if (bearer) credential = { tenantId: verifyTenantToken(options.jwtSecret, bearer), auth: 'jwt' };

    let tenant: TenantEntry | undefined;
    if (subdomain) {
      tenant = await directory.subdomain(subdomain);
      if (!tenant) throw appError('TENANT_NOT_FOUND', 'No tenant for this subdomain');
      if (credential && credential.tenantId !== tenant.tenantId) {
        throw appError('TENANT_MISMATCH');
      }
      if (!credential && !options.allowSubdomainOnly) {
        throw appError('MISSING_CREDENTIALS');
      }
    } else if (credential) {
      tenant = await directory.tenant(credential.tenantId);
      if (!tenant) throw appError('TENANT_NOT_FOUND', 'No tenant for these credentials');
    } else {
      throw appError('MISSING_CREDENTIALS');
    }

    if (tenant.status !== 'active') throw appError('TENANT_SUSPENDED');
    return {
      tenantId: tenant.tenantId,
      rateLimit: tenant.rateLimit,
      auth: credential?.auth ?? 'subdomain',
      keyId: credential?.keyId,
      keyRateLimit: credential?.keyRateLimit,
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
