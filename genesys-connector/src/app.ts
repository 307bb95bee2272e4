import type { Express } from 'express';
import {
  createServiceApp,
  requireInternalToken,
  standardReadiness,
  type Cache,
  type CredentialsClient,
  type Database,
  type Logger,
  type Outbox,
  type OutboxNotifier,
} from '@bridge/shared';
import type { GenesysClient } from './genesys-client';
import type { GenesysTokenClient } from './genesys-token-client';
import type { MetaClient } from './meta-client';
import type { DeliveryWorker } from './worker';

/** What genesys-connector is built from (server.ts builds them from the config). */
export interface GenesysConnectorDeps {
  db: Database;
  cache: Cache;
  logger: Logger;
  internalToken: string;
  outbox: Outbox;
  /** Drains the outbox through the deliveries; started by server.ts. */
  worker: DeliveryWorker;
  // The worker's collaborators, closed with the service.
  credentials: CredentialsClient;
  tokens: GenesysTokenClient;
  genesys: GenesysClient;
  meta: MetaClient;
  notifier: OutboxNotifier;
}

/**
 * genesys-connector: the delivery worker (WhatsApp → Genesys messages, Genesys → WhatsApp
 * replies, statuses → Genesys receipts), plus /health, /ready and an internal queue view.
 * `close` stops the worker (waiting for deliveries in flight), then closes what it used.
 */
export function createGenesysConnector(deps: GenesysConnectorDeps): { app: Express; close: () => Promise<void> } {
  const app = createServiceApp({
    name: 'genesys-connector',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (a) => {
      // What is waiting, failed or dead, per tenant and kind: for operators.
      a.get('/internal/queue', requireInternalToken(deps.internalToken), async (_req, res) => {
        res.json({ queue: await deps.outbox.view() });
      });
    },
  });

  return {
    app,
    async close() {
      await deps.worker.stop();
      deps.notifier.close();
      deps.genesys.close();
      deps.tokens.close();
      deps.meta.close();
      await deps.credentials.close();
    },
  };
}
