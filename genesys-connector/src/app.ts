import { createServiceApp, standardReadiness, type Cache, type Database, type Logger } from '@bridge/shared';

export interface Deps {
  db: Database;
  cache: Cache;
  logger: Logger;
}

/** genesys-connector: delivers stored messages to Genesys and WhatsApp. */
export function createGenesysConnector(deps: Deps) {
  return createServiceApp({
    name: 'genesys-connector',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: () => undefined,
  });
}
