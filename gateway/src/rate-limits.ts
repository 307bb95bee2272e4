import { rateLimit, type Store } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { RedisCache, appError, type Cache } from '@bridge/shared';

const WINDOW_MS = 60_000;

/** Counters live in Redis when there is one, so that every gateway replica shares them. */
function storeFor(cache: Cache): Store | undefined {
  if (!(cache instanceof RedisCache)) return undefined;
  const redis = cache.redis;
  return new RedisStore({
    // Keys come out as t:{tenantId}:ratelimit:... (see keyGenerator).
    prefix: 't:',
    sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
  });
}

/**
 * Per tenant, at the tenant's requests-per-minute, and per API key where the key has a limit of
 * its own. Standard `RateLimit`/`RateLimit-Policy` headers; `Retry-After` on 429.
 */
export function createRateLimits(cache: Cache) {
  const common = {
    windowMs: WINDOW_MS,
    standardHeaders: 'draft-7' as const,
    legacyHeaders: false,
    // Counted by tenant, not by IP: the IP validations do not apply.
    validate: { trustProxy: false, xForwardedForHeader: false, ip: false, keyGeneratorIpFallback: false },
    handler: (_req: unknown, _res: unknown, next: (err: unknown) => void) => next(appError('RATE_LIMITED')),
  };
  const perTenant = rateLimit({
    ...common,
    store: storeFor(cache),
    limit: (req) => req.tenant!.rateLimit,
    keyGenerator: (req) => `{${req.tenant!.tenantId}}:ratelimit`,
  });
  const perKey = rateLimit({
    ...common,
    store: storeFor(cache),
    skip: (req) => !req.tenant?.keyRateLimit,
    limit: (req) => req.tenant!.keyRateLimit!,
    keyGenerator: (req) => `{${req.tenant!.tenantId}}:ratelimit:key:${req.tenant!.keyId}`,
  });
  return [perTenant, perKey];
}
