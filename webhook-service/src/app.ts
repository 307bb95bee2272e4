import type { Express } from 'express';
import { createServiceApp, standardReadiness, type Cache, type CredentialsClient, type Database, type Logger, type OutboxNotifier } from '@bridge/shared';
import { createMediaRouter } from './media';
import { webhookRoutes } from './routes';
import type { WebhookTenants } from './tenants';

/** What webhook-service is built from (server.ts builds them). Its `close` closes the ones it is given that hold resources. */
export interface WebhookServiceDeps {
  db: Database;
  cache: Cache;
  logger: Logger;
  /** Started (subscribed to tenant events). */
  credentials: CredentialsClient;
  /** Started (subscribed to tenant events); reads credentials through `credentials`. */
  tenants: WebhookTenants;
  notifier: OutboxNotifier;
  /** Graph API base with version (META_GRAPH_URL), for media. */
  graphUrl: string;
  /** Key for the media links handed to Genesys (see media.ts). */
  mediaSigningSecret: string;
  /** Where Meta's media download URLs may point (MEDIA_DOWNLOAD_HOSTS, parsed). */
  mediaDownloadHosts: readonly string[];
}

/**
 * webhook-service: verifies, stores and acknowledges Meta's and Genesys's webhooks, and serves
 * the signed media links. `close()` releases the notifier's timer, the media client's
 * connections and the tenant-event subscriptions.
 */
export function createWebhookService(deps: WebhookServiceDeps): { app: Express; close(): Promise<void> } {
  const media = createMediaRouter({
    secret: deps.mediaSigningSecret,
    graphUrl: deps.graphUrl,
    getMetaCredentials: (tenantId) => deps.credentials.meta(tenantId),
    tenantStatus: (tenantId) => deps.tenants.status(tenantId),
    downloadHosts: deps.mediaDownloadHosts,
  });
  const app = createServiceApp({
    name: 'webhook-service',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (a) => {
      a.use(webhookRoutes(deps));
      a.use(media.router);
    },
  });
  return {
    app,
    close: async () => {
      deps.notifier.close();
      media.close();
      await Promise.allSettled([deps.tenants.close(), deps.credentials.close()]);
    },
  };
}
