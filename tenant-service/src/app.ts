import type { Express } from 'express';
import { OutboxNotifier, serveApiDocs, createInternalApp, createServiceApp, jsonBody, requireBearer, requireInternalCaller, setContextCaller, standardReadiness, type ServiceMetrics } from '@bridge/shared';
import type { Cache, CallerTokens, CredentialCipher, Database, Logger } from '@bridge/shared';
import { AuditRetention, type AuditRetentionOptions } from './audit-retention';
import { CredentialVerifier } from './credential-verify';
import { serveConsole } from './console';
import { auditRoutes } from './audit-routes';
import { deadLetterRoutes } from './dead-letters-routes';
import { MetaTemplatesClient } from './meta-templates';
import { TenantPurger, type PurgeOptions } from './purge';
import { adminApiDocument } from './openapi';
import { adminRoutes, internalRoutes } from './routes';
import { createTemplateCatalogue } from './templates';
import { createTenantUseCases } from './tenants';

/** The version the API documents carry (the package's). */
const API_VERSION = '0.1.0';

/** What tenant-service is built from (server.ts builds them); none holds resources of its own. */
export interface TenantServiceDeps {
  /** The service's metrics registry (startService's): its HTTP requests are counted and timed by route. */
  metrics?: ServiceMetrics;
  db: Database;
  cache: Cache;
  cipher: CredentialCipher;
  logger: Logger;
  adminApiKey: string;
  /** The services that may call the internal routes, with their tokens (which credentials each may read: CREDENTIAL_READERS). */
  internalCallers: CallerTokens;
  /** The audit trail's retention (defaults: DEFAULT_AUDIT_RETENTION; AUDIT_RETENTION_DAYS). */
  auditRetention?: Partial<AuditRetentionOptions>;
  /** The background purge of deleted tenants (defaults: DEFAULT_PURGE). */
  purge?: Partial<PurgeOptions>;
  /**
   * Where template catalogues are read: Meta's Graph API base (META_GRAPH_URL, version included)
   * and the timeout of each request (ms; default DEFAULT_TEMPLATE_SYNC_TIMEOUT_MS).
   */
  meta: { graphUrl: string; timeoutMs?: number };
  /**
   * Where Genesys OAuth clients are checked by a verify (GENESYS_LOGIN_URL, `{region}` replaced);
   * default `https://login.{region}`.
   */
  genesys?: { loginUrlTemplate: string };
  /** Tenants' notification webhook URLs: on a loopback address too (NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK; default false). */
  notificationWebhooks?: { allowLoopback: boolean };
  /** Where the built admin console is (default DEFAULT_CONSOLE_DIR, tenant-service/dist/console). */
  consoleDir?: string;
}

/**
 * The tenant-service apps: the admin API on every route of `app` (port 3007), the internal
 * credentials route under /internal of `internalApp` (INTERNAL_PORT, never published). Two jobs
 * run in the background from the start: the fill of the verify-token hashes that Meta credentials
 * stored before them lack (see fillVerifyTokenHashes), and the purge of deleted tenants (every
 * replica runs one, see purge.ts), and the audit trail's retention (audit-retention.ts). Template catalogue syncs run in the background after Meta
 * credentials are stored (templates.ts). `close` stops all of them and waits for them. The db and
 * cache are the caller's.
 */
export function createTenantService(deps: TenantServiceDeps): { app: Express; internalApp: Express; close(): Promise<void> } {
  const purger = new TenantPurger(deps, deps.purge);
  const retention = new AuditRetention(deps, deps.auditRetention);
  const templates = createTemplateCatalogue({ ...deps, meta: new MetaTemplatesClient(deps.meta) });
  const verifier = new CredentialVerifier({ graphUrl: deps.meta.graphUrl, loginUrlTemplate: deps.genesys?.loginUrlTemplate ?? 'https://login.{region}' });
  const tenants = createTenantUseCases({ ...deps, purger, templates, verifier });
  // Wakes the delivery workers after a dead letter is queued again.
  const notifier = new OutboxNotifier(deps.db);
  const app = createServiceApp({
    name: 'tenant-service',
    metrics: deps.metrics,
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (app) => {
      // The API's description (openapi.ts) and its documentation page: public, before the admin key.
      serveApiDocs(app, () => adminApiDocument(API_VERSION));
      // The admin console (console.ts): public files too; what it does goes through the API below with the key typed into it.
      serveConsole(app, deps.consoleDir);
      // Authenticate before reading a body: an anonymous caller's payload is never parsed.
      app.use(requireBearer(deps.adminApiKey, 'INVALID_ADMIN_KEY'));
      // The audit trail's actor from here on: the admin key (there is one).
      app.use((_req, _res, next) => {
        setContextCaller({ actor: 'admin' });
        next();
      });
      app.use(jsonBody('64kb'));
      app.use(adminRoutes(tenants, templates));
      app.use(auditRoutes(deps.db));
      app.use(deadLetterRoutes(deps.db, notifier));
    },
  });
  const internalApp = createInternalApp({
    logger: deps.logger,
    metrics: deps.metrics,
    routes: (app) => {
      app.use('/internal', requireInternalCaller(deps.internalCallers), internalRoutes(tenants));
    },
  });
  let closing = false;
  const backfill = tenants.fillVerifyTokenHashes({ shouldStop: () => closing }).then(
    ({ filled, unreadable }) => {
      if (filled) deps.logger.info({ filled }, 'verify-token hashes filled for Meta credentials stored before them');
      for (const tenantId of unreadable) deps.logger.error({ tenantId }, 'verify-token hash not filled: no key of the keyring opens the Meta credentials');
    },
    (err: unknown) => deps.logger.error({ err }, 'verify-token hashes not filled; the next start tries again'),
  );
  purger.start();
  retention.start();
  return {
    app,
    internalApp,
    close: async () => {
      closing = true;
      notifier.close();
      await Promise.all([backfill, purger.close(), templates.close(), retention.close()]);
      verifier.close();
    },
  };
}
