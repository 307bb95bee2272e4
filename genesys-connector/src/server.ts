import {
  CredentialsClient,
  OutboxNotifier,
  createOutbox,
  deriveMediaSigningSecret,
  requireSecret,
  runMain,
  signMediaUrl,
  startService,
  type ServiceContext,
} from '@bridge/shared';
import { createGenesysConnector, type GenesysConnectorDeps } from './app';
import { configSchema, type ConnectorConfig } from './config';
import { createDeliveries } from './deliveries';
import { GenesysClient } from './genesys-client';
import { GenesysTokenClient } from './genesys-token-client';
import { MetaClient } from './meta-client';
import { DeliveryWorker } from './worker';

/** Builds genesys-connector from the environment, starts its delivery worker and listens (3004). */
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
function buildDeps({ config, logger, db, cache }: ServiceContext<ConnectorConfig>): GenesysConnectorDeps {
  const internalToken = requireSecret(config, 'INTERNAL_SERVICE_TOKEN');
  const mediaSigningSecret = deriveMediaSigningSecret(config.MEDIA_SIGNING_SECRET, internalToken);
  const credentials = new CredentialsClient({ tenantServiceUrl: config.TENANT_SERVICE_URL, internalToken, cache });
  const tokens = new GenesysTokenClient({ authServiceUrl: config.AUTH_SERVICE_URL, internalToken, timeoutMs: config.HTTP_TIMEOUT_MS });
  const genesys = new GenesysClient({
    credentials,
    tokens,
    apiUrlTemplate: config.GENESYS_API_URL,
    timeoutMs: config.HTTP_TIMEOUT_MS,
    breakerResetMs: config.BREAKER_RESET_MS,
  });
  const meta = new MetaClient({ graphUrl: config.META_GRAPH_URL, timeoutMs: config.HTTP_TIMEOUT_MS });
  const outbox = createOutbox(db);
  const notifier = new OutboxNotifier(db);
  const deliveries = createDeliveries({
    db,
    outbox,
    notifier,
    genesys,
    meta,
    credentials,
    mediaUrl: (tenantId, media) => signMediaUrl({ publicBaseUrl: config.PUBLIC_BASE_URL, secret: mediaSigningSecret, tenantId, ...media }),
  });
  const worker = new DeliveryWorker({
    outbox,
    deliveries,
    logger,
    listenUrl: config.DATABASE_URL,
    concurrency: config.DELIVERY_CONCURRENCY,
    tenantConcurrency: config.DELIVERY_TENANT_CONCURRENCY,
    leaseMs: config.DELIVERY_LEASE_MS,
    pollMs: config.DELIVERY_POLL_MS,
    retry: { baseMs: config.DELIVERY_RETRY_BASE_MS, maxMs: config.DELIVERY_RETRY_MAX_MS, budgetMs: config.DELIVERY_RETRY_BUDGET_MS },
  });
  return { db, cache, logger, internalToken, outbox, worker, credentials, tokens, genesys, meta, notifier };
}

if (require.main === module) runMain(() => start());
