import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import express, { type Express, type Request, type RequestHandler } from 'express';
import type { Cache } from './cache';
import { runWithContext } from './context';
import { ERROR_CODES, type ErrorCode } from './error-codes';
import { appError, badInput, errorBody, errorHandler, notFoundHandler } from './errors';
import { excerpt } from './ids';
import type { Logger } from './logger';
import type { CallerTokens, InternalCaller } from './config';
import { safeEqual } from './crypto';
import type { ServiceMetrics } from './metrics';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request's logger: a child of the service's bound to the request id (`reqId`), made on first use (requestLogging). */
      log: Logger;
    }
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Accepts a caller's `X-Request-Id` when it is sane, otherwise mints one; opens the request context. */
export const requestContext: RequestHandler = (req, res, next) => {
  const incoming = req.headers['x-request-id'];
  const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  req.headers['x-request-id'] = requestId;
  res.setHeader('X-Request-Id', requestId);
  runWithContext({ requestId, clientIp: req.ip }, next);
};

/**
 * Query parameters whose values are harmless to log (paging, filters, the handshake's mode).
 * Every other value is logged as [Redacted]: query strings carry bearer capabilities — the
 * handshake's `hub.verify_token`, a media link's `sig` (24 hours of access) — and whatever else
 * a caller chose to put there.
 */
const LOGGED_QUERY_VALUES = new Set(['hub.mode', 'limit', 'status', 'after', 'mime', 'type']);
/** Parameters named in a logged URL at most. */
const LOGGED_QUERY_PARAMS = 20;

/**
 * A request URL as logs show it: the path (at most 200 characters), and the query's names with
 * only the values of LOGGED_QUERY_VALUES (64 characters each); at most 20 parameters.
 * `/webhook/meta?hub.mode=subscribe&hub.verify_token=s3cret` → `/webhook/meta?hub.mode=subscribe&hub.verify_token=[Redacted]`.
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  const path = excerpt(q < 0 ? url : url.slice(0, q), 200);
  if (q < 0) return path;
  const parts: string[] = [];
  // The whole query is parsed, but it is no longer than Node's header limit (16 KB) allows.
  for (const [name, value] of new URLSearchParams(url.slice(q + 1))) {
    if (parts.length === LOGGED_QUERY_PARAMS) {
      parts.push('…');
      break;
    }
    parts.push(`${excerpt(name, 32)}=${LOGGED_QUERY_VALUES.has(name) ? excerpt(value, 64) : '[Redacted]'}`);
  }
  return `${path}?${parts.join('&')}`;
}

/**
 * The request as every access log line shows it: the URL through loggableUrl (no `query` or
 * `params` objects, which would repeat what it redacts), each header value cut to 256
 * characters (secret headers are then blanked by the logger's REDACT_PATHS).
 */
function logRequest(req: IncomingMessage, id: string) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = excerpt(Array.isArray(value) ? value.join(', ') : value, 256);
  }
  return { id, method: req.method, url: loggableUrl(req.url ?? ''), headers, remoteAddress: req.socket?.remoteAddress, remotePort: req.socket?.remotePort };
}

/** Requests whose completion is never logged (probes). */
const UNLOGGED_PATHS = new Set(['/health', '/ready']);

/**
 * Request logging (what pino-http did, at a fraction of its cost per request): `req.log`, a child
 * of `logger` bound to the request id (`reqId`), made on first use only; and one line per finished
 * request, `request completed` at info (5xx, or an error the error handler left on `res.err`:
 * `request errored` at error), with the request (logRequest), `res.statusCode` and `responseTime`
 * (ms). Nothing is built for a line the logger's level drops: at LOG_LEVEL=warn a successful request
 * costs no child logger and no serialising. A request closed before its response finished (the
 * client went away) is logged at info as `request aborted`.
 */
function requestLogging(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const id = req.headers['x-request-id'] as string;
    let child: Logger | undefined;
    const log = () => (child ??= logger.child({ reqId: id }));
    Object.defineProperty(req, 'log', { configurable: true, enumerable: false, get: log });
    if (UNLOGGED_PATHS.has(req.url)) return next();
    const started = Date.now();
    const done = (aborted: boolean) => {
      res.off('finish', finished);
      res.off('close', closed);
      const err = (res as { err?: unknown }).err;
      const failed = !aborted && (err !== undefined || res.statusCode >= 500);
      const level = failed ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const line: Record<string, unknown> = { req: logRequest(req, id), res: { statusCode: res.statusCode }, responseTime: Date.now() - started };
      if (failed) line.err = err ?? new Error(`failed with status code ${res.statusCode}`);
      log()[level](line, aborted ? 'request aborted' : failed ? 'request errored' : 'request completed');
    };
    const finished = () => done(false);
    const closed = () => done(!res.writableFinished);
    res.on('finish', finished);
    res.on('close', closed);
    next();
  };
}

export interface Readiness {
  /**
   * Named checks; the service is ready unless one resolves false (reported `down`). A check of
   * something the service can do without (Redis) resolves 'degraded' instead: reported as such,
   * and the service stays ready.
   */
  [name: string]: () => Promise<boolean | 'degraded'>;
}

export interface ServiceAppOptions {
  name: string;
  logger: Logger;
  readiness: Readiness;
  /** Mounts the service's own routes between the standard ones and the error handlers. */
  routes: (app: Express) => void;
  /** Counts and times its requests by route template (ServiceMetrics.httpMiddleware). */
  metrics?: ServiceMetrics;
  /** The route label of a request no Express route answered (e.g. the gateway's proxies); default `unmatched`. */
  routeLabel?: (req: Request) => string | undefined;
}

/** Request id and request logging, as every app of a service starts. */
function baseApp(logger: Logger, metrics?: ServiceMetrics, routeLabel?: (req: Request) => string | undefined): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (metrics) app.use(metrics.httpMiddleware(routeLabel));
  app.use(requestContext);
  app.use(requestLogging(logger));
  return app;
}

/** Apps whose listener began closing (listen's close): their /ready answers 503 from then on. */
const drainingApps = new WeakSet<Express>();

/**
 * Marks `app` as shutting down: its `GET /ready` answers 503 `{status: 'not_ready', draining:
 * true}` from now on, so that load balancers stop sending it new requests while it finishes (and,
 * for SHUTDOWN_DELAY_MS, still serves) the ones they already sent. listen's close calls it first.
 */
export function markDraining(app: Express): void {
  drainingApps.add(app);
}

/**
 * Every service's Express app: request id, logging, /health, /ready (503 once shutdown began:
 * markDraining), its routes, 404, errors.
 */
export function createServiceApp(options: ServiceAppOptions): Express {
  const app = baseApp(options.logger, options.metrics, options.routeLabel);
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: options.name });
  });
  app.get('/ready', async (_req, res) => {
    if (drainingApps.has(app)) {
      res.status(503).json({ status: 'not_ready', service: options.name, draining: true, checks: {} });
      return;
    }
    const names = Object.keys(options.readiness);
    const results = await Promise.all(names.map((n) => options.readiness[n]().catch(() => false)));
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i] === 'degraded' ? 'degraded' : results[i] ? 'ok' : 'down']));
    const ready = results.every((r) => r !== false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', service: options.name, checks });
  });
  options.routes(app);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/**
 * The app of a service's internal listener (INTERNAL_PORT, never published): request id,
 * logging, the service-to-service routes `routes` mounts (each behind requireInternalCaller),
 * 404, errors. /health and /ready stay on the service's own app.
 */
export function createInternalApp(options: Pick<ServiceAppOptions, 'logger' | 'routes' | 'metrics'>): Express {
  const app = baseApp(options.logger, options.metrics);
  options.routes(app);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/**
 * Readiness checks for the usual dependencies: PostgreSQL is required; Redis only degrades the
 * service (every use of it has a fallback), so a Redis outage does not take every replica out of
 * a load balancer.
 */
export function standardReadiness(deps: { db: { ping(): Promise<boolean> }; cache?: Cache }): Readiness {
  const checks: Readiness = { postgres: () => deps.db.ping() };
  if (deps.cache?.kind === 'redis') checks.redis = async () => (await deps.cache!.ping()) || 'degraded';
  return checks;
}

/** The path (`a.b.0`) of the first string, value or key, in `value` that holds a NUL character; undefined: none. */
function nulPath(value: unknown, path: string[] = [], depth = 0): string[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000')) return [...path, key.replaceAll('\u0000', '\\u0000')];
    const found = nulPath(item, [...path, key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * JSON bodies with a bounded size; too large → 413, malformed → 400 (via the error handler). A
 * NUL character (U+0000) in any string or key is refused too (400 VALIDATION_ERROR naming the
 * field): PostgreSQL's text and jsonb cannot hold one, so it would otherwise fail as a 500 where
 * it is stored, after checks that passed.
 */
export function jsonBody(limit: string | number = '100kb'): RequestHandler {
  const parse = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      const path = nulPath(req.body);
      next(path ? badInput(path.length ? path.join('.') : 'body', 'must not contain a NUL character (U+0000)') : undefined);
    });
  };
}

/** Requires `Authorization: Bearer <expected>`, compared in constant time; otherwise 401 `code`. */
export function requireBearer(expected: string, code: ErrorCode): RequestHandler {
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !safeEqual(match[1].trim(), expected)) {
      next(appError(code, 'Missing or invalid bearer token'));
      return;
    }
    next();
  };
}

/** Service-to-service calls carry the caller's own internal token (INTERNAL_CALLERS) in `X-Internal-Token`. */
export const INTERNAL_TOKEN_HEADER = 'x-internal-token';

/** Which of `callers` sent the request, by the token it carries (constant-time); undefined for anyone else. */
export function internalCaller(req: Request, callers: CallerTokens): InternalCaller | undefined {
  const given = req.headers[INTERNAL_TOKEN_HEADER];
  if (typeof given !== 'string') return undefined;
  let found: InternalCaller | undefined;
  // Every token is compared, so the time taken does not say which caller came close.
  for (const [caller, tokens] of Object.entries(callers) as Array<[InternalCaller, readonly string[]]>) {
    for (const token of tokens) if (safeEqual(given, token)) found ??= caller;
  }
  return found;
}

/**
 * Admits a request only with the internal token of one of `callers` (otherwise 401
 * INVALID_INTERNAL_TOKEN, whoever else's token it carries); the caller is then in
 * `res.locals.internalCaller`.
 */
export function requireInternalCaller(callers: CallerTokens): RequestHandler {
  return (req, res, next) => {
    const caller = internalCaller(req, callers);
    if (!caller) {
      next(appError('INVALID_INTERNAL_TOKEN'));
      return;
    }
    res.locals.internalCaller = caller;
    next();
  };
}

export interface RunningService {
  server: Server;
  port: number;
  /** The internal listener's port, for a service with internal routes (see startService). */
  internalPort?: number;
  /** The metrics listener's port (METRICS_PORT: GET /metrics), for a service started by startService. */
  metricsPort?: number;
  /** How long `close` lets work in flight finish (SHUTDOWN_GRACE_MS), ms; runMain's exit deadline follows it. */
  shutdownGraceMs?: number;
  /** How long `close` keeps accepting, unready, before it stops (SHUTDOWN_DELAY_MS), ms; runMain's exit deadline adds it. */
  shutdownDelayMs?: number;
  /** Shuts down (once: later calls share the first's promise); `now` cuts a pending SHUTDOWN_DELAY_MS short. */
  close(options?: { now?: boolean }): Promise<void>;
}

/** How long `listen`'s close lets requests in flight finish by default, ms. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/**
 * Listens, and closes cleanly: stops accepting, lets in-flight requests finish for up to
 * `graceMs` (default DEFAULT_SHUTDOWN_GRACE_MS): idle kept-alive connections are closed at once, a busy
 * one when its response is done (answered with `Connection: close` when its headers were not
 * sent yet), and those still busy at the deadline are cut, then releases the service's
 * resources (`onClose`). Port 0 picks a free port (tests).
 *
 * Closing first marks the app draining (markDraining: its /ready answers 503), then, for
 * `drainDelayMs` (SHUTDOWN_DELAY_MS, default 0), keeps accepting and serving as before, so that a
 * load balancer probing /ready takes the replica out before its connections are refused.
 */
export function listen(
  app: Express,
  options: { port: number; host?: string; graceMs?: number; drainDelayMs?: number; onClose?: () => Promise<void> },
): Promise<RunningService> {
  return new Promise((resolve, reject) => {
    const server = app.listen(options.port, options.host ?? '0.0.0.0');
    // Requests Node's parser refuses (oversized headers, garbage) still get the contract's JSON.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      const code: ErrorCode =
        err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
      const { status } = ERROR_CODES[code];
      const body = errorBody(code, code === 'BAD_REQUEST' ? 'Malformed HTTP request' : undefined);
      const json = JSON.stringify(body);
      socket.end(`HTTP/1.1 ${status} ${body.error.message}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`);
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.requestTimeout = 30_000;
    // Responses under way, so that closing can tell their clients not to keep the connection.
    const open = new Set<ServerResponse>();
    let draining = false;
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (draining) {
        // A request on a kept-alive connection after closing began: answered, then the connection goes.
        if (!res.headersSent) res.setHeader('Connection', 'close');
      }
      open.add(res);
      res.once('close', () => {
        open.delete(res);
        // A connection whose response went out before closing began becomes idle here: close it.
        if (draining) setImmediate(() => server.closeIdleConnections());
      });
    });
    server.once('error', reject);
    server.once('listening', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      let closing: Promise<void> | undefined;
      let endDelay: (() => void) | undefined;
      const delayed = (ms: number) =>
        ms > 0
          ? new Promise<void>((done) => {
              const timer = setTimeout(done, ms);
              endDelay = () => {
                clearTimeout(timer);
                done();
              };
            })
          : Promise.resolve();
      const stopAccepting = () =>
        new Promise<void>((done) => {
          draining = true;
          server.close(() => done());
          server.closeIdleConnections();
          for (const res of open) if (!res.headersSent) res.setHeader('Connection', 'close');
          // Connections still busy after the grace period are cut rather than hold shutdown forever.
          setTimeout(() => server.closeAllConnections(), options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS).unref();
        }).then(() => options.onClose?.());
      resolve({
        server,
        port,
        close: (closeOptions) => {
          if (!closing) markDraining(app);
          const delayMs = options.drainDelayMs ?? 0;
          closing ??= delayMs > 0 ? delayed(delayMs).then(stopAccepting) : stopAccepting();
          if (closeOptions?.now) endDelay?.();
          return closing;
        },
      });
    });
  });
}

/**
 * Entry point of a service run with plain `node <service>/dist/server.js`: starts it, exits 1
 * with the reason when it cannot start (e.g. a bad variable), closes cleanly on SIGTERM/SIGINT
 * (see startService: within SHUTDOWN_GRACE_MS, then closing takes a few seconds more at most;
 * a close that hangs past both is cut by exiting 1).
 */
export function runMain(start: () => Promise<RunningService>): void {
  start()
    .then((service) => {
      const stop = () => {
        setTimeout(() => process.exit(1), (service.shutdownDelayMs ?? 0) + (service.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS) + 10_000).unref();
        service.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    })
    .catch((err: Error) => {
      process.stderr.write(`Failed to start: ${err.message}\n`);
      process.exit(1);
    });
}
