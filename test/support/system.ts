import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startSystem, SERVICES, type RunningSystem, type ServiceName } from '../../scripts/src/system';
import { createTestDatabase, type TestDatabase } from './db';
import { TEST_REDIS_URL, testSecrets } from './env';
import { uniqueTenantId } from './ids';

export interface TestSystem extends RunningSystem {
  tdb: TestDatabase;
  /** Creates a tenant through the admin API; returns its id and first API key. */
  createTenant(body?: Record<string, unknown>): Promise<{ tenantId: string; apiKey: string }>;
  admin(method: 'get' | 'post' | 'patch' | 'delete', url: string): request.Test;
}

/**
 * The whole platform in this process, as `npm start` runs it, on free ports, against a fresh
 * database (as the application role) and, with `redis: true`, the test Redis.
 */
export async function startTestSystem(options: { redis?: boolean; env?: Record<string, string>; only?: ServiceName[] } = {}): Promise<TestSystem> {
  if (options.redis && !TEST_REDIS_URL) throw new Error('this suite needs Redis');
  const tdb = await createTestDatabase();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bridge-system-'));
  const system = await startSystem({
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: tdb.ownerUrl,
      DB_APP_PASSWORD: process.env.DB_APP_PASSWORD,
      ...testSecrets,
      ...(options.redis ? { REDIS_URL: TEST_REDIS_URL } : {}),
      // Tests' notification receivers listen on 127.0.0.1.
      NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK: 'true',
      ...options.env,
    },
    dataDir,
    only: options.only,
    ports: Object.fromEntries(SERVICES.map((s) => [s.name, 0])),
    internalPorts: Object.fromEntries(SERVICES.map((s) => [s.name, 0])),
  });
  const admin = (method: 'get' | 'post' | 'patch' | 'delete', url: string) =>
    request(system.urls['tenant-service'])[method](url).set('Authorization', `Bearer ${system.adminApiKey}`);
  return {
    ...system,
    tdb,
    admin,
    async createTenant(body = {}) {
      const tenantId = (body.tenantId as string) ?? uniqueTenantId();
      const res = await admin('post', '/tenants').send({ tenantId, name: `Tenant ${tenantId}`, ...body });
      if (res.status !== 201) throw new Error(`tenant creation failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { tenantId, apiKey: res.body.apiKey };
    },
    async stop() {
      await system.stop();
      await tdb.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
