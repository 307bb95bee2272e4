import { CredentialsClient, OutboxNotifier, SecurityEventRecorder, TenantDirectory, internalTokens, mediaSigningSecret, runMain, startService } from '@bridge/shared';
import { createWebhookService } from './app';
import { configSchema } from './config';
import { WebhookTenants } from './tenants';

/** Builds webhook-service from the environment and listens on its port (3001). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'webhook-service',
      configSchema,
      createApp: async ({ config, logger, db, cache, metrics }) => {
        const [internalToken] = internalTokens(config, 'webhook-service');
        const credentials = new CredentialsClient({ tenantServiceUrl: config.TENANT_SERVICE_INTERNAL_URL, internalToken, cache });
        const directory = new TenantDirectory(db, cache);
        const tenants = new WebhookTenants({ db, cache, credentials, directory });
        metrics.watchCache('credentials', () => credentials.cacheCounts);
        metrics.watchCache('tenant-directory', () => directory.cacheCounts);
        await Promise.all([credentials.start(), tenants.start()]);
        return createWebhookService({
          metrics,
          db,
          cache,
          logger,
          credentials,
          tenants,
          notifier: new OutboxNotifier(db),
          graphUrl: config.META_GRAPH_URL,
          mediaSigningSecret: mediaSigningSecret(config),
          mediaDownloadHosts: config.MEDIA_DOWNLOAD_HOSTS,
          platformAppSecret: config.META_PLATFORM_APP_SECRET,
          typingIntervalMs: config.TYPING_INDICATOR_INTERVAL_MS,
          securityEvents: new SecurityEventRecorder({ db, cache, logger, windowSeconds: config.SECURITY_EVENT_WINDOW_SECONDS }),
          autoProvision: config.AUTO_PROVISION ? { directory } : undefined,
        });
      },
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
