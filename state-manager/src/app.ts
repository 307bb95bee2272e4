import type { Express } from 'express';
import { OutboxNotifier, createServiceApp, jsonBody, requireGatewayTenant, standardReadiness, type Cache, type Database, type Logger, type SecurityEvents, type ServiceMetrics } from '@bridge/shared';
import { messageRoutes } from './messages-routes';
import { quotaGuard } from './quota-guard';
import { stateRoutes } from './routes';
import { templateRoutes } from './templates-routes';

/** What state-manager is built from (server.ts builds them); none holds resources of its own. */
export interface StateManagerDeps {
  /** The service's metrics registry (startService's): its HTTP requests are counted and timed by route. */
  metrics?: ServiceMetrics;
  db: Database;
  cache: Cache;
  logger: Logger;
  /** GATEWAY_INTERNAL_TOKEN's tokens: /state trusts the tenant the gateway names only with one of them. */
  gatewayTokens: readonly string[];
  /** Wakes the delivery workers after POST /messages (or a retry) commits; default one of its own on `db` (closed with the app). */
  notifier?: Pick<OutboxNotifier, 'touch' | 'close'>;
  /** Records requests for another tenant's objects (GET /messages/:id); closed with the app. */
  securityEvents?: SecurityEvents;
}

/**
 * state-manager: the tenant API's data routes (stats, conversations, mappings; the template
 * catalogue) and proactive messages (`/messages`), behind the gateway. `close()` releases the
 * notifier's timer and writes the security events counted (the db and cache are the caller's).
 */
export function createStateManager(deps: StateManagerDeps): { app: Express; close(): Promise<void> } {
  const notifier = deps.notifier ?? new OutboxNotifier(deps.db);
  const app = createServiceApp({
    name: 'state-manager',
    metrics: deps.metrics,
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (app) => {
      // Every tenant route: a used-up plan limit answers 429 QUOTA_EXCEEDED (quota-guard.ts).
      const guard = quotaGuard(deps.db);
      app.use('/state', requireGatewayTenant(deps.gatewayTokens), guard, jsonBody('16kb'), stateRoutes(deps.db, notifier, deps.securityEvents));
      app.use('/templates', requireGatewayTenant(deps.gatewayTokens), guard, templateRoutes(deps.db));
      // A text of 4,096 characters may take 16 kB and more in UTF-8.
      app.use('/messages', requireGatewayTenant(deps.gatewayTokens), guard, jsonBody('64kb'), messageRoutes(deps.db, notifier, deps.securityEvents));
    },
  });
  return {
    app,
    close: async () => {
      notifier.close();
      await deps.securityEvents?.close?.();
    },
  };
}
