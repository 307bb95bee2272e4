import type { Express } from 'express';
import type { z } from 'zod';
import { RedisCache, createCache, type Cache } from './cache';
import { dbTimeouts, loadConfig, type BaseConfig } from './config';
import { Database } from './db';
import { listen, type RunningService } from './http';
import { createLogger, type Logger } from './logger';
import { ServiceMetrics, metricsApp, metricsPort } from './metrics';
import { setNotificationLogger } from './notifications';

/** How long start-up waits for Redis before serving without it, in ms. */
const REDIS_STARTUP_WAIT_MS = 2000;

export interface ServiceContext<C> {
  config: C;
  logger: Logger;
  db: Database;
  cache: Cache;
  /** The service's metrics registry (its pool already watched); domain metrics register here. */
  metrics: ServiceMetrics;
}

export interface ServiceDefinition<S extends z.ZodType<BaseConfig & { PORT: number; INTERNAL_PORT?: number; METRICS_PORT?: number }>> {
  name: string;
  configSchema: S;
  /**
   * The composition root (a service's server.ts): builds the service's collaborators from the
   * config and hands them to its `create<Service>(deps)`, whose `{ app, close }` it returns.
   */
  createApp: (ctx: ServiceContext<z.infer<S>>) => Built | Promise<Built>;
}

/**
 * A built service: its app, its internal app when it has service-to-service routes (served on
 * INTERNAL_PORT, see createInternalApp), and `close`, which releases whatever the service opened
 * (agents, clients, subscriptions, timers, workers). It runs on shutdown, before the db and cache go.
 */
export interface Built {
  app: Express;
  internalApp?: Express;
  /**
   * Stops taking new work of the service's own (claims, subscriptions) and ends or hands back
   * what is in flight within `graceMs` (SHUTDOWN_GRACE_MS). Runs on shutdown at the same time as
   * the listeners stop accepting and finish their requests in flight, before `close`.
   */
  drain?: (graceMs: number) => Promise<void>;
  close: () => Promise<void>;
}

/**
 * Starts a service the same way everywhere (plain `node`, `npm start`, Docker, tests): parse
 * the environment, connect to PostgreSQL as the unprivileged application role (refusing a
 * privileged one), open the cache, build the app, listen on PORT, and the internal app, if any,
 * on INTERNAL_PORT.
 *
 * `close` (runMain calls it on SIGTERM) is the graceful shutdown of a replica: `GET /ready` answers
 * 503 at once (load balancers stop sending it requests), both listeners go on serving for
 * SHUTDOWN_DELAY_MS (default 0), then stop accepting and let requests in flight finish, while the service's `drain` stops its own work
 * (the connector: no new claims; deliveries in flight finish, or their leases are handed back to
 * another replica), both within SHUTDOWN_GRACE_MS; then `close` releases what the service opened,
 * and the PostgreSQL pool and the cache are closed last.
 */
export async function startService<S extends z.ZodType<BaseConfig & { PORT: number; INTERNAL_PORT?: number; METRICS_PORT?: number }>>(
  definition: ServiceDefinition<S>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService> {
  const config = loadConfig(definition.configSchema, env);
  const logger = createLogger({ name: definition.name, level: config.LOG_LEVEL });
  // Notifications raised in this process are logged with it (several services in one process: the last one's).
  setNotificationLogger(logger);
  const db = new Database({ connectionString: config.DATABASE_URL, applicationName: definition.name, timeouts: dbTimeouts(config), namedStatements: config.DB_NAMED_STATEMENTS });
  try {
    await db.assertUnprivilegedRole();
  } catch (err) {
    await db.close();
    throw err;
  }
  const cache = createCache(config.REDIS_URL);
  // Redis is not needed to serve (see RedisCache), but when it is there, use it from the first request.
  if (cache instanceof RedisCache && !(await cache.whenReady(REDIS_STARTUP_WAIT_MS))) {
    logger.warn('Redis unavailable at start: serving without it (caches from PostgreSQL, counters in this process) until it connects');
  }
  const release = async () => {
    await Promise.allSettled([db.close(), cache.close()]);
  };
  const metrics = new ServiceMetrics(definition.name);
  metrics.watchPool('main', () => db.pool);
  let built: Built;
  try {
    built = await definition.createApp({ config, logger, db, cache, metrics });
  } catch (err) {
    await release();
    throw err;
  }
  const { app, internalApp, drain, close } = built;
  const graceMs = config.SHUTDOWN_GRACE_MS;
  const drainDelayMs = config.SHUTDOWN_DELAY_MS;
  const listeners: RunningService[] = [];
  const shutdown = async () => {
    logger.info({ graceMs }, `${definition.name} shutting down`);
    await Promise.all([
      ...listeners.map((l) => l.close()),
      drain?.(graceMs).catch((err: unknown) => logger.error({ err }, 'error while draining')),
    ]);
    await close().catch((err: unknown) => logger.error({ err }, 'error while closing'));
    await release();
  };
  try {
    if (internalApp) {
      if (config.INTERNAL_PORT === undefined) throw new Error(`${definition.name} has internal routes but its config has no INTERNAL_PORT`);
      listeners.push(await listen(internalApp, { port: config.INTERNAL_PORT, host: config.HOST, graceMs, drainDelayMs }));
    }
    listeners.unshift(await listen(app, { port: config.PORT, host: config.HOST, graceMs, drainDelayMs }));
    // Last, so that it is never up for a service that failed to start.
    listeners.push(await listen(metricsApp(metrics), { port: metricsPort(config), host: config.HOST, graceMs }));
  } catch (err) {
    await shutdown();
    throw err;
  }
  const main = listeners[0];
  const internal = internalApp ? listeners[1] : undefined;
  const metricsListener = listeners[listeners.length - 1];
  let closing: Promise<void> | undefined;
  logger.info({ port: main.port, internalPort: internal?.port, metricsPort: metricsListener.port }, `${definition.name} listening`);
  return {
    server: main.server,
    port: main.port,
    internalPort: internal?.port,
    metricsPort: metricsListener.port,
    shutdownGraceMs: graceMs,
    shutdownDelayMs: drainDelayMs,
    close: (options) => {
      closing ??= shutdown();
      if (options?.now) for (const l of listeners) void l.close({ now: true });
      return closing;
    },
  };
}
