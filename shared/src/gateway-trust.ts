import type { RequestHandler } from 'express';
import { forwardedClientIp } from './audit';
import { setContextCaller, setContextTenant } from './context';
import { appError } from './errors';
import { internalCaller } from './http';

/** Headers the gateway sets on forwarded requests (after deleting any copy a client sent). */
export const TENANT_HEADER = 'x-tenant-id';
/** How the gateway authenticated the caller: `api-key`, `jwt` or `subdomain`. */
export const TENANT_AUTH_HEADER = 'x-tenant-auth';
/** The id of the API key (or of the key a JWT was issued with) that authenticated the caller. */
export const TENANT_KEY_HEADER = 'x-tenant-key-id';
/** The scopes the caller holds (space-separated, shared/src/api-key-scopes.ts): what /auth/token puts in a token. */
export const TENANT_SCOPES_HEADER = 'x-tenant-scopes';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The tenant this request acts for, set by the gateway's resolver or by requireGatewayTenant. */
      tenantId?: string;
    }
  }
}

/**
 * For services behind the gateway: trusts `X-Tenant-ID` only together with the gateway's internal
 * token (GATEWAY_INTERNAL_TOKEN, any of `gatewayTokens`), so a client reaching a service
 * directly with a forged header, or another service with its own token, gets 401.
 */
export function requireGatewayTenant(gatewayTokens: readonly string[]): RequestHandler {
  return (req, _res, next) => {
    const tenantId = req.headers[TENANT_HEADER];
    if (internalCaller(req, { gateway: gatewayTokens }) !== 'gateway') {
      next(appError('INVALID_INTERNAL_TOKEN', 'Requests must come through the gateway'));
      return;
    }
    if (typeof tenantId !== 'string' || !tenantId) {
      next(appError('MISSING_TENANT'));
      return;
    }
    req.tenantId = tenantId;
    setContextTenant(tenantId);
    // For the audit trail: the key that acts (none: a subdomain-only caller) and the client's address.
    const keyId = req.headers[TENANT_KEY_HEADER];
    setContextCaller({ actor: typeof keyId === 'string' && keyId ? `key:${keyId}` : 'tenant', clientIp: forwardedClientIp(req) });
    next();
  };
}
