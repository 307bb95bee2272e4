import net from 'node:net';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { startTestSystem, type TestSystem } from './support/system';
import { testSecrets } from './support/env';
import { ownerQuery } from './support/db';
import { uniqueTenantId } from './support/ids';

/** The tenant API through the gateway, with the in-process cache (one node). */
let sys: TestSystem;
let gw: () => request.Agent;
let a: { tenantId: string; apiKey: string };
let b: { tenantId: string; apiKey: string };
const BASE_DOMAIN = 'bridge.test';

beforeAll(async () => {
  sys = await startTestSystem({ env: { BASE_DOMAIN, LAST_USED_FLUSH_MS: '200' } });
  gw = () => request.agent(sys.urls.gateway);
  a = await sys.createTenant({ subdomain: `a${Date.now()}` });
  b = await sys.createTenant();
});

afterAll(() => sys.stop());

const stats = (headers: Record<string, string>) => gw().get('/state/stats').set(headers);

describe('resolution by API key', () => {
  it('answers the tenant’s own stats', async () => {
    const res = await stats({ 'X-API-Key': a.apiKey });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenantId: a.tenantId, totalMappings: 0, totalMessages: 0, activeConversations: 0, todayMessages: 0 });
  });

  it('rejects a missing, unknown or malformed key with 401 and a code saying which', async () => {
    const missing = await gw().get('/state/stats');
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('MISSING_CREDENTIALS');
    const unknown = await stats({ 'X-API-Key': `sk_${'x'.repeat(43)}` });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('INVALID_API_KEY');
    expect((await stats({ 'X-API-Key': 'garbage' })).body.error.code).toBe('INVALID_API_KEY');
  });

  it('rejects a revoked key on the very next request, cache warm', async () => {
    const created = await sys.admin('post', `/tenants/${a.tenantId}/api-keys`).send({ name: 'short-lived' });
    expect((await stats({ 'X-API-Key': created.body.apiKey })).status).toBe(200);
    expect((await stats({ 'X-API-Key': created.body.apiKey })).status).toBe(200);
    await sys.admin('delete', `/tenants/${a.tenantId}/api-keys/${created.body.id}`).expect(204);
    const res = await stats({ 'X-API-Key': created.body.apiKey });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('API_KEY_REVOKED');
    expect((await stats({ 'X-API-Key': a.apiKey })).status).toBe(200);
  });

  it('records the key’s last use without a write per request', async () => {
    await stats({ 'X-API-Key': b.apiKey }).expect(200);
    const deadline = Date.now() + 5000;
    let lastUsedAt: string | null = null;
    while (!lastUsedAt && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      lastUsedAt = (await sys.admin('get', `/tenants/${b.tenantId}/api-keys`)).body[0].lastUsedAt;
    }
    expect(lastUsedAt).not.toBeNull();
  });
});

describe('resolution by JWT', () => {
  it('exchanges an API key for a token the gateway accepts', async () => {
    const res = await gw().post('/auth/token').set('X-API-Key', a.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token: expect.any(String), expiresIn: 900 });
    const claims = jwt.decode(res.body.token) as jwt.JwtPayload;
    expect(claims).toMatchObject({ tenant_id: a.tenantId, iat: expect.any(Number), exp: expect.any(Number), jti: expect.any(String) });
    const viaToken = await stats({ Authorization: `Bearer ${res.body.token}` });
    expect(viaToken.status).toBe(200);
    expect(viaToken.body.tenantId).toBe(a.tenantId);
  });

  it('will not exchange a token for a token', async () => {
    const { body } = await gw().post('/auth/token').set('X-API-Key', a.apiKey);
    const res = await gw().post('/auth/token').set('Authorization', `Bearer ${body.token}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('API_KEY_REQUIRED');
  });

  const sign = (payload: object, secret = testSecrets.JWT_SECRET, opts: jwt.SignOptions = {}) => jwt.sign(payload, secret, { algorithm: 'HS256', ...opts });

  it.each([
    ['expired', () => sign({ tenant_id: 'x', exp: Math.floor(Date.now() / 1000) - 60 }), 'TOKEN_EXPIRED'],
    ['wrong secret', () => sign({ tenant_id: 'x' }, 'another-secret-entirely-0123456789', { expiresIn: 60 }), 'INVALID_TOKEN'],
    ['alg none', () => `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ tenant_id: 'x', exp: 9999999999 })).toString('base64url')}.`, 'INVALID_TOKEN'],
    ['HS512', () => sign({ tenant_id: 'x' }, testSecrets.JWT_SECRET, { algorithm: 'HS512', expiresIn: 60 }), 'INVALID_TOKEN'],
    ['no tenant_id', () => sign({ sub: 'x' }, testSecrets.JWT_SECRET, { expiresIn: 60 }), 'INVALID_TOKEN'],
    ['no exp', () => sign({ tenant_id: 'x' }), 'INVALID_TOKEN'],
    ['not a JWT', () => 'not.a.jwt', 'INVALID_TOKEN'],
  ])('rejects a token that is %s with 401', async (_name, token, code) => {
    const res = await stats({ Authorization: `Bearer ${token()}` });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe(code);
  });

  it('answers a valid token for a tenant that does not exist 404, as any unknown tenant', async () => {
    const token = sign({ tenant_id: 'ghost-tenant' }, testSecrets.JWT_SECRET, { expiresIn: 60 });
    const res = await stats({ Authorization: `Bearer ${token}` });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('TENANT_NOT_FOUND');
  });
});

describe('resolution by subdomain', () => {
  let subdomain: string;
  beforeAll(async () => {
    subdomain = (await sys.admin('get', `/tenants/${a.tenantId}`)).body.subdomain;
  });

  it('accepts the subdomain’s own key', async () => {
    const res = await stats({ Host: `${subdomain}.${BASE_DOMAIN}`, 'X-API-Key': a.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.tenantId).toBe(a.tenantId);
  });

  it('answers 403 for another tenant’s key on this subdomain', async () => {
    const res = await stats({ Host: `${subdomain}.${BASE_DOMAIN}`, 'X-API-Key': b.apiKey });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('TENANT_MISMATCH');
  });

  it('identifies but does not authenticate: no key → 401', async () => {
    const res = await stats({ Host: `${subdomain}.${BASE_DOMAIN}` });
    expect(res.status).toBe(401);
  });

  it('answers 404 for an unknown subdomain', async () => {
    expect((await stats({ Host: `nobody-here.${BASE_DOMAIN}`, 'X-API-Key': a.apiKey })).status).toBe(404);
  });
});

describe('tenant isolation end to end', () => {
  const waId = '15550001234';

  it('keeps A’s mapping from B, even when B claims to be A', async () => {
    const created = await gw().post('/state/mapping').set('X-API-Key', a.apiKey).send({ waId, contactName: 'Zoë', conversationId: 'conv-a' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ waId, contactName: 'Zoë', conversationId: 'conv-a' });
    expect((await gw().get(`/state/mapping/${waId}`).set('X-API-Key', a.apiKey)).status).toBe(200);

    const asB = await gw().get(`/state/mapping/${waId}`).set('X-API-Key', b.apiKey);
    expect(asB.status).toBe(404);
    expect(asB.body.error.code).toBe('MAPPING_NOT_FOUND');
    const forged = await gw().get(`/state/mapping/${waId}`).set('X-API-Key', b.apiKey).set('X-Tenant-ID', a.tenantId);
    expect(forged.status).toBe(404);
    const bStats = await stats({ 'X-API-Key': b.apiKey, 'X-Tenant-ID': a.tenantId });
    expect(bStats.body).toMatchObject({ tenantId: b.tenantId, totalMappings: 0 });
    const bConversations = await gw().get('/state/conversations').set('X-API-Key', b.apiKey).set('X-Tenant-ID', a.tenantId);
    expect(bConversations.body.conversations).toEqual([]);
    const aStats = await stats({ 'X-API-Key': a.apiKey });
    expect(aStats.body).toMatchObject({ totalMappings: 1, activeConversations: 1 });
  });

  it('updates a mapping in place (200) without losing fields', async () => {
    const res = await gw().post('/state/mapping').set('X-API-Key', a.apiKey).send({ waId, conversationId: 'conv-a2' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ waId, contactName: 'Zoë', conversationId: 'conv-a2' });
  });

  it('refuses a service reached directly with a forged X-Tenant-ID', async () => {
    const res = await request(sys.urls['state-manager']).get('/state/stats').set('X-Tenant-ID', a.tenantId);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_INTERNAL_TOKEN');
    const wrong = await request(sys.urls['state-manager']).get('/state/stats').set('X-Tenant-ID', a.tenantId).set('X-Internal-Token', 'guess');
    expect(wrong.status).toBe(401);
    const auth = await request(sys.urls['auth-service']).post('/auth/token').set('X-Tenant-ID', a.tenantId).set('X-Tenant-Auth', 'api-key');
    expect(auth.status).toBe(401);
  });

  it('counts messages from the usage counters', async () => {
    await ownerQuery(
      sys.tdb,
      `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, genesys_message_id, message_type)
       SELECT $1, d, $2, CASE WHEN d = 'inbound' THEN 'wamid.' || g END, CASE WHEN d = 'outbound' THEN 'gen-' || g END, 'text'
         FROM generate_series(1, 5) g, unnest(ARRAY['inbound', 'outbound']) d`,
      [a.tenantId, waId],
    );
    const res = await stats({ 'X-API-Key': a.apiKey });
    expect(res.body).toMatchObject({ totalMessages: 10, todayMessages: 10 });
    expect((await stats({ 'X-API-Key': b.apiKey })).body.totalMessages).toBe(0);
  });
});

describe('conversations', () => {
  it('pages newest first with a cursor', async () => {
    const t = await sys.createTenant();
    for (let i = 0; i < 5; i++) {
      await ownerQuery(sys.tdb, `INSERT INTO conversation_mappings (tenant_id, wa_id, last_message_at) VALUES ($1, $2, now() - $3 * interval '1 minute')`, [t.tenantId, `1555000000${i}`, i]);
    }
    const first = await gw().get('/state/conversations?limit=2').set('X-API-Key', t.apiKey);
    expect(first.status).toBe(200);
    expect(first.body.conversations.map((c: { waId: string }) => c.waId)).toEqual(['15550000000', '15550000001']);
    const seen = [...first.body.conversations];
    let cursor = first.body.nextCursor;
    while (cursor) {
      const page = await gw().get(`/state/conversations?limit=2&cursor=${cursor}`).set('X-API-Key', t.apiKey);
      seen.push(...page.body.conversations);
      cursor = page.body.nextCursor;
    }
    expect(seen.map((c) => c.waId)).toEqual(['15550000000', '15550000001', '15550000002', '15550000003', '15550000004']);
  });

  it.each([['limit=0'], ['limit=101'], ['limit=abc'], ['cursor=bm9wZQ'], ['other=1']])('rejects %s with 400 naming the field', async (query) => {
    const res = await gw().get(`/state/conversations?${query}`).set('X-API-Key', a.apiKey);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(query.split('=')[0]);
  });
});

describe('bad input', () => {
  it.each([
    [{}, 'waId'],
    [{ waId: 'x' }, 'waId'],
    [{ waId: '1555 000', contactName: 'x' }, 'waId'],
    [{ waId: '15550001111', contactName: 42 }, 'contactName'],
    [{ waId: '15550001111', extra: 1 }, 'extra'],
  ])('POST /state/mapping %j → 400 naming %s', async (body, field) => {
    const res = await gw().post('/state/mapping').set('X-API-Key', a.apiKey).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });

  it('answers malformed JSON 400, a huge body 413, an unknown route 404', async () => {
    const malformed = await gw().post('/state/mapping').set('X-API-Key', a.apiKey).set('Content-Type', 'application/json').send('{"waId":');
    expect(malformed.status).toBe(400);
    const huge = await gw().post('/state/mapping').set('X-API-Key', a.apiKey).send({ waId: '15550001111', contactName: 'x'.repeat(100_000) });
    expect(huge.status).toBe(413);
    expect((await gw().get('/state/nothing-here').set('X-API-Key', a.apiKey)).status).toBe(404);
    expect((await gw().get('/elsewhere')).status).toBe(404);
    expect((await gw().get('/state/mapping/%E0%A4%A').set('X-API-Key', a.apiKey)).status).toBeLessThan(500);
  });
});

describe('oversized headers', () => {
  it('are refused with 431 in the contract’s JSON shape', async () => {
    const { port } = new URL(sys.urls.gateway);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET /state/stats HTTP/1.1\r\nHost: x\r\nX-API-Key: ${a.apiKey}\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1.1 431/);
    expect(JSON.parse(raw.split('\r\n\r\n')[1]).error.code).toBe('HEADERS_TOO_LARGE');
  });
});

describe('rate limits', () => {
  it('answers the (rateLimit+1)-th request in a minute with 429 and standard headers; other tenants unaffected', async () => {
    const limited = await sys.createTenant({ rateLimit: 3 });
    for (let i = 0; i < 3; i++) {
      const ok = await stats({ 'X-API-Key': limited.apiKey });
      expect(ok.status).toBe(200);
      expect(ok.headers.ratelimit).toMatch(/limit=3/);
    }
    const res = await stats({ 'X-API-Key': limited.apiKey });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.headers['ratelimit-policy']).toMatch(/^3;w=60/);
    expect((await stats({ 'X-API-Key': b.apiKey })).status).toBe(200);
  });

  it('limits a key with its own limit below the tenant’s', async () => {
    const t = await sys.createTenant({ rateLimit: 100 });
    const key = await sys.admin('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'tight', rateLimit: 2 });
    await stats({ 'X-API-Key': key.body.apiKey }).expect(200);
    await stats({ 'X-API-Key': key.body.apiKey }).expect(200);
    expect((await stats({ 'X-API-Key': key.body.apiKey })).status).toBe(429);
    expect((await stats({ 'X-API-Key': t.apiKey })).status).toBe(200);
  });
});

describe('suspension', () => {
  it('answers 423 on every route while suspended, and works again once reactivated, without a restart', async () => {
    const t = await sys.createTenant();
    await stats({ 'X-API-Key': t.apiKey }).expect(200);
    const { body: tokenBody } = await gw().post('/auth/token').set('X-API-Key', t.apiKey).expect(200);
    await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended' }).expect(200);
    for (const req of [
      () => stats({ 'X-API-Key': t.apiKey }),
      () => stats({ Authorization: `Bearer ${tokenBody.token}` }),
      () => gw().get('/state/conversations').set('X-API-Key', t.apiKey),
      () => gw().post('/state/mapping').set('X-API-Key', t.apiKey).send({ waId: '15550009999' }),
      () => gw().get('/state/mapping/15550009999').set('X-API-Key', t.apiKey),
      () => gw().post('/auth/token').set('X-API-Key', t.apiKey),
    ]) {
      const res = await req();
      expect(res.status).toBe(423);
      expect(res.body.error.code).toBe('TENANT_SUSPENDED');
    }
    await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'active' }).expect(200);
    expect((await stats({ 'X-API-Key': t.apiKey })).status).toBe(200);
  });

  it('treats a deleted tenant’s key as unknown at once', async () => {
    const t = await sys.createTenant({ tenantId: uniqueTenantId('gone') });
    await stats({ 'X-API-Key': t.apiKey }).expect(200);
    await sys.admin('delete', `/tenants/${t.tenantId}`).expect(204);
    expect((await stats({ 'X-API-Key': t.apiKey })).status).toBe(401);
  });
});

describe('a service that is down', () => {
  it('answers 503 in the contract’s shape, quickly', async () => {
    await sys.services['state-manager']!.close();
    const started = Date.now();
    const res = await stats({ 'X-API-Key': a.apiKey });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', requestId: expect.any(String) });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
