import express, { type Express, type Request, type RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { errorHandler, notFoundHandler } from './errors';

/**
 * Prometheus metrics (prom-client), one registry per service. Every family the services export is
 * born in one of: this file (HTTP, PostgreSQL pool, caches, process), `shared/src/outbox/metrics.ts`
 * (the queue), `webhook-service/src/metrics.ts` (webhooks), `genesys-connector/src/metrics.ts`
 * (deliveries, breakers). They are served by `metricsApp` on the service's METRICS_PORT, a
 * listener of its own that is never published (README: "Metrics").
 *
 * A registry per service, not prom-client's global one: `npm start` and the tests run the six
 * services in one process, and each must still export only its own figures.
 */

/** The route label of a request no route matched (404s, scanners): one value, whatever the path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Latency buckets of `http_request_duration_seconds`, in seconds. 0.25 is one: Meta asks webhook
 * endpoints to answer within 250 ms (the p99 alert in deploy/prometheus/alerts.yml).
 */
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What a cache counts: lookups answered from it (`hits`) and those that had to go further (`misses`). */
export interface CacheCounts {
  hits: number;
  misses: number;
}

/** A PostgreSQL pool's clients: open, idle, and callers waiting for one (node-postgres's Pool counts). */
export interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * A service's metrics: its registry (default label `service`), process metrics, the HTTP
 * middleware, and collect-time readers of counts kept elsewhere (pools, caches), so that hot
 * paths only bump a number and nothing holds a registry but the composition root.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route' | 'status'>;
  private readonly pools = new Map<string, () => PoolCounts>();
  private readonly caches = new Map<string, () => CacheCounts>();

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    for (const metric of processMetrics()) this.registry.registerMetric(metric);
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template (req.route; "unmatched" when none) and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from a request arriving to its response finishing, seconds, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    const pools = this.pools;
    new Gauge({
      name: 'bridge_pg_pool_clients',
      help: 'PostgreSQL pool clients: total (open), idle, waiting (callers queued for a client)',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [pool, read] of pools) {
          const c = read();
          this.set({ pool, state: 'total' }, c.totalCount);
          this.set({ pool, state: 'idle' }, c.idleCount);
          this.set({ pool, state: 'waiting' }, c.waitingCount);
        }
      },
    });
    const caches = this.caches;
    new Counter({
      name: 'bridge_cache_lookups_total',
      help: 'Cache lookups by cache and result (hit: answered from the cache; miss: fetched from its source)',
      labelNames: ['cache', 'result'],
      registers,
      collect() {
        this.reset();
        for (const [cache, read] of caches) {
          const c = read();
          this.inc({ cache, result: 'hit' }, c.hits);
          this.inc({ cache, result: 'miss' }, c.misses);
        }
      },
    });
  }

  /** Reports a pool's counts at each scrape as `bridge_pg_pool_clients{pool=name}`. */
  watchPool(name: string, read: () => PoolCounts): void {
    this.pools.set(name, read);
  }

  /** Reports a cache's hit and miss counts (monotonic, since start) at each scrape as `bridge_cache_lookups_total{cache=name}`. */
  watchCache(name: string, read: () => CacheCounts): void {
    this.caches.set(name, read);
  }

  /**
   * Counts and times every request by its route template, never its raw path, so that the
   * number of series stays bounded whatever clients send: `req.baseUrl + req.route.path` when a
   * route answered; otherwise `routeLabel(req)` (a service that answers without Express routes,
   * the gateway's proxies), otherwise UNMATCHED_ROUTE. Mounted first by createServiceApp.
   */
  httpMiddleware(routeLabel?: (req: Request) => string | undefined): RequestHandler {
    return (req, res, next) => {
      const end = this.duration.startTimer();
      const matched = watchRoute(req);
      res.once('finish', () => {
        const labels = { method: boundedMethod(req.method), route: matched() ?? routeLabel?.(req) ?? UNMATCHED_ROUTE, status: String(res.statusCode) };
        end(labels);
        this.requests.inc(labels);
      });
      next();
    };
  }
}

let processRegistry: Registry | undefined;

/**
 * prom-client's default metrics (CPU, memory, event loop lag, GC, handles), collected once per
 * process and shared by every service's registry (each adds its own `service` label when it is
 * scraped): what they measure is the process, and each collection starts monitors (the event
 * loop's, a GC observer) that are never stopped, so a process that starts services again and
 * again (npm start, the tests) must not start them again and again.
 */
function processMetrics() {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  const registry = processRegistry;
  return registry.getMetricsAsArray().map((m) => registry.getSingleMetric(m.name)!);
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const boundedMethod = (method: string) => (METHODS.has(method) ? method : 'OTHER');

/**
 * The template of the last route Express matched for `req`: `req.baseUrl + req.route.path`, taken
 * when the router sets `req.route` — by the time the response finishes, a router that passed an
 * error on has restored `baseUrl` to its parent's. Routers here are mounted on fixed prefixes
 * (`/state`, `/internal`), so `baseUrl` is a template too.
 */
function watchRoute(req: Request): () => string | undefined {
  let route: unknown = req.route;
  let matched: string | undefined;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: { path?: unknown } | undefined) => {
      route = value;
      if (typeof value?.path === 'string') matched = `${req.baseUrl}${value.path}` || '/';
    },
  });
  return () => matched;
}

/**
 * The metrics listener's app (METRICS_PORT): `GET /metrics` in Prometheus's text format, 404
 * JSON for anything else. No authentication of its own: the port is never published, and on
 * Kubernetes a NetworkPolicy lets only the Prometheus scraper reach it (README: "Metrics").
 */
export function metricsApp(metrics: ServiceMetrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/**
 * The port the metrics listener takes: METRICS_PORT, or by default the service's PORT + 6400
 * (3000 → 9400, ..., 3007 → 9407); any free port (0) when PORT is 0 (tests), or when PORT + 6400
 * is no port (above 65535; `npm start` prints where it went).
 */
export function metricsPort(config: { PORT: number; METRICS_PORT?: number }): number {
  if (config.METRICS_PORT !== undefined) return config.METRICS_PORT;
  const port = config.PORT + METRICS_PORT_OFFSET;
  return config.PORT === 0 || port > 65_535 ? 0 : port;
}

/** METRICS_PORT's default is PORT + this. */
export const METRICS_PORT_OFFSET = 6400;
