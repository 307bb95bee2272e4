import { createServiceApp, standardReadiness, type Cache, type Database, type Logger } from '@bridge/shared';

export interface Deps {
  db: Database;
  cache: Cache;
  logger: Logger;
}

/** auth-service: exchanges API keys for tenant JWTs and brokers Genesys OAuth tokens. */
export function createAuthService(deps: Deps) {
  return createServiceApp({
    name: 'auth-service',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: () => undefined,
  });
}
