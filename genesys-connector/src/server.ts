import {
  CredentialsClient,
  OutboxNotifier,
  createOutbox,
  internalTokens,
  mediaSigningSecret,
  runMain,
  signMediaUrl,
  startService,
  watchQueue,
  type ServiceContext,
} from '@bridge/shared';
import { createGenesysConnector, type GenesysConnectorDeps } from './app';
import { configSchema, type ConnectorConfig } from './config';
import { createDeliveries } from './deliveries';
import { GenesysClient } from './genesys-client';
import { GenesysTokenClient } from './genesys-token-client';
import { MetaClient } from './meta-client';
import { createSignalDelivery } from './signals';
import { DeliveryMetrics, watchBreakers } from './metrics';
import { NotificationWebhookClient, createNotificationDelivery } from './notifications';
import { DeliveryWorker } from './worker';

/** Builds genesys-connector from the environment, starts its delivery worker and listens (3004; its queue view on INTERNAL_PORT, 4004). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'genesys-connector',
      configSchema,
      createApp: async (ctx) => {
        const deps = buildDeps(ctx);
        const connector = createGenesysConnector(deps);
        try {
          await deps.credentials.start();
          await deps.worker.start();
        } catch (err) {
          await connector.close();
          throw err;
        }
        return connector;
      },
    },
    env,
  );
}

/** The composition root: every collaborator, built once from the config. */
function buildDeps({ config, logger, db, cache, metrics }: ServiceContext<ConnectorConfig>): GenesysConnectorDeps {
  const ownTokens = internalTokens(config, 'genesys-connector');
  const mediaKey = mediaSigningSecret(config);
  const credentials = new CredentialsClient({ tenantServiceUrl: config.TENANT_SERVICE_INTERNAL_URL, internalToken: ownTokens[0], cache });
  const tokens = new GenesysTokenClient({ authServiceUrl: config.AUTH_SERVICE_INTERNAL_URL, internalToken: ownTokens[0], timeoutMs: config.HTTP_TIMEOUT_MS });
  const genesys = new GenesysClient({
    credentials,
    tokens,
    apiUrlTemplate: config.GENESYS_API_URL,
    timeoutMs: config.HTTP_TIMEOUT_MS,
    breakerResetMs: config.BREAKER_RESET_MS,
  });
  const meta = new MetaClient({ graphUrl: config.META_GRAPH_URL, timeoutMs: config.HTTP_TIMEOUT_MS, pairIntervalMs: config.META_PAIR_INTERVAL_MS });
  const outbox = createOutbox(db);
  const notifier = new OutboxNotifier(db);
  const notificationWebhooks = new NotificationWebhookClient({ tenantServiceUrl: config.TENANT_SERVICE_INTERNAL_URL, internalToken: ownTokens[0] });
  const notifications = createNotificationDelivery({ db, outbox, webhooks: notificationWebhooks, logger, timeoutMs: config.HTTP_TIMEOUT_MS });
  const deliveries = createDeliveries({
    db,
    outbox,
    notifier,
    genesys,
    meta,
    credentials,
    mediaUrl: (tenantId, media) => signMediaUrl({ publicBaseUrl: config.PUBLIC_BASE_URL, secret: mediaKey, tenantId, ...media }),
    signals: createSignalDelivery({ db, outbox, meta, credentials, logger }),
    notifications: notifications.deliver,
  });
  metrics.watchCache('credentials', () => credentials.cacheCounts);
  metrics.watchCache('genesys-token', () => tokens.cacheCounts);
  watchBreakers(metrics.registry, genesys);
  watchQueue(metrics, db, { refreshMs: config.METRICS_QUEUE_REFRESH_MS, topTenants: config.METRICS_TOP_TENANTS });
  const worker = new DeliveryWorker({
    metrics: new DeliveryMetrics(metrics.registry, { topTenants: config.METRICS_TOP_TENANTS }),
    outbox,
    deliveries,
    logger,
    // LISTEN holds its session: through a transaction-mode pooler it must bypass the pooler.
    listenUrl: config.DATABASE_DIRECT_URL ?? config.DATABASE_URL,
    concurrency: config.DELIVERY_CONCURRENCY,
    tenantConcurrency: config.DELIVERY_TENANT_CONCURRENCY,
    leaseMs: config.DELIVERY_LEASE_MS,
    pollMs: config.DELIVERY_POLL_MS,
    // A refused credential's copy goes, so that the first attempt after its replacement reads the new one.
    onCredentialRefused: (tenantId) => credentials.invalidate(tenantId),
    retry: { baseMs: config.DELIVERY_RETRY_BASE_MS, maxMs: config.DELIVERY_RETRY_MAX_MS, budgetMs: config.DELIVERY_RETRY_BUDGET_MS },
  });
  return {
    db,
    cache,
    logger,
    metrics,
    internalCallers: { 'genesys-connector': ownTokens },
    outbox,
    worker,
    credentials,
    tokens,
    genesys,
    meta,
    notifier,
    closers: [notifications, notificationWebhooks],
  };
}

if (require.main === module) runMain(() => start());
