import request from 'supertest';
import type { Express } from 'express';
import { CredentialCipher, Database, MemoryCache, TenantDirectory, createLogger } from '@bridge/shared';
import { createTenantService, type TenantServiceDeps } from '../../src/app';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db';
import { testSecrets } from '../../../test/support/env';
import { uniqueTenantId } from '../../../test/support/ids';

const ADMIN = `Bearer ${testSecrets.ADMIN_API_KEY}`;
/** Nothing listens there: the template syncs that Meta credentials start fail at once (templates.test.ts runs them against the simulator). */
export const NO_META = { graphUrl: 'http://127.0.0.1:9/v23.0' };

/** tenant-service in process on its own migrated database, as the admin API tests drive it. */
export interface TenantServiceHarness {
  tdb: TestDatabase;
  db: Database;
  cache: MemoryCache;
  app: Express;
  /** The internal listener's app (INTERNAL_PORT). */
  internalApp: Express;
  /** What the gateway reads: the same cache, so stale entries would show here. */
  directory: TenantDirectory;
  /** Requests with the admin key. */
  admin(): Record<'post' | 'get' | 'patch' | 'delete', (url: string) => request.Test>;
  /** POST /tenants (201 expected) with a fresh id: the id, the first API key and the answer. */
  createTenant(overrides?: Record<string, unknown>): Promise<{ tenantId: string; apiKey: string; body: any }>;
  close(): Promise<void>;
}

/** Starts the harness; `deps` overrides the service's collaborators (e.g. `auditRetention`). */
export async function startTenantServiceHarness(deps: Partial<TenantServiceDeps> = {}): Promise<TenantServiceHarness> {
  const tdb = await createTestDatabase();
  const db = new Database({ connectionString: tdb.appUrl });
  const cache = new MemoryCache();
  const { app, internalApp, close } = createTenantService({
    db,
    cache,
    cipher: new CredentialCipher(testSecrets.CREDENTIALS_ENCRYPTION_KEY),
    logger: createLogger({ name: 'test', level: 'silent' }),
    adminApiKey: testSecrets.ADMIN_API_KEY,
    meta: NO_META,
    internalCallers: {
      'webhook-service': [testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN],
      'auth-service': [testSecrets.AUTH_SERVICE_INTERNAL_TOKEN],
      'genesys-connector': [testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN],
    },
    ...deps,
  });
  const admin = () => ({
    post: (url: string) => request(app).post(url).set('Authorization', ADMIN),
    get: (url: string) => request(app).get(url).set('Authorization', ADMIN),
    patch: (url: string) => request(app).patch(url).set('Authorization', ADMIN),
    delete: (url: string) => request(app).delete(url).set('Authorization', ADMIN),
  });
  return {
    tdb,
    db,
    cache,
    app,
    internalApp,
    directory: new TenantDirectory(db, cache),
    admin,
    async createTenant(overrides = {}) {
      const tenantId = uniqueTenantId();
      const res = await admin().post('/tenants').send({ tenantId, name: `Tenant ${tenantId}`, ...overrides });
      expect(res.status).toBe(201);
      return { tenantId, apiKey: res.body.apiKey as string, body: res.body };
    },
    async close() {
      await close();
      await db.close();
      await cache.close();
      await tdb.drop();
    },
  };
}
