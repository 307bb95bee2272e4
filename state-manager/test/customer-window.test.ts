import request from 'supertest';
import type { Express } from 'express';
import { Database, MemoryCache, createLogger } from '@bridge/shared';
import { createStateManager } from '../src/app';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { testSecrets } from '../../test/support/env';

/**
 * Each conversation shows WhatsApp's customer-service window: open for 24 h after the customer's
 * newest message (conversation_mappings.last_inbound_at, Meta's `timestamp`). In-process, behind
 * the gateway's headers, against real PostgreSQL.
 */
const A = 'tenant-a';
const B = 'tenant-b';
const MINUTE = 60_000;
let app: Express;
let tdb: TestDatabase;
let db: Database;
let cache: MemoryCache;

/** Whole seconds, as Meta's timestamps are. */
const agoMinutes = (minutes: number) => new Date(Math.floor(Date.now() / 1000) * 1000 - minutes * MINUTE);
const recent = agoMinutes(23 * 60 + 59);
const stale = agoMinutes(24 * 60 + 1);
const plus24h = (d: Date) => new Date(d.getTime() + 24 * 60 * MINUTE).toISOString();

beforeAll(async () => {
  [tdb, cache] = [await createTestDatabase(), new MemoryCache()];
  db = new Database({ connectionString: tdb.appUrl });
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1), ($2, $2)', [A, B]);
  await ownerQuery(
    tdb,
    `INSERT INTO conversation_mappings (tenant_id, wa_id, last_message_at, last_inbound_at)
     VALUES ($1, '15550000001', $2, $2), ($1, '15550000002', $3, $3)`,
    [A, recent, stale],
  );
  ({ app } = createStateManager({ db, cache, logger: createLogger({ name: 'test', level: 'silent' }), gatewayTokens: [testSecrets.GATEWAY_INTERNAL_TOKEN] }));
});
afterAll(async () => {
  await db.close();
  await cache.close();
  await tdb.drop();
});

const as = (tenant: string, req: request.Test) => req.set('x-internal-token', testSecrets.GATEWAY_INTERNAL_TOKEN).set('x-tenant-id', tenant);
const get = (path: string, tenant = A) => as(tenant, request(app).get(path));

describe('the customer-service window on a mapping', () => {
  it('a customer who wrote 23 h 59 m ago: open, expiring exactly 24 h after their message', async () => {
    const res = await get('/state/mapping/15550000001');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ waId: '15550000001', windowOpen: true, windowExpiresAt: plus24h(recent) });
  });

  it('a customer who wrote 24 h 01 m ago: closed, expired 24 h after their message', async () => {
    const res = await get('/state/mapping/15550000002');
    expect(res.body).toMatchObject({ windowOpen: false, windowExpiresAt: plus24h(stale) });
  });

  it('a customer who never wrote (mapping made through the API): closed, no expiry', async () => {
    const created = await as(A, request(app).post('/state/mapping')).send({ waId: '15550000003', contactName: 'Zoë' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ windowOpen: false, windowExpiresAt: null });
    expect((await get('/state/mapping/15550000003')).body).toMatchObject({ windowOpen: false, windowExpiresAt: null });
  });

  it('updating a mapping through the API leaves the customer’s window as it was', async () => {
    const res = await as(A, request(app).post('/state/mapping')).send({ waId: '15550000001', conversationId: 'conv-1' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ windowOpen: true, windowExpiresAt: plus24h(recent) });
  });

  it('another tenant’s mapping is still not found', async () => {
    const res = await get('/state/mapping/15550000001', B);
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 404, code: 'MAPPING_NOT_FOUND' });
    expect((await get('/state/conversations', B)).body.conversations).toEqual([]);
  });
});

describe('the customer-service window in the conversation list', () => {
  it('every conversation carries windowOpen and windowExpiresAt', async () => {
    const res = await get('/state/conversations?limit=10');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.conversations.map((c: { waId: string }) => [c.waId, c]));
    expect(byId['15550000001']).toMatchObject({ windowOpen: true, windowExpiresAt: plus24h(recent) });
    expect(byId['15550000002']).toMatchObject({ windowOpen: false, windowExpiresAt: plus24h(stale) });
    expect(byId['15550000003']).toMatchObject({ windowOpen: false, windowExpiresAt: null });
  });
});
