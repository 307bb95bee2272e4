import {
  CredentialsClient,
  createServiceApp,
  requireInternalToken,
  signMediaUrl,
  standardReadiness,
  type Cache,
  type Database,
  type Logger,
} from '@bridge/shared';
import type { ConnectorConfig } from './config';
import { createDeliveries } from './deliveries';
import { GenesysClient } from './genesys-client';
import { GenesysTokenClient } from './genesys-token-client';
import { MetaClient } from './meta-client';
import { OutboxRepository } from './outbox';
import { DeliveryWorker } from './worker';

export interface Deps {
  db: Database;
  cache: Cache;
  logger: Logger;
  config: ConnectorConfig;
  internalToken: string;
  mediaSigningSecret: string;
}

/**
 * genesys-connector: the delivery worker (WhatsApp → Genesys messages, Genesys → WhatsApp
 * replies, statuses → Genesys receipts), plus /health, /ready and an internal queue view.
 */
export function createGenesysConnector(deps: Deps) {
  const { config } = deps;
  const credentials = new CredentialsClient({ tenantServiceUrl: config.TENANT_SERVICE_URL, internalToken: deps.internalToken, cache: deps.cache });
  const genesys = new GenesysClient({
    credentials,
    tokens: new GenesysTokenClient({ authServiceUrl: config.AUTH_SERVICE_URL, internalToken: deps.internalToken, timeoutMs: config.HTTP_TIMEOUT_MS }),
    apiUrlTemplate: config.GENESYS_API_URL,
    timeoutMs: config.HTTP_TIMEOUT_MS,
    breakerResetMs: config.BREAKER_RESET_MS,
  });
  const outbox = new OutboxRepository(deps.db);
  const deliveries = createDeliveries({
    db: deps.db,
    outbox,
    genesys,
    meta: new MetaClient({ graphUrl: config.META_GRAPH_URL, timeoutMs: config.HTTP_TIMEOUT_MS }),
    credentials,
    mediaUrl: (tenantId, media) => signMediaUrl({ publicBaseUrl: config.PUBLIC_BASE_URL, secret: deps.mediaSigningSecret, tenantId, ...media }),
    logger: deps.logger,
  });
  const worker = new DeliveryWorker({
    outbox,
    deliveries,
    logger: deps.logger,
    listenUrl: config.DATABASE_URL,
    concurrency: config.DELIVERY_CONCURRENCY,
    tenantConcurrency: config.DELIVERY_TENANT_CONCURRENCY,
    leaseMs: config.DELIVERY_LEASE_MS,
    pollMs: config.DELIVERY_POLL_MS,
    retryBaseMs: config.DELIVERY_RETRY_BASE_MS,
    retryMaxMs: config.DELIVERY_RETRY_MAX_MS,
    retryBudgetMs: config.DELIVERY_RETRY_BUDGET_MS,
  });

  const app = createServiceApp({
    name: 'genesys-connector',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (a) => {
      // What is waiting, failed or dead, per tenant and kind: for operators.
      a.get('/internal/queue', requireInternalToken(deps.internalToken), async (_req, res) => {
        const rows = await deps.db.withPlatform(async (q) =>
          (await q.query(`SELECT tenant_id AS "tenantId", kind, state, count(*)::int AS count FROM outbox GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)).rows,
        );
        res.json({ queue: rows });
      });
    },
  });

  return {
    app,
    worker,
    async start() {
      await credentials.start();
      await worker.start();
    },
    async close() {
      await worker.stop();
      genesys.close();
      await credentials.close();
    },
  };
}
