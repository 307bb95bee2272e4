import type { Express } from 'express';
import type { z } from 'zod';
import { createCache, type Cache } from './cache';
import { loadConfig, type BaseConfig } from './config';
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
   * The composition root: builds the app from its dependencies. A service that starts more than
   * the app (workers, timers, subscriptions) returns `{ app, close }`, and `close` runs on shutdown
   * before the db and cache are released.
   */
  createApp: (ctx: ServiceContext<z.infer<S>>) => Built | Promise<Built>;
}

export type Built = Express | { app: Express; close: () => Promise<void> };

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
  const db = new Database({ connectionString: config.DATABASE_URL, applicationName: definition.name });
  try {
    await db.assertUnprivilegedRole();
  } catch (err) {
    await db.close();
    throw err;
  }
  const cache = createCache(config.REDIS_URL);
  const built = await definition.createApp({ config, logger, db, cache });
  const { app, close } = typeof built === 'function' ? { app: built, close: undefined } : built;
  const running = await listen(app, {
    port: config.PORT,
    host: config.HOST,
    onClose: async () => {
      await close?.().catch((err: unknown) => logger.error({ err }, 'error while closing'));
      await Promise.allSettled([db.close(), cache.close()]);
    },
  });
  logger.info({ port: running.port }, `${definition.name} listening`);
  return running;
}
