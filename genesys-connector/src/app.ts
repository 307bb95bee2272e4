import type { Express } from 'express';
import {
  createInternalApp,
  createServiceApp,
  requireInternalCaller,
  standardReadiness,
  type Cache,
  type CallerTokens,
  type CredentialsClient,
  type Database,
  type Logger,
  type Outbox,
  type OutboxNotifier,
  type ServiceMetrics,
} from '@bridge/shared';
import type { GenesysClient } from './genesys-client';
import type { GenesysTokenClient } from './genesys-token-client';
import type { MetaClient } from './meta-client';
import type { DeliveryWorker } from './worker';

/** What genesys-connector is built from (server.ts builds them from the config). */
export interface GenesysConnectorDeps {
  /** The service's metrics registry (startService's): its HTTP requests are counted and timed by route. */
  metrics?: ServiceMetrics;
  db: Database;
  cache: Cache;
  logger: Logger;
  /** Who may read the internal queue view: operators, with the connector's own token. */
  internalCallers: CallerTokens;
  outbox: Outbox;
  /** Drains the outbox through the deliveries; started by server.ts. */
  worker: DeliveryWorker;
  // The worker's collaborators, closed with the service.
  credentials: CredentialsClient;
  tokens: GenesysTokenClient;
  genesys: GenesysClient;
  meta: MetaClient;
  notifier: OutboxNotifier;
  /** Other collaborators to close with the service (the notification webhooks' HTTP clients). */
  closers?: Array<{ close(): void }>;
}

/**
 * genesys-connector: the delivery worker (WhatsApp → Genesys messages, Genesys → WhatsApp
 * replies, statuses → Genesys receipts), plus /health and /ready (`app`) and an internal queue
 * view (`internalApp`, INTERNAL_PORT, never published).
 * `drain` (on SIGTERM) stops the worker's claims and lets its deliveries in flight end within the
 * grace period, handing the rest back to the queue (see DeliveryWorker.stop); `close` stops the
 * worker (if `drain` did not, waiting for deliveries in flight), then closes what it used.
 */
export function createGenesysConnector(deps: GenesysConnectorDeps): {
  app: Express;
  internalApp: Express;
  drain: (graceMs: number) => Promise<void>;
  close: () => Promise<void>;
} {
  const app = createServiceApp({
    name: 'genesys-connector',
    metrics: deps.metrics,
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: () => undefined,
  });
  const internalApp = createInternalApp({
    logger: deps.logger,
    metrics: deps.metrics,
    routes: (a) => {
      // What is waiting, failed or dead, per tenant and kind: for operators.
      a.get('/internal/queue', requireInternalCaller(deps.internalCallers), async (_req, res) => {
        res.json({ queue: await deps.outbox.view() });
      });
    },
  });

  return {
    app,
    internalApp,
    drain: (graceMs) => deps.worker.stop(graceMs),
    async close() {
      await deps.worker.stop();
      deps.notifier.close();
      deps.genesys.close();
      deps.tokens.close();
      deps.meta.close();
      await deps.credentials.close();
      for (const c of deps.closers ?? []) c.close();
    },
  };
}
