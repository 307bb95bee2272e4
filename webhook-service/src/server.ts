import { deriveMediaSigningSecret, requireSecret, runMain, startService } from '@bridge/shared';
import { createWebhookService } from './app';
import { configSchema } from './config';

/** Builds webhook-service from the environment and listens on its port (3001). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'webhook-service',
      configSchema,
      createApp: async ({ config, logger, db, cache }) => {
        const internalToken = requireSecret(config, 'INTERNAL_SERVICE_TOKEN');
        const service = createWebhookService({
          db,
          cache,
          logger,
          tenantServiceUrl: config.TENANT_SERVICE_URL,
          internalToken,
          graphUrl: config.META_GRAPH_URL,
          mediaSigningSecret: deriveMediaSigningSecret(config.MEDIA_SIGNING_SECRET, internalToken),
          mediaDownloadHosts: config.MEDIA_DOWNLOAD_HOSTS,
        });
        await service.ready;
        return service;
      },
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
