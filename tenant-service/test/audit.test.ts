import request from 'supertest';
import type { Express } from 'express';
import { CredentialCipher, Database, MemoryCache, appendAudit, createLogger, purgeAuditEvents } from '@bridge/shared';
import { createTenantService } from '../src/app';
import { AuditRetention } from '../src/audit-retention';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { testSecrets } from '../../test/support/env';
import { uniqueNumericId, uniqueTenantId } from '../../test/support/ids';
import { eventually } from '../../test/support/eventually';

const ADMIN = `Bearer ${testSecrets.ADMIN_API_KEY}`;

let tdb: TestDatabase;
let db: Database;
let cache: MemoryCache;
let app: Express;
let closeService: () => Promise<void>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  cache = new MemoryCache();
  ({ app, close: closeService } = createTenantService({
    db,
    cache,
    cipher: new CredentialCipher(testSecrets.CREDENTIALS_ENCRYPTION_KEY),
    logger: createLogger({ name: 'test', level: 'silent' }),
    adminApiKey: testSecrets.ADMIN_API_KEY,
    meta: { graphUrl: 'http://127.0.0.1:9/v23.0' },
    internalCallers: {},
    auditRetention: { retentionDays: 0 },
  }));
});

afterAll(async () => {
  await closeService();
  await db.close();
  await cache.close();
  await tdb.drop();
});

const admin = () => ({
  post: (url: string) => request(app).post(url).set('Authorization', ADMIN),
  get: (url: string) => request(app).get(url).set('Authorization', ADMIN),
  patch: (url: string) => request(app).patch(url).set('Authorization', ADMIN),
  delete: (url: string) => request(app).delete(url).set('Authorization', ADMIN),
});

const SECRETS = {
  appSecret: 'meta-app-secret-1234',
  verifyToken: 'verify-token-5678',
  accessToken: 'EAAG-access-token-9999',
  clientSecret: 'genesys-client-secret-abcd',
  webhookSecret: 'genesys-webhook-secret-wxyz',
};

/** A tenant with `n` audit events written straight through audit_append, as the app role. */
async function tenantWithEvents(n: number): Promise<string> {
  const tenantId = uniqueTenantId('audit');
  await admin().post('/tenants').send({ tenantId, name: 'Audited' }).expect(201);
  for (let i = 1; i < n; i++) {
    await db.withTenant(tenantId, (q) => appendAudit(q, { tenantId, action: 'mapping.written', target: `mapping:${i}`, after: { i } }));
  }
  return tenantId;
}

const auditOf = async (tenantId: string, query = '') => (await admin().get(`/audit?tenant=${tenantId}${query}`).expect(200)).body;
const verify = async (tenantId: string) => (await admin().get(`/tenants/${tenantId}/audit/verify`).expect(200)).body;

describe('the admin API writes one audit event per change', () => {
  it('walks create, update, suspend, credentials, key created and revoked, delete: one event each, newest first, secrets masked', async () => {
    const tenantId = uniqueTenantId('audit');
    const created = await admin().post('/tenants').send({ tenantId, name: 'Before' }).set('X-Request-Id', 'req-create-1').expect(201);
    await admin().patch(`/tenants/${tenantId}`).send({ name: 'After' }).expect(200);
    await admin().patch(`/tenants/${tenantId}`).send({ status: 'suspended', reason: 'Unpaid invoice 42' }).expect(200);
    await admin()
      .post(`/tenants/${tenantId}/credentials`)
      .send({ type: 'meta', credentials: { appSecret: SECRETS.appSecret, verifyToken: SECRETS.verifyToken, accessToken: SECRETS.accessToken, phoneNumberId: uniqueNumericId(), wabaId: '1029384756' } })
      .expect(201);
    await admin()
      .post(`/tenants/${tenantId}/credentials`)
      .send({
        type: 'genesys',
        credentials: { clientId: '5f1a7c1e-1111-2222-3333-444455556666', clientSecret: SECRETS.clientSecret, region: 'mypurecloud.ie', integrationId: '8a6e4b2c-aaaa-bbbb-cccc-ddddeeeeffff', webhookSecret: SECRETS.webhookSecret },
      })
      .expect(201);
    const key = (await admin().post(`/tenants/${tenantId}/api-keys`).send({ name: 'ci' }).expect(201)).body;
    await admin().delete(`/tenants/${tenantId}/api-keys/${key.id}`).expect(204);
    // Reads change nothing and write nothing.
    await admin().get(`/tenants/${tenantId}`).expect(200);
    await admin().get(`/tenants/${tenantId}/api-keys`).expect(200);
    await admin().delete(`/tenants/${tenantId}`).expect(204);

    const { events, nextBefore } = await auditOf(tenantId);
    expect(events.map((e: { action: string }) => e.action)).toEqual([
      'tenant.deleted',
      'api_key.revoked',
      'api_key.created',
      'credentials.stored',
      'credentials.stored',
      'tenant.suspended',
      'tenant.updated',
      'tenant.created',
    ]);
    expect(nextBefore).toBeNull();
    for (const e of events) expect(e).toMatchObject({ tenantId, actor: 'admin', requestId: expect.any(String), clientIp: expect.any(String), at: expect.any(String) });
    const [deleted, revoked, keyCreated, genesys, meta, suspended, updated, createdEvent] = events;
    expect(createdEvent).toMatchObject({ target: `tenant:${tenantId}`, requestId: 'req-create-1', before: null, after: { name: 'Before', apiKeyId: created.body.apiKeyId } });
    expect(updated).toMatchObject({ before: { name: 'Before' }, after: { name: 'After' } });
    expect(suspended).toMatchObject({ actor: 'admin', before: { status: 'active', suspendedReason: null }, after: { status: 'suspended', suspendedReason: 'Unpaid invoice 42', suspendedAt: expect.any(String) } });
    expect(meta).toMatchObject({ target: 'credentials:meta', before: null, after: { credentials: { appSecret: '[masked]', wabaId: '1029384756' } } });
    expect(genesys).toMatchObject({ target: 'credentials:genesys', after: { credentials: { clientSecret: '[masked]', region: 'mypurecloud.ie' } } });
    expect(keyCreated).toMatchObject({ target: `api_key:${key.id}`, after: { id: key.id, name: 'ci', isActive: true } });
    expect(revoked).toMatchObject({ target: `api_key:${key.id}`, after: { isActive: false } });
    expect(deleted).toMatchObject({ target: `tenant:${tenantId}`, after: { status: 'deleting' } });
    // No secret, no API key, whole or in part, anywhere in the trail (nor in the table itself).
    const stored = JSON.stringify(await ownerQuery(tdb, 'SELECT * FROM audit_events WHERE tenant_id = $1', [tenantId]));
    for (const secret of [...Object.values(SECRETS), created.body.apiKey, key.apiKey]) {
      expect(stored).not.toContain(secret);
      expect(stored).not.toContain(secret.slice(-8));
    }
    // A deleted tenant's trail outlives it, and proves itself.
    expect(await verify(tenantId)).toEqual({ ok: true, events: 8 });
  });

  it('records a change that fails as nothing: a conflict writes no event', async () => {
    const tenantId = await tenantWithEvents(1);
    await admin().post('/tenants').send({ tenantId, name: 'Again' }).expect(409);
    expect((await auditOf(tenantId)).events).toHaveLength(1);
  });
});

describe('GET /tenants/:id/audit/verify', () => {
  it('is 404 TENANT_NOT_FOUND for a tenant that never existed', async () => {
    const res = await admin().get(`/tenants/${uniqueTenantId('never')}/audit/verify`).expect(404);
    expect(res.body.error.code).toBe('TENANT_NOT_FOUND');
  });

  it('still verifies a deleted tenant’s chain after the purge removed the tenant row', async () => {
    const tenantId = uniqueTenantId('audit');
    await admin().post('/tenants').send({ tenantId, name: 'Purged' }).expect(201);
    await admin().delete(`/tenants/${tenantId}`).expect(204);
    await eventually(async () => (await admin().get(`/tenants/${tenantId}/deletion`).expect(200)).body.state === 'done', 30_000, 'the purge');
    const [row] = await ownerQuery<{ n: number }>(tdb, 'SELECT count(*)::int AS n FROM tenants WHERE tenant_id = $1', [tenantId]);
    expect(row.n).toBe(0);
    expect(await verify(tenantId)).toEqual({ ok: true, events: 2 });
  });
});

describe('GET /audit', () => {
  it('pages newest first with a cursor, and filters by type and since', async () => {
    const tenantId = await tenantWithEvents(5);
    const first = await auditOf(tenantId, '&limit=2');
    expect(first.events).toHaveLength(2);
    const second = await auditOf(tenantId, `&limit=2&before=${first.nextBefore}`);
    const third = await auditOf(tenantId, `&limit=2&before=${second.nextBefore}`);
    const ids = [...first.events, ...second.events, ...third.events].map((e: { id: string }) => Number(e.id));
    expect(ids).toHaveLength(5);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    expect(third.nextBefore).toBeNull();
    expect((await auditOf(tenantId, '&type=tenant')).events.map((e: { action: string }) => e.action)).toEqual(['tenant.created']);
    expect((await auditOf(tenantId, '&type=mapping.written')).events).toHaveLength(4);
    expect((await auditOf(tenantId, `&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).events).toEqual([]);
    expect((await admin().get('/audit?type=DROP%20TABLE')).status).toBe(400);
    expect((await request(app).get('/audit')).status).toBe(401);
  });
});

describe('the chain', () => {
  it('detects a changed event: verify names it', async () => {
    const tenantId = await tenantWithEvents(4);
    const { events } = await auditOf(tenantId);
    const victim = events[2].id as string;
    await ownerQuery(
      tdb,
      `ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
       UPDATE audit_events SET after = '{"i": 999}' WHERE id = ${Number(victim)};
       ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`,
    );
    expect(await verify(tenantId)).toEqual({ ok: false, events: 1, brokenAt: victim, reason: expect.stringMatching(/changed/) });
  });

  it('detects a removed event: verify names the one after it', async () => {
    const tenantId = await tenantWithEvents(4);
    const { events } = await auditOf(tenantId);
    await ownerQuery(
      tdb,
      `ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
       DELETE FROM audit_events WHERE id = ${Number(events[2].id)};
       ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`,
    );
    expect(await verify(tenantId)).toMatchObject({ ok: false, brokenAt: events[1].id, reason: expect.stringMatching(/removed/) });
  });

  it('the application role can neither change nor remove an event, nor write one but through audit_append, nor into another tenant’s chain', async () => {
    const tenantId = await tenantWithEvents(2);
    const other = await tenantWithEvents(1);
    await db.withTenant(tenantId, async (q) => {
      const { rows } = await q.query('SELECT id FROM audit_events');
      expect(rows).toHaveLength(2);
    });
    await expect(db.withTenant(tenantId, (q) => q.query(`UPDATE audit_events SET after = '{}'`))).rejects.toThrow(/permission denied/);
    await expect(db.withTenant(tenantId, (q) => q.query('DELETE FROM audit_events'))).rejects.toThrow(/permission denied/);
    await expect(db.withTenant(tenantId, (q) => q.query('TRUNCATE audit_events'))).rejects.toThrow(/permission denied/);
    await expect(
      db.withTenant(tenantId, (q) =>
        q.query(`INSERT INTO audit_events (tenant_id, actor, action, at, prev_hash, hash) VALUES ($1, 'x', 'x', now(), repeat('0', 64), repeat('0', 64))`, [tenantId]),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(db.withTenant(tenantId, (q) => appendAudit(q, { tenantId: other, action: 'tenant.updated' }))).rejects.toThrow(/only in its unit of work/);
    // Even the owner is refused by the trigger (switching it off is what the chain detects).
    await expect(ownerQuery(tdb, `UPDATE audit_events SET actor = 'x' WHERE tenant_id = $1`, [tenantId])).rejects.toThrow(/append-only/);
    await expect(ownerQuery(tdb, `DELETE FROM audit_events WHERE tenant_id = $1`, [tenantId])).rejects.toThrow(/append-only/);
    expect(await verify(tenantId)).toEqual({ ok: true, events: 2 });
    expect(await verify(other)).toEqual({ ok: true, events: 1 });
  });

  it('concurrent writers of one tenant keep one chain', async () => {
    const tenantId = await tenantWithEvents(1);
    const pool = new Database({ connectionString: tdb.appUrl, max: 10 });
    try {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          pool.withTenant(tenantId, async (q) => {
            await appendAudit(q, { tenantId, action: 'message.sent', target: `message:${i}` });
            // Hold the transaction open a little after appending: the next writer must wait for the commit.
            await q.query('SELECT pg_sleep(0.005)');
          }),
        ),
      );
    } finally {
      await pool.close();
    }
    expect(await verify(tenantId)).toEqual({ ok: true, events: 31 });
    const [forks] = await ownerQuery<{ n: number }>(tdb, 'SELECT (count(*) - count(DISTINCT prev_hash))::int AS n FROM audit_events WHERE tenant_id = $1', [tenantId]);
    expect(forks.n).toBe(0);
  });
});

describe('retention', () => {
  const dbNow = async () => (await ownerQuery<{ t: Date }>(tdb, 'SELECT clock_timestamp() AS t'))[0].t;

  it('removes only whole prefixes of each chain, oldest first, and the rest still verifies', async () => {
    const a = await tenantWithEvents(3);
    const b = await tenantWithEvents(2);
    const cutoff = await dbNow();
    for (const t of [a, b]) await db.withTenant(t, (q) => appendAudit(q, { tenantId: t, action: 'mapping.written', target: 'mapping:late' }));
    // Older events of other chains (other tests') may go too; count this test's.
    const before = { a: (await auditOf(a)).events, b: (await auditOf(b)).events };
    // One at a time: the first batch takes the oldest event of the first chain.
    expect(await purgeAuditEvents(db, cutoff, 1)).toBe(1);
    while ((await purgeAuditEvents(db, cutoff, 1_000)) === 1_000);
    const after = { a: (await auditOf(a)).events, b: (await auditOf(b)).events };
    expect(after.a.map((e: { id: string }) => e.id)).toEqual([before.a[0].id]);
    expect(after.b.map((e: { id: string }) => e.id)).toEqual([before.b[0].id]);
    expect(await verify(a)).toEqual({ ok: true, events: 1 });
    expect(await verify(b)).toEqual({ ok: true, events: 1 });
    // The chain goes on from what is left.
    await db.withTenant(a, (q) => appendAudit(q, { tenantId: a, action: 'mapping.written' }));
    expect(await verify(a)).toEqual({ ok: true, events: 2 });
    // A whole chain purged: its anchor carries it on.
    expect(await purgeAuditEvents(db, await dbNow(), 1_000)).toBeGreaterThanOrEqual(3);
    expect(await verify(a)).toEqual({ ok: true, events: 0 });
    await db.withTenant(a, (q) => appendAudit(q, { tenantId: a, action: 'mapping.written' }));
    expect(await verify(a)).toEqual({ ok: true, events: 1 });
  });

  it('the retention pass removes what is older than AUDIT_RETENTION_DAYS and nothing newer', async () => {
    const t = await tenantWithEvents(2);
    const retention = new AuditRetention({ db, logger: createLogger({ name: 'test', level: 'silent' }) }, { retentionDays: 1, batchSize: 1 });
    expect(await retention.runOnce(new Date())).toBe(0);
    expect((await auditOf(t)).events).toHaveLength(2);
    await retention.runOnce(new Date(Date.now() + 2 * 86_400_000));
    expect((await auditOf(t)).events).toHaveLength(0);
    expect(await verify(t)).toEqual({ ok: true, events: 0 });
    await retention.close();
  });
});
