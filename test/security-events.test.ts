import request from 'supertest';
import { ownerQuery } from './support/db';
import { eventually } from './support/eventually';
import { startTestSystem, type TestSystem } from './support/system';

/**
 * Security events in the audit trail (issue #13), through the gateway: revoked and expired keys
 * (and their tokens) used, a key used on another tenant's subdomain, a request for another
 * tenant's message, a key used from a new address. Each is in the key's tenant's trail
 * (GET /state/audit, without what only the platform sees) and in GET /audit?type=security.
 * Events are counted per key per window: a window of 1 s here.
 */
let sys: TestSystem;
let a: { tenantId: string; apiKey: string };
let b: { tenantId: string; apiKey: string };
let subdomainOfA: string;
const BASE_DOMAIN = 'bridge.test';
const CLIENT = '203.0.113.50';
const gw = () => request(sys.urls.gateway);

beforeAll(async () => {
  sys = await startTestSystem({
    env: { BASE_DOMAIN, LAST_USED_FLUSH_MS: '100', AUTH_FAILURE_IP_BURST: '10000', SECURITY_EVENT_WINDOW_SECONDS: '1', TRUST_PROXY_HOPS: '1' },
  });
  subdomainOfA = `sa${Date.now()}`;
  a = await sys.createTenant({ subdomain: subdomainOfA });
  b = await sys.createTenant();
});
afterAll(() => sys.stop());

interface AdminEvent {
  tenantId: string | null;
  actor: string;
  action: string;
  target: string;
  after: { count: number; first: Record<string, unknown>; internal?: Record<string, unknown>; ip?: string; previousIp?: string | null; firstUse?: boolean };
  clientIp: string | null;
  requestId: string | null;
}

/** The tenant's security events as admins see them (GET /audit?type=security). */
async function securityEvents(tenantId: string): Promise<AdminEvent[]> {
  const res = await sys.admin('get', `/audit?tenant=${tenantId}&type=security&limit=200`).expect(200);
  return res.body.events;
}

/** The occurrences counted for `action` on `target` once they add up to `count` (a window may split them). */
async function counted(tenantId: string, action: string, target: string, count: number): Promise<AdminEvent[]> {
  return eventually(async () => {
    const rows = (await securityEvents(tenantId)).filter((e) => e.action === action && e.target === target);
    return rows.reduce((n, e) => n + e.after.count, 0) === count && rows;
  }, 15_000, `${count} × ${action} on ${target}`);
}

async function newKey(tenantId: string, body: Record<string, unknown> = {}): Promise<{ id: string; apiKey: string }> {
  const res = await sys.admin('post', `/tenants/${tenantId}/api-keys`).send({ name: 'k', ...body });
  expect(res.status).toBe(201);
  return res.body;
}

const stateAudit = async (apiKey: string) => (await gw().get('/state/audit?type=security&limit=200').set('X-API-Key', apiKey).expect(200)).body.events as Array<Record<string, unknown>>;

describe('keys that no longer work', () => {
  it('a revoked key, and a token issued with it, used: one event per key per window with the count, the client’s address, never the key', async () => {
    const key = await newKey(a.tenantId);
    const token = (await gw().post('/auth/token').set('X-API-Key', key.apiKey).expect(200)).body.token as string;
    await sys.admin('delete', `/tenants/${a.tenantId}/api-keys/${key.id}`).expect(204);
    for (let i = 0; i < 2; i++) {
      const res = await gw().get('/state/stats').set({ 'X-API-Key': key.apiKey, 'X-Forwarded-For': CLIENT });
      expect(res.body.error.code).toBe('API_KEY_REVOKED');
    }
    expect((await gw().get('/state/stats').set({ Authorization: `Bearer ${token}`, 'X-Forwarded-For': CLIENT })).body.error.code).toBe('TOKEN_REVOKED');

    const rows = await counted(a.tenantId, 'security.revoked_key_used', `api_key:${key.id}`, 3);
    expect(rows[0]).toMatchObject({ tenantId: a.tenantId, actor: `key:${key.id}`, clientIp: CLIENT, requestId: expect.any(String) });
    expect(rows[0].after.first).toMatchObject({ method: 'GET', path: '/state/stats' });
    const text = JSON.stringify(rows);
    expect(text).not.toContain(key.apiKey);
    expect(text).not.toContain(token);
  });

  it('an expired key used: security.expired_key_used with its expiry', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const key = await newKey(a.tenantId, { expiresAt });
    await eventually(() => Date.now() > Date.parse(expiresAt), 10_000, 'the expiry');
    expect((await gw().get('/state/stats').set({ 'X-API-Key': key.apiKey, 'X-Forwarded-For': CLIENT })).body.error.code).toBe('API_KEY_EXPIRED');
    const [row] = await counted(a.tenantId, 'security.expired_key_used', `api_key:${key.id}`, 1);
    expect(row).toMatchObject({ actor: `key:${key.id}`, clientIp: CLIENT, after: { count: 1, first: { via: 'api-key', expiresAt } } });
  });
});

describe('a key on another tenant’s subdomain', () => {
  it('403 TENANT_MISMATCH, recorded in the key’s tenant’s trail; the other tenant’s id only admins see', async () => {
    const res = await gw().get('/state/stats').set({ Host: `${subdomainOfA}.${BASE_DOMAIN}`, 'X-API-Key': b.apiKey, 'X-Forwarded-For': CLIENT });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('TENANT_MISMATCH');
    const keyId = (await sys.admin('get', `/tenants/${b.tenantId}/api-keys`).expect(200)).body[0].id;
    const [row] = await counted(b.tenantId, 'security.tenant_mismatch', `api_key:${keyId}`, 1);
    expect(row.after).toMatchObject({ first: { subdomain: subdomainOfA, via: 'api-key' }, internal: { subdomainTenant: a.tenantId } });

    const shown = (await stateAudit(b.apiKey)).filter((e) => e.action === 'security.tenant_mismatch');
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatchObject({ actor: `key:${keyId}`, clientIp: CLIENT, after: { count: 1, first: { subdomain: subdomainOfA } } });
    expect(JSON.stringify(shown)).not.toContain(a.tenantId);
    expect((await stateAudit(a.apiKey)).filter((e) => e.action === 'security.tenant_mismatch')).toEqual([]);
  });
});

describe('a request for another tenant’s message', () => {
  it('answers 404 as for any unknown id, and records security.foreign_object in the asking tenant’s trail only', async () => {
    const [{ id }] = await ownerQuery<{ id: string }>(
      sys.tdb,
      `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type) VALUES ($1, 'inbound', '15550001111', $2, 'text') RETURNING id::text`,
      [a.tenantId, `wamid.foreign-${Date.now()}`],
    );
    const foreign = await gw().get(`/messages/${id}`).set({ 'X-API-Key': b.apiKey, 'X-Forwarded-For': CLIENT });
    const unknown = await gw().get('/messages/999999999999').set({ 'X-API-Key': b.apiKey, 'X-Forwarded-For': CLIENT });
    expect([foreign.status, foreign.body.error.code]).toEqual([404, 'MESSAGE_NOT_FOUND']);
    expect(foreign.body.error.message).toBe(unknown.body.error.message);

    const [row] = await counted(b.tenantId, 'security.foreign_object', `message:${id}`, 1);
    // The client's address, as the gateway resolved it behind its trusted proxy (not the proxy's).
    expect(row).toMatchObject({ actor: expect.stringMatching(/^key:/), clientIp: CLIENT, after: { first: { route: 'GET /messages/:id' }, internal: { ownerTenant: a.tenantId } } });
    const shown = (await stateAudit(b.apiKey)).filter((e) => e.action === 'security.foreign_object');
    expect(shown).toEqual([expect.objectContaining({ target: `message:${id}`, after: { count: 1, window: expect.any(Object), first: { route: 'GET /messages/:id' } } })]);
    expect((await stateAudit(a.apiKey)).filter((e) => e.action === 'security.foreign_object')).toEqual([]);
  });
});

describe('a key used from a new address', () => {
  it('is recorded once per address: its first use, then each address it had not been used from', async () => {
    const key = await newKey(a.tenantId);
    const use = (ip: string) => gw().get('/state/stats').set({ 'X-API-Key': key.apiKey, 'X-Forwarded-For': ip }).expect(200);
    const newIp = async () => (await securityEvents(a.tenantId)).filter((e) => e.action === 'security.key_new_ip' && e.target === `api_key:${key.id}`);
    const lastUsedIp = async () => ((await sys.admin('get', `/tenants/${a.tenantId}/api-keys`).expect(200)).body as Array<{ id: string; lastUsedIp: string | null }>).find((k) => k.id === key.id)!.lastUsedIp;

    await use('198.51.100.1');
    await use('198.51.100.1');
    await eventually(async () => (await newIp()).length === 1, 10_000, 'the first use recorded');
    await use('198.51.100.2');
    const events = await eventually(async () => {
      const rows = await newIp();
      return rows.length === 2 && rows;
    }, 10_000, 'the new address recorded');
    expect(events.map((e) => [e.actor, e.clientIp, e.after.ip, e.after.previousIp, e.after.firstUse])).toEqual([
      [`key:${key.id}`, '198.51.100.2', '198.51.100.2', '198.51.100.1', false],
      [`key:${key.id}`, '198.51.100.1', '198.51.100.1', null, true],
    ]);
    // Back to a known address: its use is recorded (the flush ran), and no event.
    await use('198.51.100.1');
    await eventually(async () => (await lastUsedIp()) === '198.51.100.1', 10_000, 'the use recorded');
    expect(await newIp()).toHaveLength(2);
    const shown = (await stateAudit(a.apiKey)).filter((e) => e.action === 'security.key_new_ip' && e.target === `api_key:${key.id}`);
    expect(shown.map((e) => e.clientIp)).toEqual(['198.51.100.2', '198.51.100.1']);
  });
});

describe('GET /audit?type=security', () => {
  it('lists security events only, of every chain', async () => {
    const res = await sys.admin('get', '/audit?type=security&limit=200').expect(200);
    expect(res.body.events.length).toBeGreaterThan(0);
    expect(res.body.events.every((e: AdminEvent) => e.action.startsWith('security.'))).toBe(true);
    const all = await sys.admin('get', '/audit?limit=200').expect(200);
    expect(all.body.events.some((e: AdminEvent) => !e.action.startsWith('security.'))).toBe(true);
  });
});
