import type { Express } from 'express';
import type { z } from 'zod';
import { createCache, type Cache } from './cache';
import { dbTimeouts, loadConfig, type BaseConfig } from './config';
import { Database } from './db';
import { listen, type RunningService } from './http';
import { createLogger, type Logger } from './logger';

export interface ServiceContext<C> {
  config: C;
  logger: Logger;
  db: Database;
  cache: Cache;
}

export interface ServiceDefinition<S extends z.ZodType<BaseConfig & { PORT: number }>> {
  name: string;
  configSchema: S;
  /**
   * The composition root (a service's server.ts): builds the service's collaborators from the
   * config and hands them to its `create<Service>(deps)`, whose `{ app, close }` it returns.
   */
  createApp: (ctx: ServiceContext<z.infer<S>>) => Built | Promise<Built>;
}

/**
 * A built service: its app, and `close`, which releases whatever the service opened (agents,
 * clients, subscriptions, timers, workers). It runs on shutdown, before the db and cache go.
 */
export interface Built {
  app: Express;
  close: () => Promise<void>;
}

/**
 * Starts a service the same way everywhere (plain `node`, `npm start`, Docker, tests): parse
 * the environment, connect to PostgreSQL as the unprivileged application role (refusing a
 * privileged one), open the cache, build the app, listen; on close, release it all.
 */
export async function startService<S extends z.ZodType<BaseConfig & { PORT: number }>>(
  definition: ServiceDefinition<S>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService> {
  const config = loadConfig(definition.configSchema, env);
  const logger = createLogger({ name: definition.name, level: config.LOG_LEVEL });
  const db = new Database({ connectionString: config.DATABASE_URL, applicationName: definition.name, timeouts: dbTimeouts(config) });
  try {
    await db.assertUnprivilegedRole();
  } catch (err) {
    await db.close();
    throw err;
  }
  const cache = createCache(config.REDIS_URL);
  const { app, close } = await definition.createApp({ config, logger, db, cache });
  const running = await listen(app, {
    port: config.PORT,
    host: config.HOST,
    onClose: async () => {
      await close().catch((err: unknown) => logger.error({ err }, 'error while closing'));
      await Promise.allSettled([db.close(), cache.close()]);
    },
  });
  logger.info({ port: running.port }, `${definition.name} listening`);
  return running;
}
