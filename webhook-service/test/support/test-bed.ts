import { CredentialsClient, Database, MemoryCache, TenantDirectory } from '@bridge/shared';
import { newBridgeTenant, type BridgeTenant } from '../../../scripts/src/bridge-tenant';
import { testSecrets } from '../../../test/support/env';
import { uniqueNumericId, uniqueTenantId } from '../../../test/support/ids';
import { startTestSystem, type TestSystem } from '../../../test/support/system';
import { WebhookTenants } from '../../src/tenants';

/** What webhook-service's tests build it on: a real tenant-service and PostgreSQL (as the application role). */
export interface WebhookTestBed {
  sys: TestSystem;
  db: Database;
  cache: MemoryCache;
  credentials: CredentialsClient;
  /** Started; reads credentials through `credentials`. */
  tenants: WebhookTenants;
  /** A tenant with Meta and Genesys credentials stored through the admin API, suspended on request. */
  onboard(prefix: string, overrides?: Partial<BridgeTenant>, status?: 'suspended'): Promise<BridgeTenant>;
  /** Stops what it started (close the service built on it first). */
  stop(): Promise<void>;
}

export async function startWebhookTestBed(): Promise<WebhookTestBed> {
  const sys = await startTestSystem({ only: ['tenant-service'] });
  const db = new Database({ connectionString: sys.tdb.appUrl });
  const cache = new MemoryCache();
  const credentials = new CredentialsClient({ tenantServiceUrl: sys.internalUrls['tenant-service']!, internalToken: testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN, cache });
  const tenants = new WebhookTenants({ db, cache, credentials, directory: new TenantDirectory(db, cache) });
  await Promise.all([credentials.start(), tenants.start()]);
  return {
    sys,
    db,
    cache,
    credentials,
    tenants,
    async onboard(prefix, overrides = {}, status) {
      const t = newBridgeTenant(uniqueTenantId(prefix), uniqueNumericId(), overrides);
      await sys.createTenant({ tenantId: t.tenantId });
      const meta = await sys.admin('post', `/tenants/${t.tenantId}/credentials`).send({
        type: 'meta',
        credentials: { appSecret: t.appSecret, verifyToken: t.verifyToken, accessToken: t.accessToken, phoneNumberId: t.phoneNumberId },
      });
      const genesys = await sys.admin('post', `/tenants/${t.tenantId}/credentials`).send({
        type: 'genesys',
        credentials: { clientId: t.clientId, clientSecret: t.clientSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret },
      });
      expect([meta.status, genesys.status]).toEqual([201, 201]);
      if (status) expect((await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status, reason: 'Unpaid invoice 2026-11' })).status).toBe(200);
      return t;
    },
    async stop() {
      await Promise.allSettled([tenants.close(), credentials.close()]);
      await db.close();
      await cache.close();
      await sys.stop();
    },
  };
}
