import request from 'supertest';
import type { Express } from 'express';
import { CredentialCipher, DEFAULT_API_KEY_SCOPES, Database, MemoryCache, TenantDirectory, createLogger, hashApiKey, hashVerifyToken, onTenantEvent, type TenantEvent } from '@bridge/shared';
import { createTenantService } from '../src/app';
import { NO_META, startTenantServiceHarness, type TenantServiceHarness } from './support/harness';
import { createTenantUseCases } from '../src/tenants';
import { ownerQuery, type TestDatabase } from '../../test/support/db';
import { testSecrets } from '../../test/support/env';
import { uniqueNumericId, uniqueTenantId } from '../../test/support/ids';
import { eventually } from '../../test/support/eventually';

const ADMIN = `Bearer ${testSecrets.ADMIN_API_KEY}`;
/** A caller that may read both types of credentials. */
const CONNECTOR = testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN;

let h: TenantServiceHarness;
let tdb: TestDatabase;
let db: Database;
let cache: MemoryCache;
let app: Express;
/** The internal listener's app (INTERNAL_PORT). */
let internalApp: Express;
/** What the gateway reads: the same cache, so stale entries would show here. */
let directory: TenantDirectory;

beforeAll(async () => {
  h = await startTenantServiceHarness();
  ({ tdb, db, cache, app, internalApp, directory } = h);
});

afterAll(() => h.close());

const admin = () => h.admin();
const createTenant = (overrides: Record<string, unknown> = {}) => h.createTenant(overrides);

const metaCredentials = (phoneNumberId = uniqueNumericId()) => ({
  type: 'meta',
  credentials: {
    appSecret: 'meta-app-secret-1234',
    verifyToken: 'verify-token-5678',
    accessToken: 'EAAG-access-token-9999',
    phoneNumberId,
    wabaId: '1029384756',
  },
});

const genesysCredentials = {
  type: 'genesys',
  credentials: {
    clientId: '5f1a7c1e-1111-2222-3333-444455556666',
    clientSecret: 'genesys-client-secret-abcd',
    region: 'mypurecloud.ie',
    integrationId: '8a6e4b2c-aaaa-bbbb-cccc-ddddeeeeffff',
    webhookSecret: 'genesys-webhook-secret-wxyz',
  },
};

async function countRows(table: string): Promise<number> {
  const [row] = await ownerQuery<{ n: string }>(tdb, `SELECT count(*) AS n FROM ${table}`);
  return Number(row.n);
}

describe('admin authentication', () => {
  it('rejects a request without a bearer token with 401 and the error shape', async () => {
    const res = await request(app).get('/tenants');
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'INVALID_ADMIN_KEY', message: expect.any(String), requestId: expect.any(String) });
  });

  it('rejects a wrong bearer token with 401', async () => {
    const res = await request(app).get('/tenants').set('Authorization', 'Bearer not-the-admin-key');
    expect(res.status).toBe(401);
  });

  it('rejects a tenant creation without auth and writes nothing', async () => {
    const before = await countRows('tenants');
    const res = await request(app).post('/tenants').send({ tenantId: uniqueTenantId(), name: 'x' });
    expect(res.status).toBe(401);
    expect(await countRows('tenants')).toBe(before);
  });

  it('answers /health and /ready without auth', async () => {
    expect((await request(app).get('/health')).status).toBe(200);
    const ready = await request(app).get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.postgres).toBe('ok');
  });
});

describe('POST /tenants', () => {
  it('creates a tenant and returns its first API key once, storing only the hash', async () => {
    const { tenantId, apiKey, body } = await createTenant({ subdomain: `s${Date.now()}`, plan: 'professional', rateLimit: 120, metadata: { region: 'emea' } });
    expect(body.tenant).toMatchObject({ tenantId, status: 'active', plan: 'professional', rateLimit: 120, metadata: { region: 'emea' } });
    expect(body.message).toEqual(expect.any(String));
    expect(apiKey).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    const rows = await ownerQuery<{ key_hash: string; prefix: string }>(tdb, 'SELECT key_hash, prefix FROM tenant_api_keys WHERE tenant_id = $1', [tenantId]);
    expect(rows).toHaveLength(1);
    expect(rows[0].key_hash).toBe(hashApiKey(apiKey));
    expect(apiKey.startsWith(rows[0].prefix)).toBe(true);
    const leaked = await ownerQuery(tdb, `SELECT 1 FROM tenant_api_keys WHERE to_jsonb(tenant_api_keys)::text LIKE $1`, [`%${apiKey}%`]);
    expect(leaked).toHaveLength(0);
  });

  it('applies defaults', async () => {
    const { body } = await createTenant();
    expect(body.tenant).toMatchObject({ status: 'active', plan: 'standard', rateLimit: 600, metadata: {}, subdomain: null });
  });

  it.each([
    [{ name: 'No id' }, 'tenantId'],
    [{ tenantId: 'UPPER', name: 'x' }, 'tenantId'],
    [{ tenantId: '-bad-', name: 'x' }, 'tenantId'],
    [{ tenantId: 'ab', name: 'x' }, 'tenantId'],
    [{ tenantId: 'valid-id', name: '' }, 'name'],
    [{ tenantId: 'valid-id', name: 'x', rateLimit: 0 }, 'rateLimit'],
    [{ tenantId: 'valid-id', name: 'x', rateLimit: 'lots' }, 'rateLimit'],
    [{ tenantId: 'valid-id', name: 'x', subdomain: 'Not_A_Label' }, 'subdomain'],
    [{ tenantId: 'valid-id', name: 'x', subdomain: 'www' }, 'subdomain'],
    [{ tenantId: 'valid-id', name: 'x', metadata: 'str' }, 'metadata'],
    [{ tenantId: 'valid-id', name: 'x', surprise: true }, 'surprise'],
  ])('rejects %j with 400 naming %s, writing nothing', async (body, field) => {
    const before = await countRows('tenants');
    const res = await admin().post('/tenants').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.message).toContain(field);
    expect(await countRows('tenants')).toBe(before);
  });

  it('rejects malformed JSON with 400', async () => {
    const res = await admin().post('/tenants').set('Content-Type', 'application/json').send('{"tenantId": "abc",');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MALFORMED_JSON');
  });

  it('rejects an oversized body with 413', async () => {
    const res = await admin().post('/tenants').send({ tenantId: uniqueTenantId(), name: 'x', metadata: { blob: 'x'.repeat(200_000) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 409 for a duplicate tenant id and keeps the original', async () => {
    const { tenantId } = await createTenant({ name: 'Original' });
    const keysBefore = await countRows('tenant_api_keys');
    const res = await admin().post('/tenants').send({ tenantId, name: 'Impostor' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('TENANT_EXISTS');
    expect((await admin().get(`/tenants/${tenantId}`)).body.name).toBe('Original');
    expect(await countRows('tenant_api_keys')).toBe(keysBefore);
  });

  it('answers 409 for a subdomain another tenant has', async () => {
    const subdomain = `sub${Date.now()}`;
    await createTenant({ subdomain });
    const res = await admin().post('/tenants').send({ tenantId: uniqueTenantId(), name: 'x', subdomain });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('SUBDOMAIN_TAKEN');
  });
});

describe('GET /tenants and /tenants/:id', () => {
  it('lists tenants, paged by tenantId', async () => {
    const a = await createTenant();
    const b = await createTenant();
    const all = await admin().get('/tenants?limit=1000');
    expect(all.status).toBe(200);
    const ids = all.body.map((t: { tenantId: string }) => t.tenantId);
    expect(ids).toEqual(expect.arrayContaining([a.tenantId, b.tenantId]));
    expect([...ids].sort()).toEqual(ids);
    const page = await admin().get(`/tenants?limit=1&after=${ids[0]}`);
    expect(page.body).toHaveLength(1);
    expect(page.body[0].tenantId).toBe(ids[1]);
  });

  it.each(['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'limit=99999999999999999999', 'limit=1&limit=2', 'after=Not%20A%20Tenant', `after=${'a'.repeat(300)}`, 'after=a&after=b'])(
    'rejects %s with 400 naming the parameter',
    async (query) => {
      const res = await admin().get(`/tenants?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain(query.split('=')[0]);
    },
  );

  it('gets one tenant, and 404 for an unknown or impossible id', async () => {
    const { tenantId } = await createTenant();
    expect((await admin().get(`/tenants/${tenantId}`)).body.tenantId).toBe(tenantId);
    const missing = await admin().get('/tenants/no-such-tenant');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('TENANT_NOT_FOUND');
    expect((await admin().get('/tenants/NOT..VALID')).status).toBe(404);
  });
});

describe('PATCH /tenants/:id', () => {
  it('suspends only with a reason (1-500 characters), keeps it with the time, and clears both on reactivation', async () => {
    const { tenantId } = await createTenant();
    for (const body of [{ status: 'suspended' }, { status: 'suspended', reason: '  ' }, { status: 'suspended', reason: 'x'.repeat(501) }, { reason: 'why' }]) {
      const res = await admin().patch(`/tenants/${tenantId}`).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^reason: /) });
    }
    expect((await admin().get(`/tenants/${tenantId}`).expect(200)).body).toMatchObject({ status: 'active', suspendedReason: null, suspendedAt: null });

    const first = (await admin().patch(`/tenants/${tenantId}`).send({ status: 'suspended', reason: ' Unpaid invoice ' }).expect(200)).body;
    expect(first).toMatchObject({ status: 'suspended', suspendedReason: 'Unpaid invoice', suspendedAt: expect.any(String) });
    expect(await directory.tenant(tenantId)).toMatchObject({ status: 'suspended', suspendedReason: 'Unpaid invoice' });
    // A new reason replaces the old; the tenant stays suspended since the first time.
    const again = (await admin().patch(`/tenants/${tenantId}`).send({ status: 'suspended', reason: 'x'.repeat(500) }).expect(200)).body;
    expect(again).toMatchObject({ suspendedReason: 'x'.repeat(500), suspendedAt: first.suspendedAt });
    const listed = (await admin().get('/tenants?limit=1000').expect(200)).body as Array<{ tenantId: string }>;
    expect(listed.find((t) => t.tenantId === tenantId)).toMatchObject({ suspendedReason: 'x'.repeat(500), suspendedAt: first.suspendedAt });

    const back = (await admin().patch(`/tenants/${tenantId}`).send({ status: 'active' }).expect(200)).body;
    expect(back).toMatchObject({ status: 'active', suspendedReason: null, suspendedAt: null });
    expect(await directory.tenant(tenantId)).toMatchObject({ status: 'active', suspendedReason: null });
  });

  it('updates fields, suspends and reactivates, announcing each change', async () => {
    const { tenantId } = await createTenant();
    const events: TenantEvent[] = [];
    const unsubscribe = await onTenantEvent(cache, (e) => events.push(e));
    expect(await directory.tenant(tenantId)).toMatchObject({ status: 'active' }); // warm the cache

    const res = await admin().patch(`/tenants/${tenantId}`).send({ status: 'suspended', reason: 'Unpaid invoice', name: 'Renamed', rateLimit: 30 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenantId, status: 'suspended', name: 'Renamed', rateLimit: 30 });
    expect(await directory.tenant(tenantId)).toMatchObject({ status: 'suspended', rateLimit: 30 });
    expect(events).toContainEqual({ tenantId, kind: 'tenant-updated' });

    const back = await admin().patch(`/tenants/${tenantId}`).send({ status: 'active' });
    expect(back.body.status).toBe('active');
    expect(await directory.tenant(tenantId)).toMatchObject({ status: 'active' });
    expect(back.body.name).toBe('Renamed');
    await unsubscribe();
  });

  it('rejects an empty patch, an unknown status and a tenantId change with 400', async () => {
    const { tenantId } = await createTenant();
    expect((await admin().patch(`/tenants/${tenantId}`).send({})).status).toBe(400);
    const bad = await admin().patch(`/tenants/${tenantId}`).send({ status: 'deleted' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('status');
    expect((await admin().patch(`/tenants/${tenantId}`).send({ tenantId: 'other' })).status).toBe(400);
    expect((await admin().get(`/tenants/${tenantId}`)).body.status).toBe('active');
  });

  it('answers 404 for an unknown tenant', async () => {
    expect((await admin().patch('/tenants/no-such-tenant').send({ name: 'x' })).status).toBe(404);
  });
});

describe('markRead: when the customer’s messages get blue ticks', () => {
  it('defaults to on-agent-activity, is set at creation or by PATCH, and is shown by GET /tenants/:id and the list', async () => {
    const a = await createTenant();
    expect(a.body.tenant.markRead).toBe('on-agent-activity');
    const b = await createTenant({ markRead: 'never' });
    expect(b.body.tenant.markRead).toBe('never');
    const patched = await admin().patch(`/tenants/${a.tenantId}`).send({ markRead: 'on-delivery' });
    expect({ status: patched.status, markRead: patched.body.markRead }).toEqual({ status: 200, markRead: 'on-delivery' });
    expect((await admin().get(`/tenants/${a.tenantId}`)).body.markRead).toBe('on-delivery');
    const listed = (await admin().get('/tenants?limit=1000')).body as Array<{ tenantId: string; markRead: string }>;
    expect(listed.filter((t) => t.tenantId === a.tenantId || t.tenantId === b.tenantId).map((t) => [t.tenantId, t.markRead]).sort()).toEqual(
      [
        [a.tenantId, 'on-delivery'],
        [b.tenantId, 'never'],
      ].sort(),
    );
    // Another change keeps it.
    expect((await admin().patch(`/tenants/${a.tenantId}`).send({ name: 'Renamed' })).body.markRead).toBe('on-delivery');
    const [row] = await ownerQuery<{ mark_read: string }>(tdb, 'SELECT mark_read FROM tenants WHERE tenant_id = $1', [a.tenantId]);
    expect(row.mark_read).toBe('on-delivery');
  });

  it('refuses another value with 400 naming markRead, changing nothing', async () => {
    const { tenantId } = await createTenant();
    for (const markRead of ['always', 'ON-DELIVERY', true, null]) {
      const res = await admin().patch(`/tenants/${tenantId}`).send({ markRead });
      expect({ markRead, status: res.status, field: res.body.error?.message.split(':')[0] }).toEqual({ markRead, status: 400, field: 'markRead' });
    }
    const created = await admin().post('/tenants').send({ tenantId: uniqueTenantId(), name: 'x', markRead: 'sometimes' });
    expect({ status: created.status, field: created.body.error?.message.split(':')[0] }).toEqual({ status: 400, field: 'markRead' });
    expect((await admin().get(`/tenants/${tenantId}`)).body.markRead).toBe('on-agent-activity');
  });
});

describe('DELETE /tenants/:id', () => {
  it('deletes the tenant with all its data, and invalidates its keys', async () => {
    const { tenantId, apiKey } = await createTenant();
    await admin().post(`/tenants/${tenantId}/credentials`).send(metaCredentials()).expect(201);
    await ownerQuery(tdb, `INSERT INTO conversation_mappings (tenant_id, wa_id) VALUES ($1, '15550001111')`, [tenantId]);
    await ownerQuery(tdb, `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type) VALUES ($1, 'inbound', '15550001111', 'wamid.del', 'text')`, [tenantId]);
    const subdomain = `del${Date.now()}`;
    await admin().patch(`/tenants/${tenantId}`).send({ subdomain }).expect(200);
    expect(await directory.apiKey(hashApiKey(apiKey))).toMatchObject({ tenantId, active: true });
    expect(await directory.subdomain(subdomain)).toMatchObject({ tenantId });

    expect((await admin().delete(`/tenants/${tenantId}`)).status).toBe(204);
    // Gone for everyone at once; the rows follow in the background.
    expect((await admin().get(`/tenants/${tenantId}`)).status).toBe(404);
    expect((await admin().get('/tenants?limit=1000')).body.map((t: { tenantId: string }) => t.tenantId)).not.toContain(tenantId);
    expect((await admin().patch(`/tenants/${tenantId}`).send({ status: 'active' })).status).toBe(404);
    expect((await admin().get(`/tenants/${tenantId}/credentials`)).status).toBe(404);
    expect(await directory.apiKey(hashApiKey(apiKey))).toBeUndefined();
    expect(await directory.tenant(tenantId)).toBeUndefined();
    expect(await directory.subdomain(subdomain)).toBeUndefined();
    expect((await admin().delete(`/tenants/${tenantId}`)).status).toBe(404);

    const deletion = await eventually(async () => {
      const res = await admin().get(`/tenants/${tenantId}/deletion`).expect(200);
      return res.body.state === 'done' && res.body;
    });
    expect(deletion).toMatchObject({ tenantId, finishedAt: expect.any(String), deleted: { tenant_credentials: 1, tenant_api_keys: 1, conversation_mappings: 1, message_tracking: 1 } });
    for (const table of ['tenants', 'tenant_credentials', 'tenant_api_keys', 'conversation_mappings', 'message_tracking', 'tenant_usage_daily']) {
      const rows = await ownerQuery(tdb, `SELECT 1 FROM ${table} WHERE tenant_id = $1`, [tenantId]);
      expect({ table, rows: rows.length }).toEqual({ table, rows: 0 });
    }
    expect((await admin().delete(`/tenants/${tenantId}`)).status).toBe(404);
  });

  it('answers 404 DELETION_NOT_FOUND for the deletion of a tenant nobody deleted', async () => {
    const { tenantId } = await createTenant();
    const res = await admin().get(`/tenants/${tenantId}/deletion`);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('DELETION_NOT_FOUND');
  });
});

describe('credentials', () => {
  it('stores Meta credentials encrypted and answers with secrets masked', async () => {
    const { tenantId } = await createTenant();
    const body = metaCredentials();
    const res = await admin().post(`/tenants/${tenantId}/credentials`).send(body);
    expect(res.status).toBe(201);
    expect(res.body.credentials).toEqual({
      appSecret: '****1234',
      verifyToken: '****5678',
      accessToken: '****9999',
      phoneNumberId: body.credentials.phoneNumberId,
      wabaId: '1029384756',
    });
    const [row] = await ownerQuery<{ encrypted: Buffer; phone_number_id: string }>(tdb, 'SELECT encrypted, phone_number_id FROM tenant_credentials WHERE tenant_id = $1', [tenantId]);
    expect(row.phone_number_id).toBe(body.credentials.phoneNumberId);
    const stored = row.encrypted.toString('latin1');
    for (const secret of [body.credentials.appSecret, body.credentials.accessToken, body.credentials.verifyToken]) expect(stored).not.toContain(secret);
  });

  it('lists both types masked and never returns a secret', async () => {
    const { tenantId } = await createTenant();
    await admin().post(`/tenants/${tenantId}/credentials`).send(metaCredentials()).expect(201);
    await admin().post(`/tenants/${tenantId}/credentials`).send(genesysCredentials).expect(201);
    const res = await admin().get(`/tenants/${tenantId}/credentials`);
    expect(res.status).toBe(200);
    expect(res.body.map((c: { type: string }) => c.type)).toEqual(['genesys', 'meta']);
    const text = JSON.stringify(res.body);
    for (const secret of ['meta-app-secret-1234', 'EAAG-access-token-9999', 'verify-token-5678', 'genesys-client-secret-abcd', 'genesys-webhook-secret-wxyz']) {
      expect(text).not.toContain(secret);
    }
    expect(res.body[0].credentials).toMatchObject({ region: 'mypurecloud.ie', clientSecret: '****abcd', webhookSecret: '****wxyz' });
  });

  it('replaces credentials of the same type and announces the change', async () => {
    const { tenantId } = await createTenant();
    const events: TenantEvent[] = [];
    const unsubscribe = await onTenantEvent(cache, (e) => events.push(e));
    await admin().post(`/tenants/${tenantId}/credentials`).send(metaCredentials()).expect(201);
    const second = metaCredentials();
    second.credentials.accessToken = 'EAAG-rotated-token-4321';
    await admin().post(`/tenants/${tenantId}/credentials`).send(second).expect(201);
    const rows = await ownerQuery(tdb, 'SELECT 1 FROM tenant_credentials WHERE tenant_id = $1', [tenantId]);
    expect(rows).toHaveLength(1);
    const internal = await request(internalApp).get(`/internal/tenants/${tenantId}/credentials/meta`).set('X-Internal-Token', CONNECTOR);
    expect(internal.body.credentials.accessToken).toBe('EAAG-rotated-token-4321');
    expect(events.filter((e) => e.tenantId === tenantId && e.kind === 'credentials-changed')).toHaveLength(2);
    await unsubscribe();
  });

  it('answers 409 when another tenant already has the phone number id, keeping both as they were', async () => {
    const a = await createTenant();
    const b = await createTenant();
    const body = metaCredentials();
    await admin().post(`/tenants/${a.tenantId}/credentials`).send(body).expect(201);
    const res = await admin().post(`/tenants/${b.tenantId}/credentials`).send(body);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('PHONE_NUMBER_TAKEN');
    expect((await admin().get(`/tenants/${b.tenantId}/credentials`)).body).toEqual([]);
  });

  it('frees a number its tenant moves off (or deletes), for another tenant to take', async () => {
    const a = await createTenant();
    const b = await createTenant();
    const first = metaCredentials();
    await admin().post(`/tenants/${a.tenantId}/credentials`).send(first).expect(201);
    const moved = metaCredentials();
    moved.credentials.phoneNumberId = `${first.credentials.phoneNumberId}9`;
    await admin().post(`/tenants/${a.tenantId}/credentials`).send(moved).expect(201);
    await admin().post(`/tenants/${b.tenantId}/credentials`).send(first).expect(201);
    expect((await admin().post(`/tenants/${b.tenantId}/credentials`).send(moved)).body.error.code).toBe('PHONE_NUMBER_TAKEN');
    // The tenant's purge deletes its credentials.
    await ownerQuery(tdb, 'DELETE FROM tenant_credentials WHERE tenant_id = $1', [a.tenantId]);
    await admin().post(`/tenants/${b.tenantId}/credentials`).send(moved).expect(201);
    expect(await ownerQuery(tdb, 'SELECT phone_number_id, tenant_id FROM phone_number_owners WHERE tenant_id IN ($1, $2)', [a.tenantId, b.tenantId])).toEqual([
      { phone_number_id: moved.credentials.phoneNumberId, tenant_id: b.tenantId },
    ]);
  });

  it.each([
    [{ type: 'meta', credentials: { ...metaCredentials().credentials, phoneNumberId: 'abc' } }, 'phoneNumberId'],
    [{ type: 'meta', credentials: { verifyToken: 'verify-token-5678', accessToken: 'tok-12345678', phoneNumberId: '1234567' } }, 'appSecret'],
    [{ type: 'genesys', credentials: { ...genesysCredentials.credentials, region: 'evil.example.com' } }, 'region'],
    [{ type: 'genesys', credentials: { ...genesysCredentials.credentials, webhookSecret: 'short' } }, 'webhookSecret'],
    [{ type: 'slack', credentials: {} }, 'type'],
    [{ type: 'meta' }, 'credentials'],
  ])('rejects %j with 400 naming %s', async (body, field) => {
    const { tenantId } = await createTenant();
    const res = await admin().post(`/tenants/${tenantId}/credentials`).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
    expect(await ownerQuery(tdb, 'SELECT 1 FROM tenant_credentials WHERE tenant_id = $1', [tenantId])).toHaveLength(0);
  });

  it('answers 404 for an unknown tenant', async () => {
    expect((await admin().post('/tenants/no-such-tenant/credentials').send(genesysCredentials)).status).toBe(404);
    expect((await admin().get('/tenants/no-such-tenant/credentials')).status).toBe(404);
  });

  it('refuses to decrypt a blob moved to another tenant’s row, without leaking anything', async () => {
    const a = await createTenant();
    const b = await createTenant();
    await admin().post(`/tenants/${a.tenantId}/credentials`).send(genesysCredentials).expect(201);
    await ownerQuery(
      tdb,
      `INSERT INTO tenant_credentials (tenant_id, type, encrypted) SELECT $2, type, encrypted FROM tenant_credentials WHERE tenant_id = $1 AND type = 'genesys'`,
      [a.tenantId, b.tenantId],
    );
    const res = await request(internalApp).get(`/internal/tenants/${b.tenantId}/credentials/genesys`).set('X-Internal-Token', CONNECTOR);
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('CREDENTIALS_UNREADABLE');
    expect(JSON.stringify(res.body)).not.toContain('genesys-client-secret');
    expect(res.body.error.stack).toBeUndefined();
  });
});

describe('the verify-token hash (the platform-wide handshake finds its tenant by it)', () => {
  const metaWithToken = (verifyToken: string) => ({ type: 'meta', credentials: { ...metaCredentials().credentials, verifyToken } });
  const deps = () => ({ db, cache, cipher: new CredentialCipher(testSecrets.CREDENTIALS_ENCRYPTION_KEY), logger: createLogger({ name: 'test', level: 'silent' }) });

  async function hashes(tenantIds: string[]): Promise<Record<string, string | null>> {
    const rows = await ownerQuery<{ tenant_id: string; type: string; verify_token_hash: string | null }>(
      tdb,
      'SELECT tenant_id, type, verify_token_hash FROM tenant_credentials WHERE tenant_id = ANY($1) ORDER BY tenant_id, type',
      [tenantIds],
    );
    return Object.fromEntries(rows.map((r) => [`${r.tenant_id}/${r.type}`, r.verify_token_hash]));
  }

  it('is stored with Meta credentials (SHA-256, hex), replaced with them, and absent for Genesys', async () => {
    const { tenantId } = await createTenant();
    await admin().post(`/tenants/${tenantId}/credentials`).send(metaWithToken('first-verify-token')).expect(201);
    await admin().post(`/tenants/${tenantId}/credentials`).send(genesysCredentials).expect(201);
    expect(await hashes([tenantId])).toEqual({ [`${tenantId}/genesys`]: null, [`${tenantId}/meta`]: hashVerifyToken('first-verify-token') });
    expect(hashVerifyToken('first-verify-token')).toMatch(/^[0-9a-f]{64}$/);
    await admin().post(`/tenants/${tenantId}/credentials`).send(metaWithToken('second-verify-token')).expect(201);
    expect((await hashes([tenantId]))[`${tenantId}/meta`]).toBe(hashVerifyToken('second-verify-token'));
  });

  it('is filled when tenant-service starts for rows stored before it existed, once, skipping a row no key opens', async () => {
    const tokens = ['old-token-one', 'old-token-two', 'old-token-three'];
    const tenants: string[] = [];
    for (const token of tokens) {
      const { tenantId } = await createTenant();
      await admin().post(`/tenants/${tenantId}/credentials`).send(metaWithToken(token)).expect(201);
      tenants.push(tenantId);
    }
    // As migration 1732060800008 leaves rows stored before it; the third one unreadable.
    await ownerQuery(tdb, 'UPDATE tenant_credentials SET verify_token_hash = NULL WHERE tenant_id = ANY($1)', [tenants]);
    await ownerQuery(tdb, `UPDATE tenant_credentials SET encrypted = '\\x00deadbeef' WHERE tenant_id = $1`, [tenants[2]]);

    // A start (a restart, or another replica) fills them in the background.
    const restarted = createTenantService({ ...deps(), adminApiKey: testSecrets.ADMIN_API_KEY, internalCallers: {}, meta: NO_META });
    await eventually(async () => Object.values(await hashes(tenants.slice(0, 2))).every(Boolean), 10_000, 'the hashes filled');
    await restarted.close();
    expect(await hashes(tenants)).toEqual({
      [`${tenants[0]}/meta`]: hashVerifyToken(tokens[0]),
      [`${tenants[1]}/meta`]: hashVerifyToken(tokens[1]),
      [`${tenants[2]}/meta`]: null,
    });

    // Again, a page of one tenant at a time: nothing left but the unreadable row, reported.
    const again = await createTenantUseCases(deps()).fillVerifyTokenHashes({ pageSize: 1 });
    expect(again.filled).toBe(0);
    expect(again.unreadable).toContain(tenants[2]);
    expect(again.unreadable).not.toContain(tenants[0]);
  });
});

describe('internal credentials route', () => {
  const read = (tenantId: string, type: string) => request(internalApp).get(`/internal/tenants/${tenantId}/credentials/${type}`);

  it('is served on the internal listener only: the admin app answers 404 even with the admin key and a caller token', async () => {
    const { tenantId } = await createTenant();
    await admin().post(`/tenants/${tenantId}/credentials`).send(genesysCredentials).expect(201);
    const onAdminApp = await request(app).get(`/internal/tenants/${tenantId}/credentials/genesys`).set('Authorization', ADMIN).set('X-Internal-Token', CONNECTOR);
    expect(onAdminApp.status).toBe(404);
    expect(JSON.stringify(onAdminApp.body)).not.toContain(genesysCredentials.credentials.clientSecret);
    // And the internal listener serves no admin route.
    expect((await request(internalApp).get('/tenants').set('Authorization', ADMIN).set('X-Internal-Token', CONNECTOR)).status).toBe(404);
  });

  it('requires the token of a caller that reads credentials', async () => {
    const { tenantId } = await createTenant();
    await admin().post(`/tenants/${tenantId}/credentials`).send(genesysCredentials).expect(201);
    expect((await read(tenantId, 'genesys')).status).toBe(401);
    expect((await read(tenantId, 'genesys').set('X-Internal-Token', 'wrong')).status).toBe(401);
    // Neither the admin key, nor the gateway's token, nor the shared dev secret opens it.
    expect((await read(tenantId, 'genesys').set('Authorization', ADMIN)).status).toBe(401);
    expect((await read(tenantId, 'genesys').set('X-Internal-Token', testSecrets.GATEWAY_INTERNAL_TOKEN)).status).toBe(401);
    expect((await read(tenantId, 'genesys').set('X-Internal-Token', testSecrets.INTERNAL_SERVICE_TOKEN)).status).toBe(401);
    const ok = await read(tenantId, 'genesys').set('X-Internal-Token', CONNECTOR);
    expect(ok.status).toBe(200);
    expect(ok.body.credentials).toEqual(genesysCredentials.credentials);
    expect(ok.headers['cache-control']).toBe('no-store');
  });

  it('gives each caller only the types it uses: auth-service reads Genesys credentials, not Meta ones', async () => {
    const { tenantId } = await createTenant();
    await admin().post(`/tenants/${tenantId}/credentials`).send(genesysCredentials).expect(201);
    await admin().post(`/tenants/${tenantId}/credentials`).send(metaCredentials()).expect(201);
    const status = async (token: string, type: string) => (await read(tenantId, type).set('X-Internal-Token', token)).status;
    expect(await status(testSecrets.AUTH_SERVICE_INTERNAL_TOKEN, 'genesys')).toBe(200);
    const refused = await read(tenantId, 'meta').set('X-Internal-Token', testSecrets.AUTH_SERVICE_INTERNAL_TOKEN);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('INVALID_INTERNAL_TOKEN');
    expect(JSON.stringify(refused.body)).not.toContain(metaCredentials().credentials.appSecret);
    for (const type of ['meta', 'genesys']) {
      expect(await status(testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN, type)).toBe(200);
      expect(await status(CONNECTOR, type)).toBe(200);
    }
  });

  it('answers 404 when the tenant has no credentials of that type and 400 for an unknown type', async () => {
    const { tenantId } = await createTenant();
    const missing = await read(tenantId, 'meta').set('X-Internal-Token', CONNECTOR);
    expect(missing.status).toBe(404);
    const bad = await read(tenantId, 'slack').set('X-Internal-Token', CONNECTOR);
    expect(bad.status).toBe(400);
  });
});

describe('API keys', () => {
  it('creates, lists without secrets, and revokes keys at once', async () => {
    const { tenantId, apiKey: firstKey } = await createTenant();
    const created = await admin().post(`/tenants/${tenantId}/api-keys`).send({ name: 'reporting' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      apiKey: expect.stringMatching(/^sk_/),
      prefix: expect.any(String),
      name: 'reporting',
      rateLimit: null,
      // Issue #13: created without scopes → the read scopes; no expiry; no browser.
      scopes: [...DEFAULT_API_KEY_SCOPES],
      expiresAt: null,
      allowedOrigins: null,
    });
    expect(created.body.apiKey).not.toBe(firstKey);

    const list = await admin().get(`/tenants/${tenantId}/api-keys`);
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(2);
    expect(Object.keys(list.body[1]).sort()).toEqual(['allowedOrigins', 'createdAt', 'expiresAt', 'id', 'isActive', 'lastUsedAt', 'lastUsedIp', 'name', 'prefix', 'rateLimit', 'scopes']);
    expect(JSON.stringify(list.body)).not.toContain(created.body.apiKey);
    expect(JSON.stringify(list.body)).not.toContain(hashApiKey(created.body.apiKey));

    const events: TenantEvent[] = [];
    const unsubscribe = await onTenantEvent(cache, (e) => events.push(e));
    const hash = hashApiKey(created.body.apiKey);
    expect(await directory.apiKey(hash)).toMatchObject({ tenantId, active: true }); // warm the cache
    expect((await admin().delete(`/tenants/${tenantId}/api-keys/${created.body.id}`)).status).toBe(204);
    expect(await directory.apiKey(hash)).toMatchObject({ tenantId, active: false });
    expect(events).toContainEqual({ tenantId, kind: 'api-key-revoked' });
    const after = await admin().get(`/tenants/${tenantId}/api-keys`);
    expect(after.body.find((k: { id: string }) => k.id === created.body.id).isActive).toBe(false);
    await unsubscribe();
  });

  it('answers 404 for another tenant’s key, an unknown key and a malformed id', async () => {
    const a = await createTenant();
    const b = await createTenant();
    const [keyOfA] = (await admin().get(`/tenants/${a.tenantId}/api-keys`)).body;
    expect((await admin().delete(`/tenants/${b.tenantId}/api-keys/${keyOfA.id}`)).status).toBe(404);
    expect((await admin().get(`/tenants/${a.tenantId}/api-keys`)).body[0].isActive).toBe(true);
    expect((await admin().delete(`/tenants/${a.tenantId}/api-keys/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
    expect((await admin().delete(`/tenants/${a.tenantId}/api-keys/not-a-uuid`)).status).toBe(404);
  });

  it('stores a key’s own rate limit, and a key is known to readers that looked for it before it existed', async () => {
    const { tenantId } = await createTenant();
    const res = await admin().post(`/tenants/${tenantId}/api-keys`).send({ name: 'limited', rateLimit: 5 });
    expect(res.status).toBe(201);
    expect(res.body.rateLimit).toBe(5);
    expect(await directory.apiKey(hashApiKey(res.body.apiKey))).toMatchObject({ tenantId, active: true, rateLimit: 5 });
  });

  it('rejects a key without a name', async () => {
    const { tenantId } = await createTenant();
    const res = await admin().post(`/tenants/${tenantId}/api-keys`).send({});
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('name');
    expect((await admin().post('/tenants/no-such-tenant/api-keys').send({ name: 'x' })).status).toBe(404);
  });
});

describe('unknown routes', () => {
  it('answers 404 in the error shape', async () => {
    const res = await admin().get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('ROUTE_NOT_FOUND');
  });
});
