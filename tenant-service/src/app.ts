import { createServiceApp, jsonBody, requireBearer, requireInternalToken, standardReadiness } from '@bridge/shared';
import type { Cache, CredentialCipher, Database, Logger } from '@bridge/shared';
import { adminRoutes, internalRoutes } from './routes';
import { createTenantUseCases } from './tenants';

export interface TenantServiceDeps {
  db: Database;
  cache: Cache;
  cipher: CredentialCipher;
  logger: Logger;
  adminApiKey: string;
  internalToken: string;
}

/** The tenant-service app: the admin API on every route, the internal credentials route under /internal. */
export function createTenantService(deps: TenantServiceDeps) {
  const tenants = createTenantUseCases(deps);
  return createServiceApp({
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
}
