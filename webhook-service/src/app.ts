import express from 'express';
import { CredentialsClient, TenantDirectory, createServiceApp, standardReadiness, type Cache, type Database, type Logger } from '@bridge/shared';
import { genesysWebhook } from './genesys-webhook';
import { createMediaRouter } from './media';
import { metaVerification, metaWebhook } from './meta-webhook';
import { OutboxNotifier } from './notifier';
import { WebhookTenants } from './tenants';

export interface Deps {
  db: Database;
  cache: Cache;
  logger: Logger;
  tenantServiceUrl: string;
  internalToken: string;
  graphUrl: string;
  /** Key for the media links handed to Genesys (see media.ts). */
  mediaSigningSecret: string;
  /** Where Meta's media download URLs may point (MEDIA_DOWNLOAD_HOSTS, parsed). */
  mediaDownloadHosts: readonly string[];
}

/** Meta allows 3 MB per webhook POST; Genesys 512,000 bytes. A little headroom on each. */
const META_MAX_BODY = '4mb';
const GENESYS_MAX_BODY = '1mb';

/**
 * webhook-service: verifies, stores and acknowledges Meta's and Genesys's webhooks (bodies read
 * raw, so signatures are checked on the exact bytes), and serves the signed media links.
 */
export function createWebhookService(deps: Deps) {
  const credentials = new CredentialsClient({ tenantServiceUrl: deps.tenantServiceUrl, internalToken: deps.internalToken, cache: deps.cache });
  const tenants = new WebhookTenants({ db: deps.db, cache: deps.cache, credentials, directory: new TenantDirectory(deps.db, deps.cache) });
  const metaRaw = express.raw({ type: () => true, limit: META_MAX_BODY });
  const genesysRaw = express.raw({ type: () => true, limit: GENESYS_MAX_BODY });
  const notifier = new OutboxNotifier(deps.db);
  const ready = Promise.all([credentials.start(), tenants.start()]);

  const app = createServiceApp({
    name: 'webhook-service',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (a) => {
      const metaDeps = { db: deps.db, tenants, logger: deps.logger, notifier };
      a.get('/webhook/meta', metaVerification(metaDeps));
      a.get('/webhook/meta/:tenantId', metaVerification(metaDeps));
      a.post('/webhook/meta', metaRaw, metaWebhook(metaDeps));
      a.post('/webhook/meta/:tenantId', metaRaw, metaWebhook(metaDeps));
      a.post('/webhook/genesys/:tenantId', genesysRaw, genesysWebhook({ db: deps.db, tenants, notifier }));
      a.use(
        createMediaRouter({
          secret: deps.mediaSigningSecret,
          graphUrl: deps.graphUrl,
          getMetaCredentials: (tenantId) => credentials.meta(tenantId),
          tenantStatus: (tenantId) => tenants.status(tenantId),
          downloadHosts: deps.mediaDownloadHosts,
        }),
      );
    },
  });
  return {
    app,
    ready,
    close: async () => {
      notifier.close();
      await Promise.allSettled([tenants.close(), credentials.close()]);
    },
  };
}
