import type { Express } from 'express';
import {
  createServiceApp,
  standardReadiness,
  type Cache,
  type CredentialsClient,
  type Database,
  type Logger,
  type OutboxNotifier,
  type SecurityEvents,
  type TenantDirectory,
  type ServiceMetrics,
} from '@bridge/shared';
import { createProvisioner } from './ingest/provision';
import { HeldChangesReplayer } from './ingest/held';
import { createMediaRouter } from './media';
import { WebhookMetrics } from './metrics';
import { webhookRoutes } from './routes';
import type { WebhookTenants } from './tenants';

/** What webhook-service is built from (server.ts builds them). Its `close` closes the ones it is given that hold resources. */
export interface WebhookServiceDeps {
  /** The service's metrics registry (startService's): its HTTP requests are counted and timed by route. */
  metrics?: ServiceMetrics;
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
  /** META_PLATFORM_APP_SECRET, if set (see IngestDeps.platformAppSecret). */
  platformAppSecret?: string;
  /** TYPING_INDICATOR_INTERVAL_MS (see IngestDeps.typingIntervalMs). */
  typingIntervalMs?: number;
  /** How often held Meta changes are checked for a claimant (HeldChangesReplayer); default 30,000 ms. */
  heldSweepMs?: number;
  /** Bad signatures are recorded here (security events, counted per tenant per window); closed with the app. */
  securityEvents?: SecurityEvents;
  /** AUTO_PROVISION: with the directory to tell of the tenants it creates (ingest/provision.ts); unset: off. */
  autoProvision?: { directory: TenantDirectory };
}

/**
 * webhook-service: verifies, stores and acknowledges Meta's and Genesys's webhooks, and serves
 * the signed media links; replays held Meta changes into the tenants that claim them
 * (HeldChangesReplayer, started here). `close()` releases the notifier's timer, the media
 * client's connections, the replayer and the tenant-event subscriptions.
 */
export function createWebhookService(deps: WebhookServiceDeps): { app: Express; close(): Promise<void> } {
  const media = createMediaRouter({
    secret: deps.mediaSigningSecret,
    graphUrl: deps.graphUrl,
    getMetaCredentials: (tenantId) => deps.credentials.meta(tenantId),
    tenantStatus: (tenantId) => deps.tenants.standing(tenantId),
    downloadHosts: deps.mediaDownloadHosts,
  });
  const ingest = {
    ...deps,
    provision: deps.autoProvision && createProvisioner({ db: deps.db, cache: deps.cache, logger: deps.logger, directory: deps.autoProvision.directory }),
  };
  const replayer = new HeldChangesReplayer({ ingest, cache: deps.cache, logger: deps.logger, sweepMs: deps.heldSweepMs });
  const started = replayer.start().catch((err: unknown) => deps.logger.error({ err }, 'held-change replays not started; sweeps only at the next start'));
  const app = createServiceApp({
    name: 'webhook-service',
    metrics: deps.metrics,
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (a) => {
      a.use(webhookRoutes(ingest, deps.metrics && new WebhookMetrics(deps.metrics.registry)));
      a.use(media.router);
    },
  });
  return {
    app,
    close: async () => {
      deps.notifier.close();
      media.close();
      await started;
      await replayer.close();
      await Promise.allSettled([deps.tenants.close(), deps.credentials.close(), deps.securityEvents?.close?.()]);
    },
  };
}
