import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { API_KEY_SCOPES, DEFAULT_API_KEY_SCOPES, TOKEN_AUDIENCE, TOKEN_ISSUER, hashApiKey, jwtSecretId, type ApiKeyScope } from '@bridge/shared';
import { ROUTE_SCOPES } from '../gateway/src/scopes';
import { startTestSystem, type TestSystem } from './support/system';
import { testSecrets } from './support/env';
import { eventually } from './support/eventually';

/**
 * API keys like the best platforms do them (issue #13), through the gateway: scopes per route,
 * tokens that carry no more than their key, expiry, browser origins (CORS), and what the admin
 * list shows for rotation.
 */
let sys: TestSystem;
let tenantId: string;
const gw = () => request(sys.urls.gateway);

beforeAll(async () => {
  sys = await startTestSystem({ env: { LAST_USED_FLUSH_MS: '100', AUTH_FAILURE_IP_BURST: '10000' } });
  ({ tenantId } = await sys.createTenant());
});
afterAll(() => sys.stop());

async function newKey(body: Record<string, unknown> = {}): Promise<{ id: string; apiKey: string; scopes: string[] }> {
  const res = await sys.admin('post', `/tenants/${tenantId}/api-keys`).send({ name: 'k', ...body });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** One request per tenant route of the table: what it needs. */
const ROUTES: Array<{ scope: ApiKeyScope; call: (headers: Record<string, string>) => request.Test }> = [
  { scope: 'stats:read', call: (h) => gw().get('/state/stats').set(h) },
  { scope: 'conversations:read', call: (h) => gw().get('/state/conversations').set(h) },
  { scope: 'messages:read', call: (h) => gw().get('/state/messages').set(h) },
  { scope: 'messages:retry', call: (h) => gw().post('/state/messages/1/retry').set(h) },
  { scope: 'messages:read', call: (h) => gw().get(`/messages/${randomUUID()}`).set(h) },
  { scope: 'mappings:read', call: (h) => gw().get('/state/mapping/15550001234').set(h) },
  { scope: 'mappings:write', call: (h) => gw().post('/state/mapping').set(h).send({ waId: '15550001234', conversationId: 'conv-1' }) },
  { scope: 'messages:send', call: (h) => gw().post('/messages').set(h).send({ to: '15550001234', text: 'hi' }) },
  { scope: 'templates:read', call: (h) => gw().get('/templates').set(h) },
  { scope: 'usage:read', call: (h) => gw().get('/state/usage').set(h) },
  { scope: 'audit:read', call: (h) => gw().get('/state/audit').set(h) },
  { scope: 'notifications:read', call: (h) => gw().get('/state/notifications').set(h) },
];

describe('scopes', () => {
  it('the table names every scope but none twice for one route, and this test calls every route of it', () => {
    expect(new Set(ROUTE_SCOPES.map((r) => r.scope).filter(Boolean))).toEqual(new Set(API_KEY_SCOPES));
    expect(ROUTES.length).toBe(ROUTE_SCOPES.length - 1); // all but POST /auth/token (any key)
  });

  it.each(ROUTES.map((r, i) => [`${r.scope} (${i})`, r] as const))('%s: a key holding it passes, a key holding every other scope gets 403 naming it', async (_name, route) => {
    const holder = await newKey({ scopes: [route.scope] });
    const allowed = await route.call({ 'X-API-Key': holder.apiKey });
    expect(allowed.status).not.toBe(403);
    expect(allowed.body.error?.code).not.toBe('INSUFFICIENT_SCOPE');
    const others = await newKey({ scopes: API_KEY_SCOPES.filter((s) => s !== route.scope) });
    const refused = await route.call({ 'X-API-Key': others.apiKey });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('INSUFFICIENT_SCOPE');
    expect(refused.body.error.message).toContain(route.scope);
  });

  it('a key created without scopes gets the read scopes: it reads, it cannot write or send', async () => {
    const key = await newKey();
    expect(key.scopes).toEqual([...DEFAULT_API_KEY_SCOPES]);
    expect(key.scopes.every((s) => s.endsWith(':read'))).toBe(true);
    expect((await gw().get('/state/stats').set('X-API-Key', key.apiKey)).status).toBe(200);
    const write = await gw().post('/state/mapping').set('X-API-Key', key.apiKey).send({ waId: '15550009876' });
    expect(write.status).toBe(403);
    expect(write.body.error.message).toContain('mappings:write');
    expect((await gw().post('/messages').set('X-API-Key', key.apiKey).send({ to: '15550009876', text: 'x' })).body.error.message).toContain('messages:send');
  });

  it('no spelling of a path gets past the table: other case, trailing slash → same scope; unknown tenant routes → 404', async () => {
    const reader = await newKey({ scopes: ['stats:read'] });
    const upper = await gw().post('/State/MAPPING').set('X-API-Key', reader.apiKey).send({ waId: '15550009877' });
    expect(upper.status).toBe(403);
    expect(upper.body.error.code).toBe('INSUFFICIENT_SCOPE');
    expect((await gw().get('/state/stats/').set('X-API-Key', reader.apiKey)).status).toBe(200);
    const unknown = await gw().get('/state/nothing-here').set('X-API-Key', reader.apiKey);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('ROUTE_NOT_FOUND');
    expect((await gw().post('/state//mapping').set('X-API-Key', reader.apiKey).send({})).status).toBe(404);
  });

  it('an unknown scope is refused with 400 naming it; so is an empty list', async () => {
    const res = await sys.admin('post', `/tenants/${tenantId}/api-keys`).send({ name: 'k', scopes: ['stats:read', 'stats:write'] });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.message).toContain('scopes.1: unknown scope stats:write');
    expect((await sys.admin('post', `/tenants/${tenantId}/api-keys`).send({ name: 'k', scopes: [] })).status).toBe(400);
    const tenant = await sys.admin('post', '/tenants').send({ tenantId: `scopes-${Date.now()}`, name: 'x', apiKeyScopes: ['everything'] });
    expect(tenant.status).toBe(400);
    expect(tenant.body.error.message).toContain('unknown scope everything');
  });
});

describe('tokens carry their key’s scopes, never more', () => {
  it('POST /auth/token works with any key; the token’s scope claim is the key’s, whatever headers the client adds', async () => {
    const key = await newKey({ scopes: ['stats:read'] });
    const res = await gw().post('/auth/token').set('X-API-Key', key.apiKey).set('X-Tenant-Scopes', API_KEY_SCOPES.join(' '));
    expect(res.status).toBe(200);
    expect(jwt.decode(res.body.token)).toMatchObject({ key_id: key.id, scope: 'stats:read' });
    const bearer = { Authorization: `Bearer ${res.body.token}` };
    expect((await gw().get('/state/stats').set(bearer)).status).toBe(200);
    const write = await gw().post('/state/mapping').set(bearer).send({ waId: '15550001000' });
    expect(write.status).toBe(403);
    expect(write.body.error).toMatchObject({ code: 'INSUFFICIENT_SCOPE', message: expect.stringContaining('mappings:write') });
  });

  it('a token claiming more than its key holds gets only the key’s scopes', async () => {
    const key = await newKey({ scopes: ['stats:read'] });
    const token = jwt.sign({ tenant_id: tenantId, key_id: key.id, scope: API_KEY_SCOPES.join(' ') }, testSecrets.JWT_SECRET, {
      algorithm: 'HS256',
      keyid: jwtSecretId(testSecrets.JWT_SECRET),
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      expiresIn: 60,
    });
    expect((await gw().get('/state/stats').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const res = await gw().get('/state/conversations').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('conversations:read');
    // And one claiming less than its key holds gets only what it claims.
    const wide = await newKey({ scopes: ['stats:read', 'conversations:read'] });
    const narrow = jwt.sign({ tenant_id: tenantId, key_id: wide.id, scope: 'stats:read' }, testSecrets.JWT_SECRET, {
      algorithm: 'HS256',
      keyid: jwtSecretId(testSecrets.JWT_SECRET),
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      expiresIn: 60,
    });
    expect((await gw().get('/state/conversations').set('Authorization', `Bearer ${narrow}`)).status).toBe(403);
  });
});

describe('expiry', () => {
  it('refuses an expiresAt in the past or not an ISO time with 400', async () => {
    for (const expiresAt of [new Date(Date.now() - 60_000).toISOString(), 'tomorrow', '2030-01-01']) {
      const res = await sys.admin('post', `/tenants/${tenantId}/api-keys`).send({ name: 'k', expiresAt });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('expiresAt');
    }
  });

  it('an expired key answers 401 API_KEY_EXPIRED, and its tokens stop with it', async () => {
    const expiresAt = new Date(Date.now() + 3000).toISOString();
    const key = await newKey({ expiresAt });
    expect(key).toMatchObject({ expiresAt });
    const { body } = await gw().post('/auth/token').set('X-API-Key', key.apiKey).expect(200);
    expect((await gw().get('/state/stats').set('X-API-Key', key.apiKey)).status).toBe(200);
    expect((await gw().get('/state/stats').set('Authorization', `Bearer ${body.token}`)).status).toBe(200);
    // Wait for the time to pass (a condition, not a guess), then both are refused at once.
    await eventually(() => Date.now() > Date.parse(expiresAt), 10_000, 'the expiry');
    const byKey = await gw().get('/state/stats').set('X-API-Key', key.apiKey);
    expect(byKey.status).toBe(401);
    expect(byKey.body.error.code).toBe('API_KEY_EXPIRED');
    const byToken = await gw().get('/state/stats').set('Authorization', `Bearer ${body.token}`);
    expect(byToken.status).toBe(401);
    expect(byToken.body.error.code).toBe('API_KEY_EXPIRED');
    expect((await gw().post('/auth/token').set('X-API-Key', key.apiKey)).body.error.code).toBe('API_KEY_EXPIRED');
  });
});

describe('browser origins (CORS)', () => {
  const ORIGIN = 'https://app.example.com';

  it('answers a preflight for a tenant route without a key: the methods and headers the API uses, no credentials', async () => {
    const res = await gw()
      .options('/state/stats')
      .set('Origin', 'https://anywhere.example')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'x-api-key');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://anywhere.example');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toMatch(/X-API-Key/);
    expect(res.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    // An OPTIONS that is no preflight is a request like any other: it needs credentials.
    expect((await gw().options('/state/stats')).status).toBe(401);
  });

  it('grants a listed origin, refuses one not listed with 403, and a key listing none from every browser', async () => {
    const key = await newKey({ allowedOrigins: [ORIGIN, 'http://localhost:5173'] });
    expect(key).toMatchObject({ allowedOrigins: [ORIGIN, 'http://localhost:5173'] });
    const ok = await gw().get('/state/stats').set('X-API-Key', key.apiKey).set('Origin', ORIGIN);
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(ok.headers.vary).toMatch(/Origin/);
    expect(ok.headers['access-control-allow-credentials']).toBeUndefined();

    const other = await gw().get('/state/stats').set('X-API-Key', key.apiKey).set('Origin', 'https://evil.example');
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('ORIGIN_NOT_ALLOWED');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();

    const { body } = await gw().post('/auth/token').set('X-API-Key', key.apiKey).set('Origin', ORIGIN).expect(200);
    expect((await gw().get('/state/stats').set('Authorization', `Bearer ${body.token}`).set('Origin', ORIGIN)).status).toBe(200);
    expect((await gw().get('/state/stats').set('Authorization', `Bearer ${body.token}`).set('Origin', 'https://evil.example')).status).toBe(403);

    const serverKey = await newKey();
    const browser = await gw().get('/state/stats').set('X-API-Key', serverKey.apiKey).set('Origin', ORIGIN);
    expect(browser.status).toBe(403);
    expect(browser.body.error.code).toBe('ORIGIN_NOT_ALLOWED');
    // Without an Origin (a server, curl) nothing changes.
    expect((await gw().get('/state/stats').set('X-API-Key', serverKey.apiKey)).status).toBe(200);
  });

  it('refuses allowedOrigins that are not exact origins with 400', async () => {
    for (const origin of ['https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'ftp://app.example.com', 'https://APP.example.com', '*']) {
      const res = await sys.admin('post', `/tenants/${tenantId}/api-keys`).send({ name: 'k', allowedOrigins: [origin] });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('allowedOrigins.0');
    }
  });
});

describe('rotation', () => {
  it('both keys work until the old one is revoked; the list shows last use and its address, scopes, expiry, origins — never the key or its hash', async () => {
    const old = await newKey({ scopes: ['stats:read'] });
    const fresh = await newKey({ scopes: ['stats:read'], allowedOrigins: ['https://app.example.com'] });
    await gw().get('/state/stats').set('X-API-Key', old.apiKey).expect(200);
    await gw().get('/state/stats').set('X-API-Key', fresh.apiKey).expect(200);
    const listed = await eventually(async () => {
      const { body } = await sys.admin('get', `/tenants/${tenantId}/api-keys`).expect(200);
      const k = (body as Array<{ id: string; lastUsedAt: string | null }>).find((x) => x.id === old.id);
      return k?.lastUsedAt ? body : undefined;
    }, 10_000, 'the recorded use');
    const entry = listed.find((x: { id: string }) => x.id === old.id);
    expect(entry).toMatchObject({ scopes: ['stats:read'], expiresAt: null, allowedOrigins: null, lastUsedAt: expect.any(String), lastUsedIp: '127.0.0.1' });
    expect(listed.find((x: { id: string }) => x.id === fresh.id)).toMatchObject({ allowedOrigins: ['https://app.example.com'] });
    const text = JSON.stringify(listed);
    for (const k of [old, fresh]) {
      expect(text).not.toContain(k.apiKey);
      expect(text).not.toContain(hashApiKey(k.apiKey));
    }
    await sys.admin('delete', `/tenants/${tenantId}/api-keys/${old.id}`).expect(204);
    expect((await gw().get('/state/stats').set('X-API-Key', old.apiKey)).body.error.code).toBe('API_KEY_REVOKED');
    expect((await gw().get('/state/stats').set('X-API-Key', fresh.apiKey)).status).toBe(200);
  });
});
