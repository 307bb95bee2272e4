import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit, type IncrementResponse, type Store } from 'express-rate-limit';
import { AppError, appError, type ErrorCode, type Logger } from '@bridge/shared';
import type { BucketState, TokenBuckets } from './token-bucket';

/**
 * Budgets per client address, for what the gateway does before it knows who is asking. Each is
 * a token bucket (token-bucket.ts), shared by every replica through Redis:
 * - every request to the unauthenticated routes (`/webhook/*`: webhooks, media links) costs one
 *   token (express-rate-limit, over a store that is the bucket);
 * - every failed authentication on the tenant routes costs one; while none is left, those routes
 *   answer 429 before looking anything up.
 * Both answer 429 with `Retry-After` (seconds until a token is back) and the `RateLimit` and
 * `RateLimit-Policy` headers (IETF draft 7, as the tenant limits: `limit` is the burst, `w` the
 * seconds the bucket takes to refill).
 */

/**
 * The client a request is counted for: its address as Express sees it (`trust proxy` decides
 * whether X-Forwarded-For is believed), an IPv6 address reduced to its `/ipv6Prefix` network,
 * since one host commonly holds a whole /64 or more.
 */
export function clientKey(req: Request, ipv6Prefix: number): string {
  return ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown', ipv6Prefix);
}

const windowSeconds = (buckets: TokenBuckets) => Math.ceil((buckets.policy.capacity * 60) / buckets.policy.perMinute);

function setBudgetHeaders(res: Response, buckets: TokenBuckets, state: BucketState): void {
  const reset = Math.ceil((state.allowed ? state.fullInMs : state.retryAfterMs) / 1000);
  res.setHeader('RateLimit-Policy', `${buckets.policy.capacity};w=${windowSeconds(buckets)}`);
  res.setHeader('RateLimit', `limit=${buckets.policy.capacity}, remaining=${Math.floor(state.tokens)}, reset=${reset}`);
}

/**
 * A bucket seen as an express-rate-limit store: a take is a hit; a refused take reports one hit
 * over the limit, with the reset at the next token (what `Retry-After` says).
 */
class BucketStore implements Store {
  readonly localKeys = false;

  constructor(private readonly buckets: TokenBuckets) {}

  async increment(key: string): Promise<IncrementResponse> {
    const state = await this.buckets.take(key);
    const { capacity } = this.buckets.policy;
    return {
      totalHits: state.allowed ? capacity - Math.floor(state.tokens) : capacity + 1,
      resetTime: new Date(Date.now() + (state.allowed ? state.fullInMs : state.retryAfterMs)),
    };
  }

  // Nothing is refunded: the limiter below counts every request.
  decrement(): void {}

  resetKey(): void {}
}

/** Every request from one client costs a token of `buckets`; none left → 429 CLIENT_RATE_LIMITED. */
export function perClientBudget(buckets: TokenBuckets, options: { ipv6Prefix: number; logger: Logger }): RequestHandler {
  return rateLimit({
    store: new BucketStore(buckets),
    limit: buckets.policy.capacity,
    windowMs: windowSeconds(buckets) * 1000,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => clientKey(req, options.ipv6Prefix),
    handler: (_req, _res, next) => next(appError('CLIENT_RATE_LIMITED')),
    // Its configuration warnings (e.g. X-Forwarded-For arriving while TRUST_PROXY_HOPS is 0) go to the log.
    logger: {
      warn: (err, message) => options.logger.warn({ err }, message ?? 'client budget'),
      error: (err, message) => options.logger.error({ err }, message ?? 'client budget'),
    },
  });
}

/**
 * The failures that cost a token: credentials that prove nothing (missing, unknown, malformed,
 * revoked, badly signed) and names of tenants or subdomains that do not exist. Not an expired
 * token: only we can have signed it, and clients renew on that answer as a matter of course.
 */
const COSTLY_FAILURES = new Set<ErrorCode>(['MISSING_CREDENTIALS', 'INVALID_API_KEY', 'API_KEY_REVOKED', 'API_KEY_EXPIRED', 'INVALID_TOKEN', 'TOKEN_REVOKED', 'TENANT_NOT_FOUND']);

/**
 * The budget of failed authentications per client: `check` (before the tenant resolver) answers
 * 429 TOO_MANY_AUTH_FAILURES while the client's bucket is empty, without any lookup; `charge`
 * (an error handler right after the resolver) spends a token for each costly failure and passes
 * the failure on, with the headers saying what is left.
 */
export function authFailureBudget(buckets: TokenBuckets, options: { ipv6Prefix: number }): { check: RequestHandler; charge: ErrorRequestHandler } {
  const keyOf = (req: Request) => clientKey(req, options.ipv6Prefix);
  return {
    check: (req, res, next) => {
      buckets.peek(keyOf(req)).then((state) => {
        if (state.allowed) return next();
        setBudgetHeaders(res, buckets, state);
        next(appError('TOO_MANY_AUTH_FAILURES', undefined, { 'Retry-After': String(Math.max(1, Math.ceil(state.retryAfterMs / 1000))) }));
      }, next);
    },
    charge: (err, req, res, next) => {
      if (!(err instanceof AppError && COSTLY_FAILURES.has(err.code))) return next(err);
      buckets.take(keyOf(req)).then(
        (state) => {
          setBudgetHeaders(res, buckets, state);
          next(err);
        },
        () => next(err),
      );
    },
  };
}
