import type { RequestHandler } from 'express';
import { appError } from '@bridge/shared';

/**
 * Browser use of the tenant API (issue #13), opted into per key with `allowedOrigins`.
 *
 * Preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) carry no key, so they
 * cannot be checked against one: they are answered 204 for any origin, for the methods and
 * request headers the tenant API uses, never with `Access-Control-Allow-Credentials` (the API
 * authenticates by header, not by cookie). What a browser may then read is decided on the actual
 * request, by `checkOrigin`. Fetch standard, CORS protocol: https://fetch.spec.whatwg.org/#http-cors-protocol
 */
const ALLOWED_METHODS = 'GET, POST';
const ALLOWED_HEADERS = 'X-API-Key, Authorization, Content-Type, Idempotency-Key, X-Request-Id';
/** What a browser script may read of an answer besides the CORS-safelisted headers. */
const EXPOSED_HEADERS = 'X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, Location';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

export const answerPreflight: RequestHandler = (req, res, next) => {
  const origin = req.headers.origin;
  if (req.method !== 'OPTIONS' || !origin || !req.headers['access-control-request-method']) return next();
  res.set({
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Methods': ALLOWED_METHODS,
    'Access-Control-Allow-Headers': ALLOWED_HEADERS,
    'Access-Control-Max-Age': PREFLIGHT_MAX_AGE_SECONDS,
    Vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  });
  res.status(204).end();
};

/**
 * The actual request of a browser (an `Origin` header) with a key or a token of one: the key must
 * list that origin in its allowedOrigins, or 403 ORIGIN_NOT_ALLOWED; a key without allowedOrigins
 * is refused from every browser (browser use is opted into). Listed: the answer carries
 * `Access-Control-Allow-Origin: <origin>` and `Vary: Origin`. Requests without `Origin` (servers,
 * curl) are not concerned; neither are subdomain-only callers, whose fronting proxy authenticated
 * them and answers for their origins. Runs after the tenant resolver.
 */
export const checkOrigin: RequestHandler = (req, res, next) => {
  const origin = req.headers.origin;
  if (!origin || !req.tenant || req.tenant.auth === 'subdomain') return next();
  const allowed = req.tenant.allowedOrigins;
  if (!allowed?.includes(origin)) {
    return next(
      appError('ORIGIN_NOT_ALLOWED', allowed ? `This API key may not be used from ${origin}` : 'This API key may not be used from a browser: it lists no allowedOrigins'),
    );
  }
  res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': EXPOSED_HEADERS });
  res.vary('Origin');
  next();
};
