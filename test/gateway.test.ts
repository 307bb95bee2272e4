import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, TenantTokenKeyring, createCache, hashApiKey, jwtSecretId, platformKey, tenantKey, type RunningService } from '@bridge/shared';
import { start as startGateway } from '../gateway/src/server';
import { startTestSystem, type TestSystem } from './support/system';
import { testSecrets } from './support/env';
import { ownerQuery } from './support/db';
import { eventually } from './support/eventually';
import { uniqueTenantId } from './support/ids';

/** The tenant API through the gateway, with the in-process cache (one node). */
let sys: TestSystem;
let gw: () => request.Agent;
let a: { tenantId: string; apiKey: string };
let b: { tenantId: string; apiKey: string };
const BASE_DOMAIN = 'bridge.test';

beforeAll(async () => {
  // Many tests here fail authentication on purpose, all from 127.0.0.1: a budget that does not get in their way.
  sys = await startTestSystem({ env: { BASE_DOMAIN, LAST_USED_FLUSH_MS: '200', AUTH_FAILURE_IP_BURST: '10000' } });
  gw = () => request.agent(sys.urls.gateway);
  a = await sys.createTenant({ subdomain: `a${Date.now()}`, apiKeyScopes: ['stats:read', 'mappings:read', 'mappings:write', 'conversations:read'] });
  b = await sys.createTenant();
});

afterAll(() => sys.stop());

const stats = (headers: Record<string, string>) => gw().get('/state/stats').set(headers);

/** The tenant's first key's lastUsedAt once it is written (within 5 s), or null. */
async function recordedUse(tenantId: string): Promise<string | null> {
  const deadline = Date.now() + 5000;
  let lastUsedAt: string | null = null;
  while (!lastUsedAt && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    lastUsedAt = (await sys.admin('get', `/tenants/${tenantId}/api-keys`)).body[0].lastUsedAt;
  }
  return lastUsedAt;
}

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
    expect(await recordedUse(b.tenantId)).not.toBeNull();
  });
});

describe('resolution by JWT', () => {
  it('exchanges an API key for a token the gateway accepts, naming the key, the issuer and the audience', async () => {
    const res = await gw().post('/auth/token').set('X-API-Key', a.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token: expect.any(String), expiresIn: 900 });
    const { header, payload } = jwt.decode(res.body.token, { complete: true })!;
    const [key] = (await sys.admin('get', `/tenants/${a.tenantId}/api-keys`)).body;
    expect(header).toMatchObject({ alg: 'HS256', kid: jwtSecretId(testSecrets.JWT_SECRET) });
    expect(payload).toMatchObject({
      tenant_id: a.tenantId,
      key_id: key.id,
      iss: TOKEN_ISSUER,
      aud: TOKEN_AUDIENCE,
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
    });
    const viaToken = await stats({ Authorization: `Bearer ${res.body.token}` });
    expect(viaToken.status).toBe(200);
    expect(viaToken.body.tenantId).toBe(a.tenantId);
  });

  it('will not exchange a token for a token, whatever headers the client adds', async () => {
    const { body } = await gw().post('/auth/token').set('X-API-Key', a.apiKey);
    const res = await gw().post('/auth/token').set('Authorization', `Bearer ${body.token}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('API_KEY_REQUIRED');
    const forged = await gw().post('/auth/token').set('Authorization', `Bearer ${body.token}`).set('X-Tenant-Auth', 'api-key').set('X-Tenant-Key-Id', randomUUID());
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('API_KEY_REQUIRED');
  });

  const ring = new TenantTokenKeyring([testSecrets.JWT_SECRET]);
  const sign = (payload: object, secret = testSecrets.JWT_SECRET, opts: jwt.SignOptions = {}) =>
    jwt.sign(payload, secret, { algorithm: 'HS256', keyid: jwtSecretId(testSecrets.JWT_SECRET), issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, ...opts });
  const claims = () => ({ tenant_id: a.tenantId, key_id: randomUUID() });

  it.each([
    ['expired', () => sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 60 }), 'TOKEN_EXPIRED'],
    ['wrong secret', () => sign(claims(), 'another-secret-entirely-0123456789', { expiresIn: 60 }), 'INVALID_TOKEN'],
    ['alg none', () => `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ tenant_id: 'x', exp: 9999999999 })).toString('base64url')}.`, 'INVALID_TOKEN'],
    ['HS512', () => sign(claims(), testSecrets.JWT_SECRET, { algorithm: 'HS512', expiresIn: 60 }), 'INVALID_TOKEN'],
    ['no tenant_id', () => sign({ key_id: randomUUID() }, testSecrets.JWT_SECRET, { expiresIn: 60 }), 'INVALID_TOKEN'],
    ['no key_id (as minted before tokens named their key)', () => jwt.sign({ tenant_id: a.tenantId }, testSecrets.JWT_SECRET, { algorithm: 'HS256', expiresIn: 60 }), 'INVALID_TOKEN'],
    ['for another audience', () => sign(claims(), testSecrets.JWT_SECRET, { expiresIn: 60, audience: 'elsewhere' }), 'INVALID_TOKEN'],
    ['no exp', () => sign(claims()), 'INVALID_TOKEN'],
    ['not a JWT', () => 'not.a.jwt', 'INVALID_TOKEN'],
    ['of a key the tenant never had', () => ring.sign({ tenantId: a.tenantId, keyId: randomUUID() }, 60).token, 'TOKEN_REVOKED'],
  ])('rejects a token that is %s with 401', async (_name, token, code) => {
    const res = await stats({ Authorization: `Bearer ${token()}` });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe(code);
  });

  it('answers a valid token for a tenant that does not exist 404, as any unknown tenant', async () => {
    const token = ring.sign({ tenantId: 'ghost-tenant', keyId: randomUUID() }, 60).token;
    const res = await stats({ Authorization: `Bearer ${token}` });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('TENANT_NOT_FOUND');
  });
});

/** #9 kind 3: a token stands only while the key it was issued with does. */
describe('tokens end with what issued them', () => {
  const mint = async (apiKey: string) => (await gw().post('/auth/token').set('X-API-Key', apiKey).expect(200)).body.token as string;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  it('revoking the key ends its tokens on the next request, caches warm', async () => {
    const t = await sys.createTenant();
    const key = await sys.admin('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'to-revoke' });
    const token = await mint(key.body.apiKey);
    await stats(bearer(token)).expect(200);
    await stats(bearer(token)).expect(200);
    await sys.admin('delete', `/tenants/${t.tenantId}/api-keys/${key.body.id}`).expect(204);
    expect((await stats({ 'X-API-Key': key.body.apiKey })).body.error.code).toBe('API_KEY_REVOKED');
    const res = await stats(bearer(token));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('TOKEN_REVOKED');
    // The tenant's other keys, and their tokens, carry on.
    await stats(bearer(await mint(t.apiKey))).expect(200);
  });

  it('holds tokens to their key’s own limit, counted with the key’s requests', async () => {
    const t = await sys.createTenant({ rateLimit: 100 });
    const key = await sys.admin('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'tight', rateLimit: 2 });
    const token = await mint(key.body.apiKey); // the key's first request this minute
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await stats(bearer(token))).status);
    expect(statuses).toEqual([200, 429, 429, 429, 429]);
    const limited = await stats({ 'X-API-Key': key.body.apiKey });
    expect(limited.status).toBe(429);
    expect(limited.headers['ratelimit-policy']).toMatch(/^2;w=60/);
    await stats({ 'X-API-Key': t.apiKey }).expect(200);
  });

  it('a tenant deleted and created again under the same id refuses the old tenant’s tokens', async () => {
    const tenantId = uniqueTenantId('reborn');
    const before = await sys.createTenant({ tenantId });
    const oldToken = await mint(before.apiKey);
    await stats(bearer(oldToken)).expect(200);
    await sys.admin('delete', `/tenants/${tenantId}`).expect(204);
    expect((await stats(bearer(oldToken))).status).toBe(404);
    // Its rows are purged in the background; its id can be taken again once that is done.
    await eventually(async () => (await sys.admin('get', `/tenants/${tenantId}/deletion`)).body.state === 'done', 30_000, 'the purge');
    const after = await sys.createTenant({ tenantId });
    const res = await stats(bearer(oldToken));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('TOKEN_REVOKED');
    await stats(bearer(await mint(after.apiKey))).expect(200);
  });

  it('counts a token’s use as its key’s use', async () => {
    const t = await sys.createTenant();
    const token = await mint(t.apiKey);
    // The exchange itself was a use of the key: wait for it to be written, then forget it.
    expect(await recordedUse(t.tenantId)).not.toBeNull();
    await ownerQuery(sys.tdb, 'UPDATE tenant_api_keys SET last_used_at = NULL WHERE tenant_id = $1', [t.tenantId]);
    await stats(bearer(token)).expect(200);
    expect(await recordedUse(t.tenantId)).not.toBeNull();
  });
});

/** JWT_SECRET replaced without downtime: gateways accept the previous secret's tokens for a while. */
describe('rotating JWT_SECRET', () => {
  const NEXT = 'the-next-jwt-secret-0123456789abcdef01234567';
  let rotated: RunningService;
  let retired: RunningService;
  const at = (g: RunningService) => request(`http://127.0.0.1:${g.port}`);

  beforeAll(async () => {
    // Mid-rotation: signs (were it auth-service) with the next secret, still accepts the current one.
    rotated = await startGateway({ ...sys.serviceEnv, PORT: '0', JWT_SECRET: NEXT, JWT_PREVIOUS_SECRETS: testSecrets.JWT_SECRET });
    // After it: the previous secret dropped.
    retired = await startGateway({ ...sys.serviceEnv, PORT: '0', JWT_SECRET: NEXT });
  });
  afterAll(async () => {
    await rotated.close();
    await retired.close();
  });

  it('accepts tokens of the new secret and of the previous one while both are listed, and only the new one after', async () => {
    const current = (await gw().post('/auth/token').set('X-API-Key', a.apiKey).expect(200)).body.token;
    const [key] = (await sys.admin('get', `/tenants/${a.tenantId}/api-keys`)).body;
    const next = new TenantTokenKeyring([NEXT]).sign({ tenantId: a.tenantId, keyId: key.id }, 60).token;

    expect((await at(rotated).get('/state/stats').set('Authorization', `Bearer ${current}`)).status).toBe(200);
    expect((await at(rotated).get('/state/stats').set('Authorization', `Bearer ${next}`)).status).toBe(200);
    expect((await at(retired).get('/state/stats').set('Authorization', `Bearer ${next}`)).status).toBe(200);
    const old = await at(retired).get('/state/stats').set('Authorization', `Bearer ${current}`);
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('INVALID_TOKEN');
    // A gateway that has not heard of the next secret yet refuses its tokens: roll gateways out first.
    expect((await stats({ Authorization: `Bearer ${next}` })).status).toBe(401);
  });
});

/** #9 kind 2: what strangers can make the gateway do before it knows who they are. */
describe('budgets per client address', () => {
  let budgeted: RunningService;
  let unproxied: RunningService;
  const at = (g: RunningService) => request(`http://127.0.0.1:${g.port}`);
  const randomKey = () => `sk_${randomBytes(32).toString('base64url')}`;
  /** A request as a client at `ip` behind the one proxy the budgeted gateway trusts. */
  const from = (ip: string, headers: Record<string, string> = {}) => at(budgeted).get('/state/stats').set({ 'X-Forwarded-For': ip, ...headers });
  const processCache = createCache();

  beforeAll(async () => {
    const budgets = { AUTH_FAILURE_IP_BURST: '20', AUTH_FAILURE_IP_PER_MINUTE: '60', WEBHOOK_IP_BURST: '5', WEBHOOK_IP_PER_MINUTE: '60' };
    budgeted = await startGateway({ ...sys.serviceEnv, ...budgets, PORT: '0', TRUST_PROXY_HOPS: '1' });
    unproxied = await startGateway({ ...sys.serviceEnv, ...budgets, PORT: '0', AUTH_FAILURE_IP_BURST: '3' });
  });
  afterAll(async () => {
    await budgeted.close();
    await unproxied.close();
  });

  it('a flood of random keys from one client gets 401s, then 429s before any lookup, while a known tenant keeps getting 200', async () => {
    const known = await sys.createTenant();
    const knownHash = hashApiKey(known.apiKey);
    const flood: Array<{ key: string; status: number }> = [];
    const knownStatuses: number[] = [];
    let flooding = true;
    const floodRun = (async () => {
      for (let batch = 0; batch < 16; batch++) {
        const keys = Array.from({ length: 25 }, randomKey);
        const answers = await Promise.all(keys.map((key) => from('198.51.100.7', { 'X-API-Key': key })));
        answers.forEach((res, i) => flood.push({ key: keys[i], status: res.status }));
      }
      flooding = false;
    })();
    // Meanwhile the known tenant, from elsewhere, with its cache entries gone each time (a database lookup each).
    while (flooding) {
      await processCache.del(platformKey('apikey', knownHash), tenantKey(known.tenantId, 'tenant'));
      knownStatuses.push((await from('198.51.100.8', { 'X-API-Key': known.apiKey })).status);
    }
    await floodRun;

    expect(knownStatuses.length).toBeGreaterThan(0);
    expect(knownStatuses.filter((s) => s !== 200)).toEqual([]);
    const count = (status: number) => flood.filter((f) => f.status === status).length;
    expect(count(401) + count(429)).toBe(flood.length);
    // The first batch was in flight before any failure was counted; after it, a token a second at most.
    expect(count(401)).toBeLessThanOrEqual(25 + 20);
    expect(count(429)).toBeGreaterThanOrEqual(flood.length - 45);
    // Refused keys were never looked up: not even a "no such key" was cached for them.
    const refused = flood.filter((f) => f.status === 429).slice(-50);
    for (const { key } of refused) expect(await processCache.get(platformKey('apikey', hashApiKey(key)))).toBeNull();
  });

  it('answers 429 with Retry-After and RateLimit headers, to that client only, also for a good key', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await from('203.0.113.5', { 'X-API-Key': randomKey() });
      expect(res.status).toBe(401);
      expect(res.headers.ratelimit).toMatch(new RegExp(`^limit=20, remaining=${19 - i}, reset=\\d+$`));
    }
    const res = await from('203.0.113.5', { 'X-API-Key': a.apiKey });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('TOO_MANY_AUTH_FAILURES');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.headers['ratelimit-policy']).toBe('20;w=20');
    expect(res.headers.ratelimit).toMatch(/^limit=20, remaining=0, reset=\d+$/);
    expect((await from('203.0.113.6', { 'X-API-Key': a.apiKey })).status).toBe(200);
    // A bad token costs as much as a bad key.
    for (let i = 0; i < 20; i++) expect((await from('203.0.113.7', { Authorization: `Bearer not.a.jwt${i}` })).status).toBe(401);
    expect((await from('203.0.113.7', { Authorization: 'Bearer not.a.jwt' })).status).toBe(429);
  });

  it('does not count expired tokens, which only we could have signed and clients renew on', async () => {
    const [key] = (await sys.admin('get', `/tenants/${a.tenantId}/api-keys`)).body;
    const ring = new TenantTokenKeyring([testSecrets.JWT_SECRET]);
    const expired = jwt.sign({ tenant_id: a.tenantId, key_id: key.id, exp: Math.floor(Date.now() / 1000) - 10 }, testSecrets.JWT_SECRET, {
      algorithm: 'HS256',
      keyid: ring.keyId,
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
    });
    for (let i = 0; i < 30; i++) expect((await from('203.0.113.8', { Authorization: `Bearer ${expired}` })).body.error.code).toBe('TOKEN_EXPIRED');
  });

  it('counts IPv6 clients by their /56 network', async () => {
    for (let i = 0; i < 20; i++) await from('2001:db8:1:100::1', { 'X-API-Key': randomKey() }).expect(401);
    expect((await from('2001:db8:1:1ff::2', { 'X-API-Key': randomKey() })).status).toBe(429);
    expect((await from('2001:db8:1:200::1', { 'X-API-Key': randomKey() })).status).toBe(401);
  });

  it('believes only the X-Forwarded-For entry its trusted proxy added, and none without TRUST_PROXY_HOPS', async () => {
    // Behind one proxy: whatever the client put before the proxy's entry changes nothing.
    for (let i = 0; i < 20; i++) await from(`10.0.0.${i}, 203.0.113.9`, { 'X-API-Key': randomKey() }).expect(401);
    expect((await from('10.9.9.9, 203.0.113.9', { 'X-API-Key': randomKey() })).status).toBe(429);
    // No proxy trusted: the address is the connection's, whatever the header says.
    const direct = (i: number) => at(unproxied).get('/state/stats').set({ 'X-Forwarded-For': `192.0.2.${i}`, 'X-API-Key': randomKey() });
    for (let i = 0; i < 3; i++) expect((await direct(i)).status).toBe(401);
    expect((await direct(3)).status).toBe(429);
  });

  it('spends a token per request to /webhook/* (webhooks, media links); none left → 429 with Retry-After, that client only', async () => {
    const handshake = (ip: string) => at(budgeted).get('/webhook/meta?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1').set('X-Forwarded-For', ip);
    for (let i = 0; i < 5; i++) {
      const res = await handshake('198.51.100.20');
      expect(res.status).not.toBe(429);
      expect(res.headers.ratelimit).toMatch(new RegExp(`^limit=5, remaining=${4 - i}, reset=\\d+$`));
    }
    const res = await handshake('198.51.100.20');
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('CLIENT_RATE_LIMITED');
    expect(res.headers['retry-after']).toBe('1');
    expect(res.headers['ratelimit-policy']).toBe('5;w=5');
    const media = await at(budgeted).get(`/webhook/media/${a.tenantId}/123?exp=1&sig=x`).set('X-Forwarded-For', '198.51.100.20');
    expect(media.status).toBe(429);
    expect((await handshake('198.51.100.21')).status).not.toBe(429);
    // A second later the bucket has a token again.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await handshake('198.51.100.20')).status).not.toBe(429);
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
    const noReason = await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.message).toMatch(/^reason: /);
    expect((await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended', reason: 'x'.repeat(501) })).status).toBe(400);
    await stats({ 'X-API-Key': t.apiKey }).expect(200);
    const reason = 'Unpaid invoice 2026-11, call billing';
    const suspended = await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended', reason }).expect(200);
    expect(suspended.body).toMatchObject({ status: 'suspended', suspendedReason: reason, suspendedAt: expect.any(String) });
    expect((await sys.admin('get', `/tenants/${t.tenantId}`).expect(200)).body).toMatchObject({ suspendedReason: reason, suspendedAt: suspended.body.suspendedAt });
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
      expect(res.body.error.message).toBe(`This tenant is suspended: ${reason}`);
      // Nothing secret: not the caller's key, nor the token.
      expect(JSON.stringify(res.body)).not.toContain(t.apiKey);
      expect(JSON.stringify(res.body)).not.toContain(tokenBody.token);
    }
    const active = await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'active' }).expect(200);
    expect(active.body).toMatchObject({ status: 'active', suspendedReason: null, suspendedAt: null });
    expect((await sys.admin('get', `/tenants/${t.tenantId}`).expect(200)).body).toMatchObject({ suspendedReason: null, suspendedAt: null });
    expect((await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'active', reason })).status).toBe(400);
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
