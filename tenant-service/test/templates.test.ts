import request from 'supertest';
import type { Express } from 'express';
import { startMetaSimulator, type MetaSimulator, type MetaTemplateComponent } from '@bridge/simulators';
import { CredentialCipher, Database, MemoryCache, checkTemplateRequest, createLogger, listTemplates } from '@bridge/shared';
import { createTenantService } from '../src/app';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { eventually } from '../../test/support/eventually';
import { testSecrets } from '../../test/support/env';
import { uniqueNumericId, uniqueTenantId } from '../../test/support/ids';

/**
 * Each tenant's template catalogue, synced from Meta (the simulator's paged
 * GET /{waba_id}/message_templates): on demand through the admin API and in the background after
 * Meta credentials are stored; read by admins; and the window settings that name a template of it.
 * Real PostgreSQL as the application role.
 */
const ADMIN = `Bearer ${testSecrets.ADMIN_API_KEY}`;

let tdb: TestDatabase;
let db: Database;
let cache: MemoryCache;
let meta: MetaSimulator;
let app: Express;
let close: () => Promise<void>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  cache = new MemoryCache();
  meta = await startMetaSimulator();
  ({ app, close } = createTenantService({
    db,
    cache,
    cipher: new CredentialCipher(testSecrets.CREDENTIALS_ENCRYPTION_KEY),
    logger: createLogger({ name: 'test', level: 'silent' }),
    adminApiKey: testSecrets.ADMIN_API_KEY,
    internalCallers: {},
    meta: { graphUrl: meta.graphUrl, timeoutMs: 5_000 },
  }));
});

afterAll(async () => {
  await close();
  await meta.close();
  await db.close();
  await cache.close();
  await tdb.drop();
});

afterEach(() => meta.clearFaults());

const admin = {
  post: (url: string) => request(app).post(url).set('Authorization', ADMIN),
  get: (url: string) => request(app).get(url).set('Authorization', ADMIN),
  patch: (url: string) => request(app).patch(url).set('Authorization', ADMIN),
};

const ORDER_UPDATE: MetaTemplateComponent[] = [
  { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
  { type: 'BODY', text: 'Hi {{1}}, your order {{2}} ships today.' },
  { type: 'FOOTER', text: 'Acme Ltd' },
  { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Track', url: 'https://acme.example/track/{{1}}' }] },
];

interface WabaTenant {
  tenantId: string;
  wabaId: string;
  phoneNumberId: string;
  accessToken: string;
}

/** A tenant whose WhatsApp number (of its own WABA) the simulator knows; no credentials stored yet. */
async function newTenant(body: Record<string, unknown> = {}): Promise<WabaTenant> {
  const t = { tenantId: uniqueTenantId('tpl'), wabaId: uniqueNumericId(), phoneNumberId: uniqueNumericId(), accessToken: `EAAG-${uniqueNumericId()}-secret-token` };
  meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: t.accessToken, wabaId: t.wabaId });
  await admin.post('/tenants').send({ tenantId: t.tenantId, name: t.tenantId, ...body }).expect(201);
  return t;
}

/** Stores the tenant's Meta credentials (with its wabaId unless `withWaba` is false). */
function storeMeta(t: WabaTenant, options: { withWaba?: boolean; accessToken?: string } = {}) {
  return admin.post(`/tenants/${t.tenantId}/credentials`).send({
    type: 'meta',
    credentials: {
      appSecret: 'meta-app-secret-1234',
      verifyToken: 'verify-token-5678',
      accessToken: options.accessToken ?? t.accessToken,
      phoneNumberId: t.phoneNumberId,
      ...(options.withWaba === false ? {} : { wabaId: t.wabaId }),
    },
  });
}

const templateCalls = (wabaId: string) => meta.calls.filter((c) => c.endpoint === 'templates' && c.wabaId === wabaId);
const names = async (tenantId: string) => ((await admin.get(`/tenants/${tenantId}/templates`).expect(200)).body.templates as Array<{ name: string }>).map((t) => t.name);

/** Stores credentials and waits until their background sync has listed the catalogue. */
async function onboarded(body: Record<string, unknown> = {}, templates: (t: WabaTenant) => void = () => undefined): Promise<WabaTenant> {
  const t = await newTenant(body);
  templates(t);
  await storeMeta(t).expect(201);
  await eventually(async () => (await names(t.tenantId)).length === meta.templates(t.wabaId).length || undefined, 10_000, 'the background sync');
  return t;
}

describe('POST /tenants/:tenantId/templates/sync', () => {
  it('stores the whole catalogue across Graph pages (130 templates, 100 a page), each present once', async () => {
    const t = await newTenant();
    const all = Array.from({ length: 130 }, (_, i) => `tpl_${String(i).padStart(3, '0')}`);
    for (const name of all) meta.addTemplate({ wabaId: t.wabaId, name, language: 'en_US', body: `Hello {{1}}, this is ${name}.` });
    await storeMeta(t).expect(201);
    await eventually(async () => (await names(t.tenantId)).length === 130 || undefined, 10_000, 'the background sync');

    const before = templateCalls(t.wabaId).length;
    const res = await admin.post(`/tenants/${t.tenantId}/templates/sync`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ templates: 130, syncedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
    // Two pages of 100: the cursor of the first asked for the second; nothing more.
    expect(templateCalls(t.wabaId).slice(before).map((c) => c.status)).toEqual([200, 200]);
    expect((await names(t.tenantId)).sort()).toEqual(all);
    const [{ n }] = await ownerQuery<{ n: number }>(tdb, 'SELECT count(*)::int AS n FROM message_templates WHERE tenant_id = $1', [t.tenantId]);
    expect(n).toBe(130);
  });

  it('drops a template deleted at Meta and takes a changed status on the next sync', async () => {
    const t = await onboarded({}, (w) => {
      meta.addTemplate({ wabaId: w.wabaId, name: 'keep_me', language: 'en_US', body: 'Hi {{1}}' });
      meta.addTemplate({ wabaId: w.wabaId, name: 'delete_me', language: 'en_US', body: 'Bye' });
      meta.addTemplate({ wabaId: w.wabaId, name: 'delete_me', language: 'de', body: 'Tschüss' });
    });
    expect((await names(t.tenantId)).sort()).toEqual(['delete_me', 'delete_me', 'keep_me']);

    meta.removeTemplate({ wabaId: t.wabaId, name: 'delete_me', language: 'en_US' });
    meta.setTemplateStatus({ wabaId: t.wabaId, name: 'keep_me', language: 'en_US', status: 'PAUSED' });
    expect((await admin.post(`/tenants/${t.tenantId}/templates/sync`)).body.templates).toBe(2);
    const listed = (await admin.get(`/tenants/${t.tenantId}/templates`)).body.templates;
    expect(listed.map((x: { name: string; language: string; status: string }) => `${x.name}/${x.language}/${x.status}`)).toEqual([
      'delete_me/de/APPROVED',
      'keep_me/en_US/PAUSED',
    ]);
  });

  it('answers 404 for an unknown tenant, 409 META_NOT_CONFIGURED without Meta credentials, 409 WABA_NOT_CONFIGURED without a wabaId', async () => {
    for (const id of [uniqueTenantId('nobody'), 'Not_A_Tenant']) {
      const res = await admin.post(`/tenants/${id}/templates/sync`);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 404, code: 'TENANT_NOT_FOUND' });
    }
    const t = await newTenant();
    const none = await admin.post(`/tenants/${t.tenantId}/templates/sync`);
    expect({ status: none.status, code: none.body.error?.code }).toEqual({ status: 409, code: 'META_NOT_CONFIGURED' });

    await storeMeta(t, { withWaba: false }).expect(201);
    const noWaba = await admin.post(`/tenants/${t.tenantId}/templates/sync`);
    expect({ status: noWaba.status, code: noWaba.body.error?.code }).toEqual({ status: 409, code: 'WABA_NOT_CONFIGURED' });
    expect(templateCalls(t.wabaId)).toEqual([]);
  });

  it('answers 502 TEMPLATE_SYNC_FAILED with what Meta said (never the token) and keeps the catalogue it had', async () => {
    const t = await onboarded({}, (w) => meta.addTemplate({ wabaId: w.wabaId, name: 'still_here', language: 'en', body: 'Hi' }));

    meta.failNext(1, { code: 131000, endpoint: 'templates', message: 'Something went wrong on our side' });
    const refused = await admin.post(`/tenants/${t.tenantId}/templates/sync`);
    expect({ status: refused.status, code: refused.body.error?.code }).toEqual({ status: 502, code: 'TEMPLATE_SYNC_FAILED' });
    expect(refused.body.error.message).toContain('Meta answered 500: (#131000) Something went wrong on our side');

    meta.setOutage(true);
    const down = await admin.post(`/tenants/${t.tenantId}/templates/sync`);
    expect({ status: down.status, code: down.body.error?.code }).toEqual({ status: 502, code: 'TEMPLATE_SYNC_FAILED' });
    expect(down.body.error.message).toContain('131016');
    meta.setOutage(false);

    // A token Meta does not know (190): the message says so without repeating the token.
    const wrongToken = `EAAG-wrong-${uniqueNumericId()}`;
    await storeMeta(t, { accessToken: wrongToken }).expect(201);
    const unauthorised = await admin.post(`/tenants/${t.tenantId}/templates/sync`);
    expect({ status: unauthorised.status, code: unauthorised.body.error?.code }).toEqual({ status: 502, code: 'TEMPLATE_SYNC_FAILED' });
    expect(unauthorised.body.error.message).toContain('Invalid OAuth access token');
    for (const res of [refused, down, unauthorised]) {
      expect(JSON.stringify(res.body)).not.toContain(t.accessToken);
      expect(JSON.stringify(res.body)).not.toContain(wrongToken);
    }
    expect(await names(t.tenantId)).toEqual(['still_here']);
  });

  it('answers 502 when Meta cannot be reached at all, within the timeout', async () => {
    const t = await newTenant();
    await storeMeta(t).expect(201);
    const unreachable = createTenantService({
      db,
      cache,
      cipher: new CredentialCipher(testSecrets.CREDENTIALS_ENCRYPTION_KEY),
      logger: createLogger({ name: 'test', level: 'silent' }),
      adminApiKey: testSecrets.ADMIN_API_KEY,
      internalCallers: {},
      meta: { graphUrl: 'http://127.0.0.1:9/v23.0' },
    });
    try {
      const res = await request(unreachable.app).post(`/tenants/${t.tenantId}/templates/sync`).set('Authorization', ADMIN);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 502, code: 'TEMPLATE_SYNC_FAILED' });
      expect(res.body.error.message).toContain('Meta could not be reached');
      expect(JSON.stringify(res.body)).not.toContain(t.accessToken);
    } finally {
      await unreachable.close();
    }
  });
});

describe('the sync after Meta credentials are stored', () => {
  it('runs in the background: the 201 comes before Meta has answered, and the catalogue follows', async () => {
    const t = await newTenant();
    meta.addTemplate({ wabaId: t.wabaId, name: 'welcome', language: 'en', body: 'Welcome {{1}}' });
    meta.setLatency(1_500);
    const stored = await storeMeta(t);
    expect(stored.status).toBe(201);
    // Meta's listing is recorded when answered: not yet.
    expect(templateCalls(t.wabaId)).toEqual([]);
    expect(await names(t.tenantId)).toEqual([]);
    meta.setLatency(0);
    await eventually(async () => (await names(t.tenantId)).includes('welcome') || undefined, 10_000, 'the background sync');
    expect(templateCalls(t.wabaId).map((c) => c.status)).toEqual([200]);
  });

  it('does not fail the store when Meta refuses; the next sync (on demand) fills the catalogue', async () => {
    const t = await newTenant();
    meta.addTemplate({ wabaId: t.wabaId, name: 'welcome', language: 'en', body: 'Welcome' });
    meta.failNext(1, { code: 131000, endpoint: 'templates' });
    await storeMeta(t).expect(201);
    await eventually(() => templateCalls(t.wabaId).length === 1 || undefined, 10_000, 'the background attempt');
    expect(templateCalls(t.wabaId)[0]).toMatchObject({ status: 500, injected: true });
    expect(await names(t.tenantId)).toEqual([]);
    expect((await admin.post(`/tenants/${t.tenantId}/templates/sync`)).body.templates).toBe(1);
  });

  it('is not attempted for credentials without a wabaId, nor for Genesys credentials', async () => {
    const t = await newTenant();
    meta.addTemplate({ wabaId: t.wabaId, name: 'welcome', language: 'en', body: 'Welcome' });
    await storeMeta(t, { withWaba: false }).expect(201);
    await admin
      .post(`/tenants/${t.tenantId}/credentials`)
      .send({
        type: 'genesys',
        credentials: { clientId: 'client', clientSecret: 'genesys-client-secret', region: 'mypurecloud.ie', integrationId: 'integration-1', webhookSecret: 'genesys-webhook-secret-16' },
      })
      .expect(201);
    expect((await admin.post(`/tenants/${t.tenantId}/templates/sync`)).status).toBe(409);
    // Neither store had a WABA to list.
    expect(templateCalls(t.wabaId)).toEqual([]);
    await storeMeta(t).expect(201);
    await eventually(async () => (await names(t.tenantId)).includes('welcome') || undefined, 10_000, 'the background sync');
  });
});

describe('GET /tenants/:tenantId/templates', () => {
  it('shows each template: name, language, category, status, Meta id, body text and the parameters of each component', async () => {
    const t = await onboarded({}, (w) => {
      meta.addTemplate({ wabaId: w.wabaId, name: 'order_update', language: 'en_US', components: ORDER_UPDATE, id: '1234567890123' });
      meta.addTemplate({ wabaId: w.wabaId, name: 'promo', language: 'en_US', category: 'MARKETING', body: 'Sale!', status: 'PENDING' });
    });
    const res = await admin.get(`/tenants/${t.tenantId}/templates`);
    expect(res.status).toBe(200);
    expect(res.body.templates).toEqual([
      {
        name: 'order_update',
        language: 'en_US',
        category: 'UTILITY',
        status: 'APPROVED',
        templateId: '1234567890123',
        body: 'Hi {{1}}, your order {{2}} ships today.',
        parameters: { header: 1, body: 2, buttons: [{ index: 0, type: 'url', count: 1 }], total: 4 },
        updatedAt: expect.stringMatching(/Z$/),
      },
      expect.objectContaining({ name: 'promo', category: 'MARKETING', status: 'PENDING', body: 'Sale!', parameters: { header: 0, body: 0, buttons: [], total: 0 } }),
    ]);
    expect((await admin.get(`/tenants/${t.tenantId}/templates?status=PENDING`)).body.templates.map((x: { name: string }) => x.name)).toEqual(['promo']);
    const bad = await admin.get(`/tenants/${t.tenantId}/templates?status=approved`);
    expect({ status: bad.status, code: bad.body.error?.code }).toEqual({ status: 400, code: 'VALIDATION_ERROR' });
    expect(bad.body.error.message).toMatch(/^status: /);
    expect((await admin.get(`/tenants/${uniqueTenantId('nobody')}/templates`)).status).toBe(404);
  });
});

describe('window settings: windowPolicy and reopenTemplate', () => {
  it('defaults to reject without a re-open template, shown by GET /tenants/:id and the list', async () => {
    const t = await newTenant();
    expect((await admin.get(`/tenants/${t.tenantId}`)).body).toMatchObject({ windowPolicy: 'reject', reopenTemplate: null });
    const listed = (await admin.get(`/tenants?after=${t.tenantId.slice(0, -1)}&limit=1000`)).body.find((x: { tenantId: string }) => x.tenantId === t.tenantId);
    expect(listed).toMatchObject({ windowPolicy: 'reject', reopenTemplate: null });
  });

  it('refuses the template policy without a re-open template (400 naming reopenTemplate), given or stored', async () => {
    const tenantId = uniqueTenantId('tpl');
    const created = await admin.post('/tenants').send({ tenantId, name: 'x', windowPolicy: 'template' });
    expect({ status: created.status, code: created.body.error?.code }).toEqual({ status: 400, code: 'VALIDATION_ERROR' });
    expect(created.body.error.message).toMatch(/^reopenTemplate: /);
    expect((await admin.get(`/tenants/${tenantId}`)).status).toBe(404);

    const t = await newTenant();
    const patched = await admin.patch(`/tenants/${t.tenantId}`).send({ windowPolicy: 'template' });
    expect({ status: patched.status, message: patched.body.error?.message }).toEqual({ status: 400, message: expect.stringMatching(/^reopenTemplate: /) });
    const nulled = await admin.patch(`/tenants/${t.tenantId}`).send({ windowPolicy: 'template', reopenTemplate: null });
    expect(nulled.status).toBe(400);

    const bad: Array<[Record<string, unknown>, string]> = [
      [{ windowPolicy: 'sometimes' }, 'windowPolicy'],
      [{ reopenTemplate: { name: 'Bad Name', language: 'en' } }, 'reopenTemplate.name'],
      [{ reopenTemplate: { name: 'ok', language: 'english' } }, 'reopenTemplate.language'],
      [{ reopenTemplate: { name: 'ok' } }, 'reopenTemplate.language'],
    ];
    for (const [body, field] of bad) {
      const res = await admin.patch(`/tenants/${t.tenantId}`).send(body);
      expect({ body, status: res.status, field: res.body.error?.message.split(':')[0] }).toEqual({ body, status: 400, field });
    }
    expect((await admin.get(`/tenants/${t.tenantId}`)).body).toMatchObject({ windowPolicy: 'reject', reopenTemplate: null });
  });

  it('accepts a re-open template the catalogue does not hold yet, at creation and later', async () => {
    const tenantId = uniqueTenantId('tpl');
    const created = await admin.post('/tenants').send({ tenantId, name: 'x', windowPolicy: 'template', reopenTemplate: { name: 'reopen', language: 'en_US' } });
    expect(created.status).toBe(201);
    expect(created.body.tenant).toMatchObject({ windowPolicy: 'template', reopenTemplate: { name: 'reopen', language: 'en_US' } });
    expect((await admin.get(`/tenants/${tenantId}`)).body).toMatchObject({ windowPolicy: 'template', reopenTemplate: { name: 'reopen', language: 'en_US' } });

    // Back to reject keeps the template; removing it then is allowed.
    expect((await admin.patch(`/tenants/${tenantId}`).send({ windowPolicy: 'reject' })).body).toMatchObject({ windowPolicy: 'reject', reopenTemplate: { name: 'reopen', language: 'en_US' } });
    expect((await admin.patch(`/tenants/${tenantId}`).send({ reopenTemplate: null })).body).toMatchObject({ windowPolicy: 'reject', reopenTemplate: null });
  });

  it('checks a re-open template the catalogue holds: 422 unless APPROVED with exactly one parameter', async () => {
    const t = await onboarded({}, (w) => {
      meta.addTemplate({ wabaId: w.wabaId, name: 'reopen', language: 'en_US', body: '{{1}}' });
      meta.addTemplate({ wabaId: w.wabaId, name: 'two_params', language: 'en_US', body: 'Hi {{1}}, about {{2}}' });
      meta.addTemplate({ wabaId: w.wabaId, name: 'paused_one', language: 'en_US', body: 'Hi {{1}}', status: 'PAUSED' });
      meta.addTemplate({ wabaId: w.wabaId, name: 'with_image', language: 'en_US', components: [{ type: 'HEADER', format: 'IMAGE' }, { type: 'BODY', text: '{{1}}' }] });
    });
    const patch = (reopenTemplate: { name: string; language: string }) => admin.patch(`/tenants/${t.tenantId}`).send({ windowPolicy: 'template', reopenTemplate });

    const cases: Array<[string, string]> = [
      ['two_params', 'TEMPLATE_PARAMETER_MISMATCH'],
      ['paused_one', 'TEMPLATE_NOT_APPROVED'],
      ['with_image', 'TEMPLATE_NOT_SENDABLE'],
    ];
    for (const [name, code] of cases) {
      const res = await patch({ name, language: 'en_US' });
      expect({ name, status: res.status, code: res.body.error?.code }).toEqual({ name, status: 422, code });
      expect(res.body.error.message).toMatch(new RegExp(`^reopenTemplate: .*${name}`));
    }
    expect((await patch({ name: 'two_params', language: 'en_US' })).body.error.message).toContain('takes 2 parameter(s); a re-open template must take exactly 1');
    expect((await admin.get(`/tenants/${t.tenantId}`)).body).toMatchObject({ windowPolicy: 'reject', reopenTemplate: null });

    // Not in the catalogue in that language (yet): accepted; the connector checks again when it sends.
    expect((await patch({ name: 'reopen', language: 'de' })).status).toBe(200);
    const ok = await patch({ name: 'reopen', language: 'en_US' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ windowPolicy: 'template', reopenTemplate: { name: 'reopen', language: 'en_US' } });

    // What the connector will find there: the stored template passes the same check.
    const catalogue = await db.withTenant(t.tenantId, (q) => listTemplates(q, t.tenantId));
    expect(checkTemplateRequest(catalogue, { name: 'reopen', language: 'en_US', parameters: ['Agent text'] })).toMatchObject({ ok: true });
  });
});
