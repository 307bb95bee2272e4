import { CredentialCipher, Database, createCache, createLogger, listen, loadConfig, requireSecret, runMain, type RunningService } from '@bridge/shared';
import { createTenantService } from './app';
import { configSchema } from './config';

/** Builds the service from the environment and listens on its port. */
export async function start(env: NodeJS.ProcessEnv = process.env): Promise<RunningService> {
  const config = loadConfig(configSchema, env);
  const logger = createLogger({ name: 'tenant-service', level: config.LOG_LEVEL });
  const db = new Database({ connectionString: config.DATABASE_URL, applicationName: 'tenant-service' });
  await db.assertUnprivilegedRole();
  const cache = createCache(config.REDIS_URL);
  const app = createTenantService({
    db,
    cache,
    logger,
    cipher: new CredentialCipher(requireSecret(config, 'CREDENTIALS_ENCRYPTION_KEY')),
    adminApiKey: requireSecret(config, 'ADMIN_API_KEY'),
    internalToken: requireSecret(config, 'INTERNAL_SERVICE_TOKEN'),
  });
  const running = await listen(app, {
    port: config.PORT,
    host: config.HOST,
    onClose: async () => {
      await Promise.allSettled([db.close(), cache.close()]);
    },
  });
  logger.info({ port: running.port }, 'tenant-service listening');
  return running;
}

if (require.main === module) {
  runMain(start);
}
