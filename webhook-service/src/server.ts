import { CredentialsClient, OutboxNotifier, TenantDirectory, deriveMediaSigningSecret, requireSecret, runMain, startService } from '@bridge/shared';
import { createWebhookService } from './app';
import { configSchema } from './config';
import { WebhookTenants } from './tenants';

/** Builds webhook-service from the environment and listens on its port (3001). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'webhook-service',
      configSchema,
      createApp: async ({ config, logger, db, cache }) => {
        const internalToken = requireSecret(config, 'INTERNAL_SERVICE_TOKEN');
        const mediaSigningSecret = deriveMediaSigningSecret(config.MEDIA_SIGNING_SECRET, internalToken);
        const credentials = new CredentialsClient({ tenantServiceUrl: config.TENANT_SERVICE_URL, internalToken, cache });
        const tenants = new WebhookTenants({ db, cache, credentials, directory: new TenantDirectory(db, cache) });
        await Promise.all([credentials.start(), tenants.start()]);
        return createWebhookService({
          db,
          cache,
          logger,
          credentials,
          tenants,
          notifier: new OutboxNotifier(db),
          graphUrl: config.META_GRAPH_URL,
          mediaSigningSecret,
          mediaDownloadHosts: config.MEDIA_DOWNLOAD_HOSTS,
        });
      },
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
