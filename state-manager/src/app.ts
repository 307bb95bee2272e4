import { createServiceApp, standardReadiness, type Cache, type Database, type Logger } from '@bridge/shared';

export interface Deps {
  db: Database;
  cache: Cache;
  logger: Logger;
}

/** state-manager: answers the tenant API's data routes (stats, conversations, mappings). */
export function createStateManager(deps: Deps) {
  return createServiceApp({
    name: 'state-manager',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: () => undefined,
  });
}
