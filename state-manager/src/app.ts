import { createServiceApp, jsonBody, requireGatewayTenant, standardReadiness, type Cache, type Database, type Logger } from '@bridge/shared';
import { stateRoutes } from './routes';

export interface Deps {
  db: Database;
  cache: Cache;
  logger: Logger;
  internalToken: string;
}

/** state-manager: the tenant API's data routes (stats, conversations, mappings), behind the gateway. */
export function createStateManager(deps: Deps) {
  return createServiceApp({
    name: 'state-manager',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (app) => {
      app.use('/state', requireGatewayTenant(deps.internalToken), jsonBody('16kb'), stateRoutes(deps.db));
    },
  });
}
