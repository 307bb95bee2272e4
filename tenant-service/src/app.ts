import type { Express } from 'express';
import { createServiceApp, jsonBody, requireBearer, requireInternalToken, standardReadiness } from '@bridge/shared';
import type { Cache, CredentialCipher, Database, Logger } from '@bridge/shared';
import { TenantPurger, type PurgeOptions } from './purge';
import { adminRoutes, internalRoutes } from './routes';
import { createTenantUseCases } from './tenants';

/** What tenant-service is built from (server.ts builds them); none holds resources of its own. */
export interface TenantServiceDeps {
  db: Database;
  cache: Cache;
  cipher: CredentialCipher;
  logger: Logger;
  adminApiKey: string;
  internalToken: string;
  /** The background purge of deleted tenants (defaults: DEFAULT_PURGE). */
  purge?: Partial<PurgeOptions>;
}

/**
 * The tenant-service app: the admin API on every route, the internal credentials route under
 * /internal; and the background purge of deleted tenants, which starts at once (every replica
 * runs one) and which `close` stops (the db and cache are the caller's).
 */
export function createTenantService(deps: TenantServiceDeps): { app: Express; close(): Promise<void> } {
  const purger = new TenantPurger(deps, deps.purge);
  const tenants = createTenantUseCases({ ...deps, purger });
  const app = createServiceApp({
    name: 'tenant-service',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (app) => {
      app.use('/internal', requireInternalToken(deps.internalToken), internalRoutes(tenants));
      // Authenticate before reading a body: an anonymous caller's payload is never parsed.
      app.use(requireBearer(deps.adminApiKey, 'INVALID_ADMIN_KEY'));
      app.use(jsonBody('64kb'));
      app.use(adminRoutes(tenants));
    },
  });
  purger.start();
  return { app, close: () => purger.close() };
}
