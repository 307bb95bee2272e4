import type { RequestHandler } from 'express';
import { LookupCache, apiQuotaState, quotaExceeded, type Database } from '@bridge/shared';

/**
 * Tenant API calls a used-up plan limit does not stop: reading one's usage and notifications
 * (how a tenant finds out why it is refused, and when it may go on).
 */
const ALWAYS_ALLOWED = [/^\/state\/usage\/?$/i, /^\/state\/notifications\/?$/i];

/**
 * How long the guard remembers that a tenant has no limits at all (ms): such a tenant's calls then
 * cost no statement. A plan or override that gives it limits applies within this time.
 */
export const UNLIMITED_TENANT_TTL_MS = 5_000;

export interface QuotaGuardOptions {
  /** Default UNLIMITED_TENANT_TTL_MS; 0: ask every time. */
  unlimitedTtlMs?: number;
  /** Tenants remembered at most; default 100,000. */
  max?: number;
  /** The clock, in ms (tests). */
  now?: () => number;
}

/**
 * Refuses a tenant API call (a proactive message, `POST /messages`, included) with 429
 * QUOTA_EXCEEDED and `Retry-After` (seconds to the period's end) while one of the tenant's plan
 * limits is used up and its plan blocks API calls (`hardLimit` block-api or block-all; see
 * apiQuotaState in shared/src/quotas.ts). One short statement per call of a tenant with limits;
 * a tenant without any is remembered for `unlimitedTtlMs` and its calls cost nothing. Runs after
 * requireGatewayTenant.
 */
export function quotaGuard(db: Database, options: QuotaGuardOptions = {}): RequestHandler {
  const ttlMs = options.unlimitedTtlMs ?? UNLIMITED_TENANT_TTL_MS;
  const unlimited = new LookupCache<true>({ ttlMs, negativeTtlMs: 1, max: options.max ?? 100_000, now: options.now });
  return async (req, _res, next) => {
    const path = req.originalUrl.split('?')[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && ALWAYS_ALLOWED.some((p) => p.test(path))) return next();
    const tenantId = req.tenantId!;
    if (ttlMs > 0 && unlimited.get(tenantId)?.value) return next();
    const state = await db.withTenant(tenantId, (q) => apiQuotaState(q, tenantId));
    if (!state.limited && ttlMs > 0) unlimited.set(tenantId, true);
    next(state.block ? quotaExceeded(state.block) : undefined);
  };
}
