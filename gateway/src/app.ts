import { createServiceApp, standardReadiness, type Cache, type Database, type Logger } from '@bridge/shared';

export interface Deps {
  db: Database;
  cache: Cache;
  logger: Logger;
}

/** gateway: resolves tenants, rate-limits and proxies to the services. */
export function createGateway(deps: Deps) {
  return createServiceApp({
    name: 'gateway',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: () => undefined,
  });
}
