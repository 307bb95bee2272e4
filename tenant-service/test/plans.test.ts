import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { CredentialCipher, Database, MemoryCache, TenantDirectory, createLogger } from '@bridge/shared';
import { startTenantServiceHarness, type TenantServiceHarness } from './support/harness';
import { createTenantUseCases } from '../src/tenants';
import { ownerQuery, type TestDatabase } from '../../test/support/db';
import { testSecrets } from '../../test/support/env';
import { uniqueTenantId } from '../../test/support/ids';

/** Plans and quotas, and the notification webhook, through the admin API (issue #13). */

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

const platformAudit = (action: string) =>
  ownerQuery<{ target: string; before: unknown; after: unknown }>(tdb, 'SELECT target, before, after FROM audit_events WHERE tenant_id IS NULL AND action = $1 ORDER BY id', [action]);

describe('plans (issue #13)', () => {
  it('are seeded: standard (the old default, unlimited), starter 1,000 a month, professional 10,000, enterprise unlimited', async () => {
    const res = await admin().get('/plans').expect(200);
    const byName = Object.fromEntries((res.body as Array<{ name: string }>).map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(['enterprise', 'professional', 'standard', 'starter']);
    expect(byName.starter).toMatchObject({ messagesPerMonth: 1000, messagesPerDay: 200, conversationsPerMonth: 250, apiRequestsPerMinute: 60, hardLimit: 'block-api' });
    expect(byName.professional).toMatchObject({ messagesPerMonth: 10000, apiRequestsPerMinute: 600, hardLimit: 'block-api' });
    expect(byName.enterprise).toMatchObject({ messagesPerDay: null, messagesPerMonth: null, conversationsPerMonth: null, hardLimit: 'none' });
    expect(byName.standard).toMatchObject({ messagesPerMonth: null, apiRequestsPerMinute: 600, hardLimit: 'none' });
  });

  it('are created (audited in the platform chain), once per name; bad input is a 400 that creates nothing', async () => {
    const body = { name: 'silver', messagesPerMonth: 5000, apiRequestsPerMinute: 120, hardLimit: 'block-all' };
    const created = await admin().post('/plans').send(body).expect(201);
    expect(created.body).toMatchObject({ ...body, messagesPerDay: null, conversationsPerMonth: null, description: null });
    expect(await platformAudit('plan.created')).toEqual([{ target: 'plan:silver', before: null, after: expect.objectContaining(body) }]);
    expect((await admin().post('/plans').send(body).expect(409)).body.error.code).toBe('PLAN_EXISTS');
    for (const bad of [{ ...body, name: 'Gold!' }, { name: 'gold' }, { ...body, name: 'gold', hardLimit: 'maybe' }, { ...body, name: 'gold', messagesPerMonth: 0 }, { ...body, name: 'gold', extra: 1 }]) {
      const res = await admin().post('/plans').send(bad).expect(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await admin().get('/plans/gold').expect(404)).body.error.code).toBe('PLAN_NOT_FOUND');
    expect((await admin().get('/plans/silver').expect(200)).body.name).toBe('silver');
  });

  it('name a tenant’s plan; an unknown plan is a 400 naming the plans, and changes nothing', async () => {
    const res = await admin().post('/tenants').send({ tenantId: uniqueTenantId(), name: 'x', plan: 'platinum' }).expect(400);
    expect(res.body.error.message).toMatch(/^plan: no plan named platinum \(the plans: enterprise, professional, silver, standard, starter/);
    const { tenantId } = await createTenant();
    const patch = await admin().patch(`/tenants/${tenantId}`).send({ plan: 'platinum' }).expect(400);
    expect(patch.body.error.message).toMatch(/^plan: no plan named platinum/);
    expect((await admin().get(`/tenants/${tenantId}`).expect(200)).body).toMatchObject({ plan: 'standard', rateLimit: 600, quotaOverrides: {} });
  });

  it('drive the tenant’s API rate limit, unless the tenant overrides it; a plan’s change moves its tenants and the directory the gateway reads', async () => {
    await admin().post('/plans').send({ name: 'bronze', messagesPerMonth: 100, apiRequestsPerMinute: 30 }).expect(201);
    const a = await createTenant({ plan: 'bronze' });
    expect(a.body.tenant).toMatchObject({ plan: 'bronze', rateLimit: 30 });
    expect(await directory.tenant(a.tenantId)).toMatchObject({ rateLimit: 30 });
    // rateLimit, as before plans, is the tenant's own override of apiRequestsPerMinute.
    const b = await createTenant({ plan: 'bronze', rateLimit: 45 });
    expect(b.body.tenant).toMatchObject({ rateLimit: 45, quotaOverrides: { apiRequestsPerMinute: 45 } });

    const updated = await admin().patch('/plans/bronze').send({ apiRequestsPerMinute: 40, messagesPerDay: 10 }).expect(200);
    expect(updated.body).toMatchObject({ apiRequestsPerMinute: 40, messagesPerDay: 10, messagesPerMonth: 100 });
    expect((await admin().get(`/tenants/${a.tenantId}`).expect(200)).body.rateLimit).toBe(40);
    expect((await admin().get(`/tenants/${b.tenantId}`).expect(200)).body.rateLimit).toBe(45);
    expect(await directory.tenant(a.tenantId)).toMatchObject({ rateLimit: 40 });
    const [audited] = await platformAudit('plan.updated');
    expect(audited).toMatchObject({ target: 'plan:bronze', before: expect.objectContaining({ apiRequestsPerMinute: 30 }), after: expect.objectContaining({ apiRequestsPerMinute: 40 }) });

    // Moving to another plan takes its limit; overrides replaced wholesale; {} clears them.
    expect((await admin().patch(`/tenants/${a.tenantId}`).send({ plan: 'starter' }).expect(200)).body.rateLimit).toBe(60);
    expect((await admin().patch(`/tenants/${b.tenantId}`).send({ quotaOverrides: { messagesPerMonth: 7 } }).expect(200)).body).toMatchObject({ rateLimit: 40, quotaOverrides: { messagesPerMonth: 7 } });
    expect((await admin().patch(`/tenants/${b.tenantId}`).send({ quotaOverrides: { bogus: 1 } }).expect(400)).body.error.message).toMatch(/quotaOverrides/);
    expect((await admin().patch('/plans/nope').send({ apiRequestsPerMinute: 1 }).expect(404)).body.error.code).toBe('PLAN_NOT_FOUND');
    expect((await admin().patch('/plans/bronze').send({}).expect(400)).body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('GET /tenants/:id/usage', () => {
  it('shows this period’s use against each limit (the plan’s, or the tenant’s override), percent used and a daily breakdown', async () => {
    const { tenantId } = await createTenant({ plan: 'starter', quotaOverrides: { messagesPerDay: null } });
    await ownerQuery(tdb, `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type) SELECT $1, 'inbound', '15550001111', 'wamid.U' || g, 'text' FROM generate_series(1, 3) g`, [tenantId]);
    const res = await admin().get(`/tenants/${tenantId}/usage`).expect(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(res.body).toMatchObject({
      tenantId,
      plan: { name: 'starter', hardLimit: 'block-api', apiRequestsPerMinute: 60 },
      period: { month: today.slice(0, 7), today },
      month: { inbound: 3, outbound: 0, proactive: 0, messages: 3, conversations: 0 },
      today: { messages: 3 },
      daily: [{ date: today, inbound: 3, outbound: 0, proactive: 0, messages: 3, conversations: 0 }],
    });
    expect(res.body.quotas).toEqual([
      expect.objectContaining({ quota: 'messagesPerDay', used: 3, limit: null, percent: null, exceeded: false }),
      expect.objectContaining({ quota: 'messagesPerMonth', period: 'month', used: 3, limit: 1000, percent: 0.3, remaining: 997, overage: 0, exceeded: false }),
      expect.objectContaining({ quota: 'conversationsPerMonth', used: 0, limit: 250, percent: 0 }),
    ]);
    expect(Date.parse(res.body.quotas[1].resetsAt)).toBe(Date.parse(res.body.period.end));
    expect((await admin().get('/tenants/no-such-tenant/usage').expect(404)).body.error.code).toBe('TENANT_NOT_FOUND');
  });

  it('refuses query parameters as GET /state/usage does: 400 VALIDATION_ERROR naming the parameter', async () => {
    const { tenantId } = await createTenant({ plan: 'starter' });
    const res = await admin().get(`/tenants/${tenantId}/usage?month=999999`).expect(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.message).toContain('month');
  });
});

describe('the notification webhook', () => {
  const webhook = { url: 'https://hooks.example.com/bridge', secret: 'whsec-0123456789abcdef' };

  it('is set on create and PATCH, shown without its secret, audited masked, read decrypted by genesys-connector only; null removes it', async () => {
    const { tenantId, body } = await createTenant({ notificationWebhook: webhook });
    expect(body.tenant.notificationWebhook).toEqual({ url: webhook.url });
    expect(JSON.stringify(body)).not.toContain(webhook.secret);
    const shown = await admin().get(`/tenants/${tenantId}`).expect(200);
    expect(shown.body.notificationWebhook).toEqual({ url: webhook.url });
    expect(JSON.stringify(shown.body)).not.toContain(webhook.secret);
    const stored = JSON.stringify(await ownerQuery(tdb, 'SELECT * FROM audit_events WHERE tenant_id = $1', [tenantId]));
    expect(stored).toContain('"notificationWebhook":{"url":"https://hooks.example.com/bridge","secret":"[masked]"}');
    expect(stored).not.toContain(webhook.secret);
    expect(JSON.stringify(await ownerQuery(tdb, 'SELECT notification_secret FROM tenants WHERE tenant_id = $1', [tenantId]))).not.toContain(Buffer.from(webhook.secret).toString('hex'));

    const internal = await request(internalApp).get(`/internal/tenants/${tenantId}/notification-webhook`).set('X-Internal-Token', testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN).expect(200);
    expect(internal.body).toEqual(webhook);
    await request(internalApp).get(`/internal/tenants/${tenantId}/notification-webhook`).set('X-Internal-Token', testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN).expect(401);

    const rotated = { url: 'https://hooks.example.net:8443/hook?x=1', secret: 'another-secret-of-16+' };
    expect((await admin().patch(`/tenants/${tenantId}`).send({ notificationWebhook: rotated }).expect(200)).body.notificationWebhook).toEqual({ url: rotated.url });
    expect((await request(internalApp).get(`/internal/tenants/${tenantId}/notification-webhook`).set('X-Internal-Token', testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN)).body).toEqual(rotated);
    expect((await admin().patch(`/tenants/${tenantId}`).send({ notificationWebhook: null }).expect(200)).body.notificationWebhook).toBeNull();
    const gone = await request(internalApp).get(`/internal/tenants/${tenantId}/notification-webhook`).set('X-Internal-Token', testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN).expect(404);
    expect(gone.body.error.code).toBe('NOTIFICATION_WEBHOOK_NOT_SET');
  });

  it('has its secret re-encrypted by a key rotation (rotate-credentials), and read under the new key alone', async () => {
    const { tenantId } = await createTenant({ notificationWebhook: webhook });
    const newKey = randomBytes(32).toString('base64');
    const logger = createLogger({ name: 'test', level: 'silent' });
    const both = createTenantUseCases({ db, cache, logger, cipher: new CredentialCipher([newKey, testSecrets.CREDENTIALS_ENCRYPTION_KEY]) });
    expect(await both.reencryptCredentials(tenantId)).toEqual([{ type: 'notification-webhook', outcome: 'reencrypted' }]);
    expect(await both.reencryptCredentials(tenantId)).toEqual([{ type: 'notification-webhook', outcome: 'current' }]);
    const newOnly = createTenantUseCases({ db, cache, logger, cipher: new CredentialCipher(newKey) });
    expect(await newOnly.readNotificationWebhook(tenantId)).toEqual(webhook);
  });

  it('refuses a URL that is not https (but for a loopback host), carries a user, or a short secret', async () => {
    const { tenantId } = await createTenant();
    for (const bad of [
      { url: 'http://hooks.example.com/x', secret: webhook.secret },
      { url: 'ftp://hooks.example.com/x', secret: webhook.secret },
      { url: 'https://user:pw@hooks.example.com/x', secret: webhook.secret },
      { url: webhook.url, secret: 'short' },
      { url: webhook.url },
    ]) {
      const res = await admin().patch(`/tenants/${tenantId}`).send({ notificationWebhook: bad }).expect(400);
      expect(res.body.error.message).toMatch(/^notificationWebhook/);
    }
    expect((await admin().get(`/tenants/${tenantId}`).expect(200)).body.notificationWebhook).toBeNull();
  });

  it('refuses a URL pointing at a private, loopback, link-local or metadata address (SSRF), on create and on PATCH, changing nothing', async () => {
    const { tenantId } = await createTenant({ notificationWebhook: webhook });
    const ssrf = [
      'https://169.254.169.254/latest/meta-data/',
      'http://169.254.169.254/latest/meta-data/',
      'https://10.0.0.5/hook',
      'https://172.16.3.4/hook',
      'https://192.168.1.1/hook',
      'https://100.64.0.1/hook',
      'https://0.0.0.0/hook',
      'https://[fd00:ec2::254]/hook',
      'https://[fe80::1]/hook',
      'https://[::ffff:169.254.169.254]/hook',
      'https://[::ffff:a9fe:a9fe]/hook',
      'https://0xa9.0xfe.0xa9.0xfe/hook',
      'https://2852039166/hook',
      // Loopback: this service is built without NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK (the production default).
      'http://127.0.0.1:3007/internal/x',
      'https://127.0.0.1/hook',
      'http://localhost:4007/hook',
      'https://api.localhost/hook',
      'https://[::1]/hook',
      'https://0x7f.1/hook',
    ];
    for (const url of ssrf) {
      const res = await admin().patch(`/tenants/${tenantId}`).send({ notificationWebhook: { url, secret: webhook.secret } });
      expect([url, res.status, res.body.error?.code]).toEqual([url, 400, 'VALIDATION_ERROR']);
      expect(res.body.error.message).toMatch(/^notificationWebhook\.url/);
    }
    const created = await admin().post('/tenants').send({ tenantId: uniqueTenantId('ssrf'), name: 'SSRF', notificationWebhook: { url: ssrf[0], secret: webhook.secret } });
    expect(created.status).toBe(400);
    expect((await admin().get(`/tenants/${tenantId}`).expect(200)).body.notificationWebhook).toEqual({ url: webhook.url });

    // A deployment that allows loopback (local tests, the demo) takes http://127.0.0.1, never the metadata address.
    const local = createTenantUseCases({ db, cache, logger: createLogger({ name: 'test', level: 'silent' }), cipher: new CredentialCipher(testSecrets.CREDENTIALS_ENCRYPTION_KEY), notificationWebhooks: { allowLoopback: true } });
    await local.updateTenant(tenantId, { notificationWebhook: { url: 'http://127.0.0.1:8999/hook', secret: webhook.secret } });
    await expect(local.updateTenant(tenantId, { notificationWebhook: { url: 'https://169.254.169.254/x', secret: webhook.secret } })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});
