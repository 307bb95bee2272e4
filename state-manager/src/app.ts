import type { Express } from 'express';
import { createServiceApp, jsonBody, requireGatewayTenant, standardReadiness, type Cache, type Database, type Logger } from '@bridge/shared';
import { stateRoutes } from './routes';
import { templateRoutes } from './templates-routes';

/** What state-manager is built from (server.ts builds them); none holds resources of its own. */
export interface StateManagerDeps {
  db: Database;
  cache: Cache;
  logger: Logger;
  /** GATEWAY_INTERNAL_TOKEN's tokens: /state trusts the tenant the gateway names only with one of them. */
  gatewayTokens: readonly string[];
}

/**
 * state-manager: the tenant API's data routes (stats, conversations, mappings; the template
 * catalogue), behind the gateway. Nothing to release on close (the db and cache are the caller's).
 */
export function createStateManager(deps: StateManagerDeps): { app: Express; close(): Promise<void> } {
  const app = createServiceApp({
    name: 'state-manager',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (app) => {
      app.use('/state', requireGatewayTenant(deps.gatewayTokens), jsonBody('16kb'), stateRoutes(deps.db));
      app.use('/templates', requireGatewayTenant(deps.gatewayTokens), templateRoutes(deps.db));
    },
  });
  return { app, close: async () => undefined };
}
