import type { RequestHandler } from 'express';
import { quotaBlock, quotaExceeded, type Database } from '@bridge/shared';

/**
 * Tenant API calls a used-up plan limit does not stop: reading one's usage and notifications
 * (how a tenant finds out why it is refused, and when it may go on).
 */
const ALWAYS_ALLOWED = [/^\/state\/usage\/?$/i, /^\/state\/notifications\/?$/i];

/**
 * Refuses a tenant API call (a proactive message, `POST /messages`, included) with 429
 * QUOTA_EXCEEDED and `Retry-After` (seconds to the period's end) while one of the tenant's plan
 * limits is used up and its plan blocks API calls (`hardLimit` block-api or block-all; see
 * quotaBlock in shared/src/quotas.ts). One short statement per call; a tenant without limits
 * costs one lookup. Runs after requireGatewayTenant.
 */
export function quotaGuard(db: Database): RequestHandler {
  return async (req, _res, next) => {
    const path = req.originalUrl.split('?')[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && ALWAYS_ALLOWED.some((p) => p.test(path))) return next();
    const tenantId = req.tenantId!;
    const block = await db.withTenant(tenantId, (q) => quotaBlock(q, tenantId, 'api'));
    next(block ? quotaExceeded(block) : undefined);
  };
}
