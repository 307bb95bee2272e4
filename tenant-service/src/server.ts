import { CredentialCipher, requireCredentialKeys, requireSecret, runMain, startService } from '@bridge/shared';
import { createTenantService } from './app';
import { configSchema } from './config';

/** Builds tenant-service from the environment and listens on its port (3007). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'tenant-service',
      configSchema,
      createApp: ({ config, logger, db, cache }) =>
        createTenantService({
          db,
          cache,
          logger,
          cipher: new CredentialCipher(requireCredentialKeys(config)),
          adminApiKey: requireSecret(config, 'ADMIN_API_KEY'),
          internalToken: requireSecret(config, 'INTERNAL_SERVICE_TOKEN'),
          purge: { batchSize: config.TENANT_PURGE_BATCH_SIZE, pauseMs: config.TENANT_PURGE_PAUSE_MS },
        }),
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
