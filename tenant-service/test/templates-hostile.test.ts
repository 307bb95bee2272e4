import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { Express } from 'express';
import { CredentialCipher, Database, MemoryCache, createLogger } from '@bridge/shared';
import { createTenantService } from '../src/app';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { testSecrets } from '../../test/support/env';
import { uniqueNumericId, uniqueTenantId } from '../../test/support/ids';

/**
 * The template sync against a Graph API that answers what it likes (issue #11, attack pass): odd
 * items, strings PostgreSQL cannot store, a `paging.next` that points elsewhere, cursors that loop,
 * listings and pages too large. Whatever it answers, the sync either stores a complete listing or
 * fails with 502 TEMPLATE_SYNC_FAILED changing nothing; never a 500, never the token outside Meta.
 */
const ADMIN = `Bearer ${testSecrets.ADMIN_API_KEY}`;

/** What the hostile Graph answers to a listing request (its query), or a raw body. */
type Answer = (query: URLSearchParams) => unknown;
let answer: Answer = () => ({ data: [] });
/** Every request either server received: its path, query and Authorization header. */
const received: Array<{ server: 'graph' | 'elsewhere'; path: string; query: string; authorization?: string }> = [];

function server(name: 'graph' | 'elsewhere'): Promise<http.Server> {
  const s = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    received.push({ server: name, path: url.pathname, query: url.search, authorization: req.headers.authorization });
    const body = name === 'graph' ? answer(url.searchParams) : { data: [{ name: 'planted', language: 'en', status: 'APPROVED', components: [] }] };
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(text);
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

let graph: http.Server;
let elsewhere: http.Server;
let elsewhereUrl: string;
let tdb: TestDatabase;
let db: Database;
let cache: MemoryCache;
let app: Express;
let close: () => Promise<void>;
const logLines: string[] = [];

beforeAll(async () => {
  [graph, elsewhere] = [await server('graph'), await server('elsewhere')];
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  cache = new MemoryCache();
  ({ app, close } = createTenantService({
    db,
    cache,
    cipher: new CredentialCipher(testSecrets.CREDENTIALS_ENCRYPTION_KEY),
    logger: createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void logLines.push(line) } }),
    adminApiKey: testSecrets.ADMIN_API_KEY,
    internalCallers: {},
    meta: { graphUrl: `http://127.0.0.1:${(graph.address() as AddressInfo).port}/v23.0`, timeoutMs: 5_000 },
  }));
});
afterAll(async () => {
  await close();
  await db.close();
  await cache.close();
  await tdb.drop();
  await Promise.all([graph, elsewhere].map((s) => new Promise((r) => s.close(r))));
});

const admin = (method: 'get' | 'post', url: string) => request(app)[method](url).set('Authorization', ADMIN);
const item = (name: string, extra: Record<string, unknown> = {}) => ({ id: uniqueNumericId(), name, language: 'en_US', status: 'APPROVED', category: 'UTILITY', components: [{ type: 'BODY', text: `Hi {{1}}, ${name}` }], ...extra });

/** A tenant with Meta credentials (their background sync ran against an empty listing), and its token. */
async function tenant(): Promise<{ tenantId: string; token: string }> {
  const tenantId = uniqueTenantId('hostile');
  const token = `EAAG-hostile-${uniqueNumericId()}-secret`;
  await admin('post', '/tenants').send({ tenantId, name: tenantId }).expect(201);
  answer = () => ({ data: [] });
  await admin('post', `/tenants/${tenantId}/credentials`)
    .send({ type: 'meta', credentials: { appSecret: 'app-secret-1234', verifyToken: 'verify-1234', accessToken: token, phoneNumberId: uniqueNumericId(), wabaId: uniqueNumericId() } })
    .expect(201);
  // The background sync has run (or is running): a sync now waits for nothing of it.
  await admin('post', `/tenants/${tenantId}/templates/sync`).expect(200);
  return { tenantId, token };
}

const sync = (tenantId: string) => admin('post', `/tenants/${tenantId}/templates/sync`);
const names = async (tenantId: string) => ((await admin('get', `/tenants/${tenantId}/templates`).expect(200)).body.templates as Array<{ name: string }>).map((t) => t.name);

describe('a Graph API that lists odd templates', () => {
  it('stores strings PostgreSQL refuses (U+0000, half a surrogate pair) and components of the wrong shape without a 500; both listings still read', async () => {
    const { tenantId } = await tenant();
    answer = () => ({
      data: [
        item('nul_body', { components: [{ type: 'BODY', text: 'Hi {{1}}\u0000 there' }, { type: 'FOOTER', text: 'cut \ud83d' }], category: 'UTILITY\u0000' }),
        item('odd_shapes', { components: [{ type: 'BODY', text: 7 }, { type: 'BUTTONS', buttons: [null, { type: 'URL', url: { x: 1 } }] }, 'junk', null] }),
        item('fine'),
      ],
    });
    const res = await sync(tenantId);
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { templates: 3, syncedAt: expect.any(String) } });
    const listed = (await admin('get', `/tenants/${tenantId}/templates`).expect(200)).body.templates as Array<Record<string, unknown>>;
    expect(listed.map((t) => [t.name, t.body, (t.parameters as { total: number }).total, t.category])).toEqual([
      ['fine', 'Hi {{1}}, fine', 1, 'UTILITY'],
      ['nul_body', 'Hi {{1}}\ufffd there', 1, 'UTILITY'],
      ['odd_shapes', '', 0, 'UTILITY'],
    ]);
  });

  it('skips items whose language is not a language code (markup, line breaks), and says how many', async () => {
    const { tenantId } = await tenant();
    answer = () => ({ data: [item('a', { language: '<img src=x>' }), item('b', { language: 'en_US\r\n' }), item('c', { language: "en'; --" }), item('d')] });
    logLines.length = 0;
    expect((await sync(tenantId)).body.templates).toBe(1);
    expect(await names(tenantId)).toEqual(['d']);
    const skipped = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'templates without a usable name or language skipped');
    expect(skipped).toMatchObject({ tenantId, skipped: 3 });
  });
});

describe('a Graph API whose paging misleads', () => {
  it('never follows paging.next elsewhere: the next page is asked of Graph, with the cursor; the token goes nowhere else', async () => {
    const { tenantId, token } = await tenant();
    received.length = 0;
    answer = (query) =>
      query.get('after') === 'c2'
        ? { data: [item('second')] }
        : { data: [item('first')], paging: { cursors: { after: 'c2' }, next: `${elsewhereUrl}/v23.0/steal?after=c2` } };
    expect((await sync(tenantId)).status).toBe(200);
    expect((await names(tenantId)).sort()).toEqual(['first', 'second']);
    expect(received.map((r) => [r.server, new URLSearchParams(r.query).get('after')])).toEqual([
      ['graph', null],
      ['graph', 'c2'],
    ]);
    expect(received.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
  });

  it('refuses a cursor that comes back after other pages (a loop): 502, the catalogue as it was', async () => {
    const { tenantId } = await tenant();
    answer = () => ({ data: [item('kept')] });
    await sync(tenantId).expect(200);
    let calls = 0;
    answer = (query) => {
      calls++;
      const next = query.get('after') === 'a' ? 'b' : 'a';
      return { data: [item(`loop_${calls}`)], paging: { cursors: { after: next }, next: 'more' } };
    };
    const res = await sync(tenantId);
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 502, code: 'TEMPLATE_SYNC_FAILED' });
    expect(res.body.error.message).toContain('the paging cursor repeats');
    expect(calls).toBe(3);
    expect(await names(tenantId)).toEqual(['kept']);
  });
});

describe('a Graph API that answers too much', () => {
  it('refuses a listing of more templates than a sync reads (10,000), even on one page: 502, the catalogue as it was', async () => {
    const { tenantId } = await tenant();
    answer = () => ({ data: [item('kept')] });
    await sync(tenantId).expect(200);
    const many = Array.from({ length: 10_001 }, (_, i) => ({ name: `t${i}`, language: 'en', status: 'APPROVED', components: [] }));
    answer = () => ({ data: many });
    const res = await sync(tenantId);
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 502, code: 'TEMPLATE_SYNC_FAILED' });
    expect(res.body.error.message).toContain('more than 10000 templates');
    expect(await names(tenantId)).toEqual(['kept']);
  });

  it('refuses a page larger than a listing page can be, without reading it whole: 502, the catalogue as it was', async () => {
    const { tenantId } = await tenant();
    answer = () => ({ data: [item('kept')] });
    await sync(tenantId).expect(200);
    const huge = 'x'.repeat(12 * 1024 * 1024);
    answer = () => ({ data: [item('huge', { components: [{ type: 'BODY', text: huge }] })] });
    const res = await sync(tenantId);
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 502, code: 'TEMPLATE_SYNC_FAILED' });
    expect(res.body.error.message).toMatch(/page is larger than \d+ bytes/);
    expect(await names(tenantId)).toEqual(['kept']);
  });

  it('answers an answer that is not JSON, or not a listing, with 502', async () => {
    const { tenantId } = await tenant();
    for (const body of ['<html>nope</html>', 'null', '{"data":{"0":{}}}', '[1,2]']) {
      answer = () => body;
      const res = await sync(tenantId);
      expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 502, code: 'TEMPLATE_SYNC_FAILED' });
    }
  });
});

describe('between tenants and without the admin key', () => {
  it('a sync replaces only its own tenant’s catalogue, even when two tenants name one WABA', async () => {
    const [a, b] = [await tenant(), await tenant()];
    answer = () => ({ data: [item('of_b')] });
    await sync(b.tenantId).expect(200);
    answer = () => ({ data: [item('of_a')] });
    await sync(a.tenantId).expect(200);
    answer = () => ({ data: [] });
    await sync(a.tenantId).expect(200);
    expect(await names(a.tenantId)).toEqual([]);
    expect(await names(b.tenantId)).toEqual(['of_b']);
  });

  it('refuses the template routes without the admin key, or with another key: 401, nothing synced', async () => {
    const { tenantId, token } = await tenant();
    received.length = 0;
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${token}`, `Basic ${Buffer.from(`admin:${testSecrets.ADMIN_API_KEY}`).toString('base64')}`]) {
      for (const [method, url] of [
        ['post', `/tenants/${tenantId}/templates/sync`],
        ['get', `/tenants/${tenantId}/templates`],
      ] as const) {
        const req = request(app)[method](url);
        if (auth) req.set('Authorization', auth);
        const res = await req;
        expect({ auth, url, status: res.status }).toEqual({ auth, url, status: 401 });
      }
    }
    expect(received).toEqual([]);
  });

  it('never writes the token in a log line', async () => {
    const { token } = await tenant();
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => l.includes(token))).toEqual([]);
    const [{ n }] = await ownerQuery<{ n: number }>(tdb, 'SELECT count(*)::int AS n FROM message_templates WHERE components::text LIKE $1', [`%${token}%`]);
    expect(n).toBe(0);
  });
});
