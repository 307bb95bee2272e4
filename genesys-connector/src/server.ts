import { deriveMediaSigningSecret, requireSecret, runMain, startService } from '@bridge/shared';
import { createGenesysConnector } from './app';
import { configSchema } from './config';

/** Builds genesys-connector from the environment, starts its delivery worker and listens (3004). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'genesys-connector',
      configSchema,
      createApp: async ({ config, logger, db, cache }) => {
        const internalToken = requireSecret(config, 'INTERNAL_SERVICE_TOKEN');
        const connector = createGenesysConnector({
          db,
          cache,
          logger,
          config,
          internalToken,
          mediaSigningSecret: deriveMediaSigningSecret(config.MEDIA_SIGNING_SECRET, internalToken),
        });
        await connector.start();
        return connector;
      },
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
