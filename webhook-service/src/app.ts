import { createServiceApp, standardReadiness, type Cache, type Database, type Logger } from '@bridge/shared';

export interface Deps {
  db: Database;
  cache: Cache;
  logger: Logger;
}

/** webhook-service: verifies, stores and acknowledges Meta and Genesys webhooks. */
export function createWebhookService(deps: Deps) {
  return createServiceApp({
    name: 'webhook-service',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: () => undefined,
  });
}
