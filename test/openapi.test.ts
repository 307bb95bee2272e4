import { writeFileSync } from 'node:fs';
import request from 'supertest';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { validate as validateOpenApi } from '@readme/openapi-parser';
import { buildTextMessage, wamidOf } from '@bridge/simulators';
import { ROUTE_SCOPES, scopeFor } from '../gateway/src/scopes';
import { samplePath } from '../gateway/src/openapi';
import { adminRoutes } from '../tenant-service/src/routes';
import { auditRoutes } from '../tenant-service/src/audit-routes';
import { deadLetterRoutes } from '../tenant-service/src/dead-letters-routes';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';
import { uniqueNumericId } from './support/ids';

/**
 * The API documents (issue #16) against the running platform: both are valid OpenAPI 3.1; every
 * documented operation is called, answering with success and with an error, and each answer's
 * status and body are what the document says (ajv, JSON Schema 2020-12); every route of the
 * gateway's scope table and every admin route registered in Express is documented. So the
 * documents cannot drift from the code.
 */
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components?: Record<string, unknown> };
type Operation = { responses: Record<string, { content?: Record<string, { schema: object }> }>; 'x-required-scope'?: string | null; security?: object[] };

let bridge: Bridge;
let gateway: string;
let admin: string;
let adminKey: string;
const docs: { tenant?: Doc; admin?: Doc } = {};
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
/** What was called: `api method path` → the statuses seen (each validated). OPENAPI_DUMP=<file>: every answer written there, to write a response schema from. */
const seen = new Map<string, Set<number>>();
const dump: unknown[] = [];

beforeAll(async () => {
  bridge = await startBridge({ env: { DELIVERY_RETRY_BUDGET_MS: '2000' } });
  gateway = bridge.sys.urls.gateway;
  admin = bridge.sys.urls['tenant-service'];
  adminKey = bridge.sys.adminApiKey;
  // Each suite may run alone (-t): the documents are read here, and checked below.
  for (const [api, base] of [['tenant', gateway], ['admin', admin]] as const) docs[api] = (await request(base).get('/openapi.json')).body;
}, 30_000);

afterAll(async () => {
  if (process.env.OPENAPI_DUMP) writeFileSync(process.env.OPENAPI_DUMP, JSON.stringify(dump, null, 1));
  await bridge.stop();
});

/** Checks an answer of `method path` (a path of the document) against the document: its status is documented, its body matches. */
function conforms(api: 'tenant' | 'admin', method: string, path: string, res: request.Response): void {
  const doc = docs[api]!;
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`${method} ${path} is not in the ${api} document`);
  const documented = op.responses[String(res.status)];
  dump.push({ api, method, path, status: res.status, body: res.body });
  if (!documented) throw new Error(`${method} ${path} answered ${res.status}, which the ${api} document does not list: ${JSON.stringify(res.body)}`);
  const schema = documented.content?.['application/json']?.schema;
  if (res.status === 204 || !schema) {
    expect(res.text ?? '').toBe('');
  } else {
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const check = ajv.compile({ ...schema, components: doc.components });
    if (!check(res.body)) throw new Error(`${method} ${path} ${res.status}: the body does not match the document: ${ajv.errorsText(check.errors)}\n${JSON.stringify(res.body).slice(0, 2000)}`);
  }
  const key = `${api} ${method} ${path}`;
  seen.set(key, (seen.get(key) ?? new Set()).add(res.status));
}

/** Calls `method path` of `api` (`{param}`s from `params`) and checks the answer; returns it. */
async function call(
  api: 'tenant' | 'admin',
  method: 'get' | 'post' | 'patch' | 'delete',
  path: string,
  o: { params?: Record<string, string>; query?: string; body?: object; key?: string | null; headers?: Record<string, string> } = {},
): Promise<request.Response> {
  const url = path.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(o.params?.[name] ?? `missing-${name}`)) + (o.query ? `?${o.query}` : '');
  let req = request(api === 'tenant' ? gateway : admin)[method](url);
  if (api === 'admin' && o.key !== null) req = req.set('Authorization', `Bearer ${o.key ?? adminKey}`);
  if (api === 'tenant' && o.key !== null && o.key !== undefined) req = req.set('X-API-Key', o.key);
  for (const [h, v] of Object.entries(o.headers ?? {})) req = req.set(h, v);
  const res = o.body !== undefined ? await req.send(o.body) : await req;
  conforms(api, method, path, res);
  return res;
}

async function expectStatus(res: Promise<request.Response>, status: number): Promise<request.Response> {
  const r = await res;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r;
}

describe('the documents', () => {
  it('are served without credentials, as valid OpenAPI 3.1, each route with its security', async () => {
    for (const [api, base] of [['tenant', gateway], ['admin', admin]] as const) {
      const res = await request(base).get('/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe('3.1.0');
      expect(res.body).toEqual(docs[api]);
      // A deep copy: the validator dereferences in place.
      await expect(validateOpenApi(structuredClone(res.body))).resolves.toMatchObject({ valid: true });
      for (const [path, ops] of Object.entries(res.body.paths as Doc['paths'])) {
        for (const [method, op] of Object.entries(ops)) {
          expect({ route: `${method} ${path}`, security: op.security?.length ?? 0 }).toEqual({ route: `${method} ${path}`, security: expect.any(Number) });
          expect(op.security!.length).toBeGreaterThan(0);
          expect(op.responses['500'] ?? op.responses['401']).toBeDefined();
        }
      }
    }
    expect(Object.keys(docs.tenant!.components!.securitySchemes as object).sort()).toEqual(['apiKey', 'bearerJwt']);
    expect(Object.keys(docs.admin!.components!.securitySchemes as object)).toEqual(['adminKey']);
  });

  it('serve the documentation page from the package, under a CSP without inline script', async () => {
    for (const base of [gateway, admin]) {
      const page = await request(base).get('/docs');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
      // Every script is a file of ours: no inline script, nothing from a CDN.
      const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attrs, inline] of scripts) {
        expect(inline.trim()).toBe('');
        expect(attrs).toMatch(/src="\/docs\//);
      }
      expect(page.text).not.toMatch(/https?:\/\//);
      for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/init.js']) {
        const res = await request(base).get(asset);
        expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
        expect(res.text.length).toBeGreaterThan(10);
      }
      expect((await request(base).get('/docs/init.js')).text).toContain("'/openapi.json'");
      // Nothing else of the package is served (its index.html would point at the petstore).
      expect((await request(base).get('/docs/index.html')).status).toBe(base === gateway ? 404 : 401);
    }
  });

  it('document every route of the gateway scope table, with its scope', () => {
    const doc = docs.tenant!;
    const ops = Object.entries(doc.paths).flatMap(([path, o]) => Object.entries(o).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
    for (const row of ROUTE_SCOPES) {
      const documented = ops.filter((o) => o.method === row.method && row.path.test(samplePath(o.path)));
      expect({ route: `${row.method} ${row.path}`, documented: documented.length }).toEqual({ route: `${row.method} ${row.path}`, documented: 1 });
      expect(documented[0].op['x-required-scope']).toBe(row.scope);
    }
    // And nothing the table does not name (the gateway would answer it 404).
    for (const o of ops) expect({ route: `${o.method} ${o.path}`, scope: scopeFor(o.method, samplePath(o.path)) }).not.toEqual({ route: `${o.method} ${o.path}`, scope: undefined });
    expect(ops).toHaveLength(ROUTE_SCOPES.length);
  });

  it('document every admin route registered in Express, and no other', () => {
    const stub = {} as never;
    const registered = [adminRoutes(stub, stub), auditRoutes(stub), deadLetterRoutes(stub, stub)].flatMap((router) =>
      (router.stack as Array<{ route?: { path: string; methods: Record<string, boolean> } }>).flatMap((layer) =>
        layer.route ? Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m]).map((m) => `${m} ${layer.route!.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`) : [],
      ),
    );
    const documented = Object.entries(docs.admin!.paths).flatMap(([path, o]) => Object.keys(o).map((m) => `${m} ${path}`));
    expect(registered.length).toBeGreaterThan(20);
    expect(documented.sort()).toEqual([...new Set(registered)].sort());
  });
});

/** A customer's message dead-lettered while the tenant's Genesys is down; the outage is then lifted. */
async function deadMessage(t: BridgeTenant, from: string): Promise<string> {
  bridge.genesys.setOutage(true, { integrationId: t.integrationId });
  const inbound = buildTextMessage({ phoneNumberId: t.phoneNumberId, from, body: `lost ${from}` });
  const delivered = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload: inbound, appSecret: t.appSecret, maxAttempts: 1 });
  expect(delivered.statuses).toEqual([200]);
  const id = await eventually(async () => {
    const res = await request(gateway).get('/state/messages').set('X-API-Key', t.apiKey);
    const m = (res.body.messages as Array<{ id: string; wamid: string; status: string }>).find((x) => x.wamid === wamidOf(inbound));
    return m?.status === 'dead' ? m.id : undefined;
  }, 15_000, 'dead-lettered');
  bridge.genesys.setOutage(false, { integrationId: t.integrationId });
  return id;
}

describe('every documented route answers as documented', () => {
  let t: BridgeTenant;
  let readOnlyKey: string;

  beforeAll(async () => {
    t = await bridge.onboard({ templates: [{ name: 'order_update', language: 'en_US', body: 'Your order {{1}} is on its way' }] });
    const key = await request(admin).post(`/tenants/${t.tenantId}/api-keys`).set('Authorization', `Bearer ${adminKey}`).send({ name: 'stats only', scopes: ['stats:read'] });
    readOnlyKey = key.body.apiKey;
  }, 30_000);

  it('the tenant API', async () => {
    const k = { key: t.apiKey };
    const token = await expectStatus(call('tenant', 'post', '/auth/token', k), 200);
    await expectStatus(call('tenant', 'post', '/auth/token', { key: 'sk_not-a-key' }), 401);
    // The token works where a key does.
    await expectStatus(call('tenant', 'get', '/state/stats', { key: null, headers: { Authorization: `Bearer ${token.body.token}` } }), 200);
    await expectStatus(call('tenant', 'get', '/state/stats', { key: null }), 401);
    await expectStatus(call('tenant', 'get', '/state/conversations', k), 200);
    await expectStatus(call('tenant', 'get', '/state/conversations', { ...k, query: 'limit=0' }), 400);
    await expectStatus(call('tenant', 'get', '/state/conversations', { key: readOnlyKey }), 403);

    const customer = `1650555${uniqueNumericId().slice(-4)}`;
    await expectStatus(call('tenant', 'post', '/state/mapping', { ...k, body: { waId: customer, contactName: 'Ada' } }), 201);
    await expectStatus(call('tenant', 'post', '/state/mapping', { ...k, body: { waId: customer, contactName: 'Ada L.' } }), 200);
    await expectStatus(call('tenant', 'post', '/state/mapping', { ...k, body: { waId: 'x' } }), 400);
    await expectStatus(call('tenant', 'get', '/state/mapping/{waId}', { ...k, params: { waId: customer } }), 200);
    await expectStatus(call('tenant', 'get', '/state/mapping/{waId}', { ...k, params: { waId: '19995550000' } }), 404);

    const sent = await expectStatus(call('tenant', 'post', '/messages', { ...k, headers: { 'Idempotency-Key': 'order-1' }, body: { to: customer, template: { name: 'order_update', language: 'en_US', parameters: ['A-1'] } } }), 202);
    await expectStatus(call('tenant', 'post', '/messages', { ...k, body: { to: customer, text: 'no window open' } }), 422);
    await expectStatus(call('tenant', 'post', '/messages', { ...k, body: { to: customer } }), 400);
    await expectStatus(call('tenant', 'get', '/messages/{id}', { ...k, params: { id: sent.body.id } }), 200);
    await expectStatus(call('tenant', 'get', '/messages/{id}', { ...k, params: { id: '999999999' } }), 404);

    const dead = await deadMessage(t, customer.replace(/.$/, '9'));
    await expectStatus(call('tenant', 'get', '/state/messages', { ...k, query: 'status=dead' }), 200);
    await expectStatus(call('tenant', 'get', '/state/messages', { ...k, query: 'status=lost' }), 400);
    await expectStatus(call('tenant', 'post', '/state/messages/{id}/retry', { ...k, params: { id: dead } }), 202);
    await expectStatus(call('tenant', 'post', '/state/messages/{id}/retry', { ...k, params: { id: '999999999' } }), 404);
    await expectStatus(call('tenant', 'post', '/state/messages/{id}/retry', { ...k, params: { id: sent.body.id } }), 409);

    await expectStatus(call('tenant', 'get', '/templates', k), 200);
    await expectStatus(call('tenant', 'get', '/templates', { ...k, query: 'status=SOMETIMES' }), 400);
    await expectStatus(call('tenant', 'get', '/state/stats', k), 200);
    await expectStatus(call('tenant', 'get', '/state/usage', k), 200);
    await expectStatus(call('tenant', 'get', '/state/usage', { ...k, query: 'period=last' }), 400);
    await expectStatus(call('tenant', 'get', '/state/audit', k), 200);
    await expectStatus(call('tenant', 'get', '/state/audit', { ...k, query: 'limit=500' }), 400);
    await expectStatus(call('tenant', 'get', '/state/notifications', k), 200);
    await expectStatus(call('tenant', 'get', '/state/notifications', { ...k, query: 'before=abc' }), 400);
  }, 60_000);

  it('the admin API', async () => {
    const tid = t.tenantId;
    const p = { tenantId: tid };
    await expectStatus(call('admin', 'get', '/tenants', { query: 'limit=5' }), 200);
    await expectStatus(call('admin', 'get', '/tenants', { query: 'limit=0' }), 400);
    const other = `oa-${uniqueNumericId().slice(-8)}`;
    await expectStatus(call('admin', 'post', '/tenants', { body: { tenantId: other, name: 'Other' } }), 201);
    await expectStatus(call('admin', 'post', '/tenants', { body: { tenantId: other, name: 'Other' } }), 409);
    await expectStatus(call('admin', 'post', '/tenants', { body: { tenantId: 'X' }, key: 'wrong' }), 401);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}', { params: p }), 200);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}', { params: { tenantId: 'no-such-tenant' } }), 404);
    await expectStatus(call('admin', 'patch', '/tenants/{tenantId}', { params: { tenantId: other }, body: { status: 'suspended', reason: 'unpaid' } }), 200);
    await expectStatus(call('admin', 'patch', '/tenants/{tenantId}', { params: { tenantId: other }, body: {} }), 400);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/usage', { params: p }), 200);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/usage', { params: { tenantId: 'no-such-tenant' } }), 404);

    const plan = `p${uniqueNumericId().slice(-8)}`;
    await expectStatus(call('admin', 'post', '/plans', { body: { name: plan, apiRequestsPerMinute: 100, messagesPerDay: 1000 } }), 201);
    await expectStatus(call('admin', 'post', '/plans', { body: { name: plan, apiRequestsPerMinute: 100 } }), 409);
    await expectStatus(call('admin', 'get', '/plans'), 200);
    await expectStatus(call('admin', 'get', '/plans', { key: null }), 401);
    await expectStatus(call('admin', 'get', '/plans/{name}', { params: { name: plan } }), 200);
    await expectStatus(call('admin', 'get', '/plans/{name}', { params: { name: 'no-such-plan' } }), 404);
    await expectStatus(call('admin', 'patch', '/plans/{name}', { params: { name: plan }, body: { messagesPerDay: null } }), 200);
    await expectStatus(call('admin', 'patch', '/plans/{name}', { params: { name: plan }, body: { hardLimit: 'sometimes' } }), 400);

    await expectStatus(call('admin', 'get', '/unclaimed-changes'), 200);
    await expectStatus(call('admin', 'get', '/unclaimed-changes', { query: 'after=x' }), 400);

    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/credentials', { params: p }), 200);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/credentials', { params: { tenantId: 'no-such-tenant' } }), 404);
    await expectStatus(
      call('admin', 'post', '/tenants/{tenantId}/credentials', {
        params: { tenantId: other },
        body: { type: 'genesys', credentials: { clientId: 'c', clientSecret: 'secret-secret', region: 'mypurecloud.com', integrationId: `int-${uniqueNumericId()}`, webhookSecret: 'webhook-secret-1234' } },
      }),
      201,
    );
    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/credentials', { params: p, body: { type: 'telegram', credentials: {} } }), 400);
    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/credentials/{type}/verify', { params: { ...p, type: 'meta' } }), 200);
    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/credentials/{type}/verify', { params: { ...p, type: 'telegram' } }), 400);

    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/templates/sync', { params: p }), 200);
    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/templates/sync', { params: { tenantId: other } }), 409);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/templates', { params: p, query: 'status=APPROVED' }), 200);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/templates', { params: p, query: 'status=SOMETIMES' }), 400);

    const key = await expectStatus(call('admin', 'post', '/tenants/{tenantId}/api-keys', { params: p, body: { name: 'ci', scopes: ['messages:read'], expiresAt: '2099-01-01T00:00:00Z', allowedOrigins: ['https://app.example.com'] } }), 201);
    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/api-keys', { params: p, body: { name: 'ci', scopes: ['everything'] } }), 400);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/api-keys', { params: p }), 200);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/api-keys', { params: { tenantId: 'no-such-tenant' } }), 404);
    await expectStatus(call('admin', 'delete', '/tenants/{tenantId}/api-keys/{id}', { params: { ...p, id: key.body.id } }), 204);
    await expectStatus(call('admin', 'delete', '/tenants/{tenantId}/api-keys/{id}', { params: { ...p, id: '00000000-0000-0000-0000-000000000000' } }), 404);

    await expectStatus(call('admin', 'get', '/audit', { query: `tenant=${tid}&limit=5` }), 200);
    await expectStatus(call('admin', 'get', '/audit', { query: 'tenant=NOT_A_TENANT' }), 400);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/audit/verify', { params: p }), 200);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/audit/verify', { params: { tenantId: 'NOT_A_TENANT' } }), 400);

    const dead = await deadMessage(t, `1650555${uniqueNumericId().slice(-4)}`);
    const given = await expectStatus(call('admin', 'get', '/tenants/{tenantId}/messages', { params: p, query: 'status=dead' }), 200);
    expect(given.body.messages.map((m: { id: string }) => m.id)).toContain(dead);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/messages', { params: p, query: 'status=lost' }), 400);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/messages', { params: { tenantId: 'no-such-tenant' } }), 404);
    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/messages/{messageId}/retry', { params: { ...p, messageId: dead } }), 202);
    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/messages/{messageId}/retry', { params: { ...p, messageId: '999999999' } }), 404);
    const dead2 = await deadMessage(t, `1650555${uniqueNumericId().slice(-4)}`);
    const bulk = await expectStatus(
      call('admin', 'post', '/tenants/{tenantId}/messages/retry', { params: p, body: { status: 'dead', since: new Date(Date.now() - 3_600_000).toISOString(), until: new Date(Date.now() + 60_000).toISOString() } }),
      200,
    );
    expect(bulk.body.messages.map((m: { id: string }) => m.id)).toContain(dead2);
    await expectStatus(call('admin', 'post', '/tenants/{tenantId}/messages/retry', { params: p, body: { status: 'sent' } }), 400);

    // Last: the deleted tenant's purge.
    await expectStatus(call('admin', 'delete', '/tenants/{tenantId}', { params: { tenantId: other } }), 204);
    await expectStatus(call('admin', 'delete', '/tenants/{tenantId}', { params: { tenantId: other } }), 404);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/deletion', { params: { tenantId: other } }), 200);
    await expectStatus(call('admin', 'get', '/tenants/{tenantId}/deletion', { params: { tenantId: 'never-existed' } }), 404);
  }, 90_000);

  it('covered every documented operation with a success and an error', () => {
    const missing: string[] = [];
    for (const api of ['tenant', 'admin'] as const) {
      for (const [path, ops] of Object.entries(docs[api]!.paths)) {
        for (const method of Object.keys(ops)) {
          const statuses = [...(seen.get(`${api} ${method} ${path}`) ?? [])];
          if (!statuses.some((s) => s < 300)) missing.push(`${api} ${method} ${path}: no success`);
          if (!statuses.some((s) => s >= 400)) missing.push(`${api} ${method} ${path}: no error`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
