import request from 'supertest';
import type { Express } from 'express';
import { Database, MemoryCache, appendAudit, createLogger } from '@bridge/shared';
import { createStateManager } from '../src/app';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { testSecrets } from '../../test/support/env';

/** GET /state/audit: a tenant's own trail, without the platform's internals; POST /state/mapping is audited. */
const A = 'tenant-a';
const B = 'tenant-b';
const KEY_ID = '0b6f6c9e-1111-4222-8333-944455556666';
let app: Express;
let tdb: TestDatabase;
let db: Database;
let cache: MemoryCache;

beforeAll(async () => {
  [tdb, cache] = [await createTestDatabase(), new MemoryCache()];
  db = new Database({ connectionString: tdb.appUrl });
  for (const t of [A, B]) await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [t]);
  ({ app } = createStateManager({ db, cache, logger: createLogger({ name: 'test', level: 'silent' }), gatewayTokens: [testSecrets.GATEWAY_INTERNAL_TOKEN] }));
});
afterAll(async () => {
  await db.close();
  await cache.close();
  await tdb.drop();
});

/** As the gateway forwards a tenant's request: its headers, the key that authenticated, the client's address appended. */
const as = (tenant: string, req: request.Test) =>
  req.set('x-internal-token', testSecrets.GATEWAY_INTERNAL_TOKEN).set('x-tenant-id', tenant).set('x-tenant-key-id', KEY_ID).set('x-forwarded-for', '203.0.113.7');

describe('GET /state/audit', () => {
  it('shows the tenant its own events only, newest first, an admin as platform-admin without address', async () => {
    // An admin's change, as tenant-service writes it.
    for (const t of [A, B]) {
      await db.withTenant(t, (q) => appendAudit(q, { tenantId: t, actor: 'admin', action: 'tenant.updated', clientIp: '10.0.0.9', requestId: `r-${t}`, after: { name: t } }));
    }
    await as(A, request(app).post('/state/mapping')).send({ waId: '15550000001', contactName: 'Ana' }).expect(201);
    await as(B, request(app).post('/state/mapping')).send({ waId: '15550000002' }).expect(201);

    const res = await as(A, request(app).get('/state/audit')).expect(200);
    expect(res.body).toEqual({
      events: [
        {
          id: expect.any(String),
          actor: `key:${KEY_ID}`,
          action: 'mapping.written',
          target: 'mapping:15550000001',
          before: null,
          after: { waId: '15550000001', contactName: 'Ana', created: true },
          requestId: expect.any(String),
          clientIp: '203.0.113.7',
          at: expect.any(String),
        },
        { id: expect.any(String), actor: 'platform-admin', action: 'tenant.updated', target: null, before: null, after: { name: A }, requestId: `r-${A}`, clientIp: null, at: expect.any(String) },
      ],
      nextBefore: null,
    });
    const page = await as(A, request(app).get('/state/audit?limit=1&type=tenant')).expect(200);
    expect(page.body.events.map((e: { action: string }) => e.action)).toEqual(['tenant.updated']);
    expect((await as(A, request(app).get('/state/audit?before=abc'))).status).toBe(400);
  });
});
