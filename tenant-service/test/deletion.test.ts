import request from 'supertest';
import type { Express } from 'express';
import { CredentialCipher, Database, MemoryCache, createLogger } from '@bridge/shared';
import { createTenantService } from '../src/app';
import type { PurgeOptions } from '../src/purge';
import * as repo from '../src/repository';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { eventually } from '../../test/support/eventually';
import { testSecrets } from '../../test/support/env';
import { uniqueTenantId } from '../../test/support/ids';

/**
 * Deleting a tenant of any size: the admin API answers at once, the tenant is gone for everyone
 * from then on, and its rows are removed in the background in small batches, by whichever
 * tenant-service replica is there, across restarts.
 */
let tdb: TestDatabase;
let db: Database;
const running: Array<() => Promise<void>> = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
});

// Each test's replicas stop with it, so that no other purge picks up the next test's deletions.
afterEach(async () => {
  for (const close of running.splice(0)) await close();
});

afterAll(async () => {
  await db.close();
  await tdb.drop();
});

/** A tenant-service replica on the shared database, with its own purge settings. */
function replica(purge: Partial<PurgeOptions> = {}): { app: Express; close: () => Promise<void> } {
  const service = createTenantService({
    db,
    cache: new MemoryCache(),
    cipher: new CredentialCipher(testSecrets.CREDENTIALS_ENCRYPTION_KEY),
    logger: createLogger({ name: 'test', level: 'silent' }),
    adminApiKey: testSecrets.ADMIN_API_KEY,
    internalCallers: {},
    purge,
    // Nothing listens there: no test here syncs templates.
    meta: { graphUrl: 'http://127.0.0.1:9/v23.0' },
  });
  let closed = false;
  const close = async () => {
    if (!closed) await service.close();
    closed = true;
  };
  running.push(close);
  return { app: service.app, close };
}

const admin = (app: Express) => ({
  post: (url: string) => request(app).post(url).set('Authorization', `Bearer ${testSecrets.ADMIN_API_KEY}`),
  get: (url: string) => request(app).get(url).set('Authorization', `Bearer ${testSecrets.ADMIN_API_KEY}`),
  delete: (url: string) => request(app).delete(url).set('Authorization', `Bearer ${testSecrets.ADMIN_API_KEY}`),
});

/** Rows of every kind for `tenantId`, inserted as the owner in a few statements. */
async function fill(tenantId: string, messages: number) {
  const counts = {
    message_tracking: messages,
    message_parts: Math.floor(messages / 4),
    message_events: Math.floor(messages / 4),
    outbox: Math.floor(messages / 4),
    conversation_mappings: Math.floor(messages / 20),
    conversation_aliases: Math.floor(messages / 20),
    account_events: Math.floor(messages / 20),
  };
  await ownerQuery(
    tdb,
    `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type, payload)
     SELECT $1, 'inbound', '1555' || (g % 1000), 'wamid.' || $1 || '.' || g, 'text', '{"text":{"body":"hello"}}' FROM generate_series(1, $2::int) g`,
    [tenantId, counts.message_tracking],
  );
  await ownerQuery(tdb, `INSERT INTO message_events (tenant_id, source, kind, provider_key) SELECT $1, 'meta', 'read', 'k' || g FROM generate_series(1, $2::int) g`, [tenantId, counts.message_events]);
  await ownerQuery(tdb, `INSERT INTO outbox (tenant_id, kind, lane) SELECT $1, 'to_genesys_message', 'in:' || (g % 1000) FROM generate_series(1, $2::int) g`, [tenantId, counts.outbox]);
  await ownerQuery(tdb, `INSERT INTO conversation_mappings (tenant_id, wa_id) SELECT $1, '1666' || g FROM generate_series(1, $2::int) g`, [tenantId, counts.conversation_mappings]);
  // The tables later migrations added: one that references another tenant-owned table, not tenants.
  await ownerQuery(
    tdb,
    `INSERT INTO message_parts (tenant_id, message_id, part, part_count, kind, wamid, status)
     SELECT tenant_id, id, 1, 1, 'text', wamid || '.part', 'sent' FROM message_tracking WHERE tenant_id = $1 ORDER BY id LIMIT $2`,
    [tenantId, counts.message_parts],
  );
  await ownerQuery(tdb, `INSERT INTO conversation_aliases (tenant_id, wa_id, moved_to) SELECT $1, '1777' || g, '1666' || g FROM generate_series(1, $2::int) g`, [tenantId, counts.conversation_aliases]);
  await ownerQuery(tdb, `INSERT INTO account_events (tenant_id, field, payload) SELECT $1, 'account_update', jsonb_build_object('n', g) FROM generate_series(1, $2::int) g`, [tenantId, counts.account_events]);
  return counts;
}

const TABLES = [
  'tenants',
  'tenant_credentials',
  'tenant_api_keys',
  'conversation_mappings',
  'message_tracking',
  'message_events',
  'outbox',
  'tenant_usage_daily',
  'tenant_usage_monthly',
  'tenant_notifications',
  'message_parts',
  'conversation_aliases',
  'account_events',
];

async function rowsLeft(tenantId: string): Promise<Record<string, number>> {
  const left: Record<string, number> = {};
  for (const table of TABLES) {
    const [row] = await ownerQuery<{ n: number }>(tdb, `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [tenantId]);
    if (row.n) left[table] = row.n;
  }
  return left;
}

async function createTenant(app: Express, tenantId = uniqueTenantId('del')) {
  const res = await admin(app).post('/tenants').send({ tenantId, name: `Tenant ${tenantId}` });
  expect(res.status).toBe(201);
  return tenantId;
}

const deletion = async (app: Express, tenantId: string) => (await admin(app).get(`/tenants/${tenantId}/deletion`).expect(200)).body;

describe('DELETE /tenants/:id of a large tenant', () => {
  it('answers 204 at once, and purges every row in batches in the background, leaving other tenants alone', async () => {
    const { app } = replica({ batchSize: 2_000, pauseMs: 0 });
    const big = await createTenant(app);
    const other = await createTenant(app);
    const counts = await fill(big, 200_000);
    await fill(other, 400);
    const before = await rowsLeft(other);

    const started = Date.now();
    expect((await admin(app).delete(`/tenants/${big}`)).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await admin(app).get(`/tenants/${big}`)).status).toBe(404);
    expect(await deletion(app, big)).toMatchObject({ tenantId: big, state: 'purging', finishedAt: null, requestedAt: expect.any(String) });

    // Progress is visible while it runs, then the deletion is done and nothing is left.
    const seen = new Set<number>();
    const done = await eventually(
      async () => {
        const d = await deletion(app, big);
        seen.add(d.batches);
        return d.state === 'done' && d;
      },
      60_000,
      'the purge',
    );
    expect(done.deleted).toMatchObject({ ...counts, tenant_api_keys: 1 });
    expect(done.batches).toBeGreaterThan(200_000 / 2_000);
    expect(seen.size).toBeGreaterThan(2);
    expect(await rowsLeft(big)).toEqual({});
    expect(await rowsLeft(other)).toEqual(before);
  }, 90_000);
});

describe('a tenant id being purged', () => {
  it('cannot be created again until the purge is done (409 TENANT_BEING_DELETED), then can', async () => {
    const slow = replica({ batchSize: 50, pauseMs: 100 });
    const tenantId = await createTenant(slow.app);
    await fill(tenantId, 400);
    await admin(slow.app).delete(`/tenants/${tenantId}`).expect(204);

    const again = await admin(slow.app).post('/tenants').send({ tenantId, name: 'again' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('TENANT_BEING_DELETED');

    await eventually(async () => (await deletion(slow.app, tenantId)).state === 'done', 30_000, 'the purge');
    await createTenant(slow.app, tenantId);
    expect((await admin(slow.app).get(`/tenants/${tenantId}`)).body).toMatchObject({ tenantId, status: 'active' });
    // The new tenant is a tenant like any other: deleting it is a new deletion.
    await admin(slow.app).delete(`/tenants/${tenantId}`).expect(204);
    expect(await deletion(slow.app, tenantId)).toMatchObject({ state: 'purging' });
    await eventually(async () => (await deletion(slow.app, tenantId)).state === 'done', 30_000, 'the second purge');
  }, 60_000);
});

describe('a purge interrupted', () => {
  it('is resumed by another replica after this one stops mid-way', async () => {
    const first = replica({ batchSize: 200, pauseMs: 30 });
    const tenantId = await createTenant(first.app);
    const counts = await fill(tenantId, 8_000);
    await admin(first.app).delete(`/tenants/${tenantId}`).expect(204);
    await eventually(async () => (await deletion(first.app, tenantId)).batches >= 3, 20_000, 'a few batches');
    await first.close();

    const paused = await deletion(first.app, tenantId);
    expect(paused.state).toBe('purging');
    expect(Object.keys(await rowsLeft(tenantId))).toContain('tenants');

    const second = replica({ batchSize: 1_000, pauseMs: 0 });
    const done = await eventually(async () => {
      const d = await deletion(second.app, tenantId);
      return d.state === 'done' && d;
    }, 30_000, 'the resumed purge');
    expect(done.deleted).toMatchObject(counts);
    expect(await rowsLeft(tenantId)).toEqual({});
  }, 60_000);

  it('is resumed once the lease of a replica that died holding it runs out', async () => {
    const setup = replica({ pollMs: 3_600_000 });
    await setup.close(); // its purge must not pick the deletion up
    const tenantId = await createTenant(setup.app);
    const counts = await fill(tenantId, 2_000);
    await admin(setup.app).delete(`/tenants/${tenantId}`).expect(204);
    // A replica that died after claiming it: its lease has 1.5 s left.
    await ownerQuery(tdb, `UPDATE tenant_deletions SET locked_by = 'dead-replica', locked_until = now() + interval '1500 milliseconds' WHERE tenant_id = $1`, [tenantId]);

    const started = Date.now();
    const survivor = replica({ pollMs: 200, batchSize: 500, pauseMs: 0 });
    const done = await eventually(async () => {
      const d = await deletion(survivor.app, tenantId);
      return d.state === 'done' && d;
    }, 30_000, 'the purge after the lease');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(done.deleted).toMatchObject(counts);
    expect(await rowsLeft(tenantId)).toEqual({});
  }, 60_000);

  it('a replica that lost its lease writes nothing', async () => {
    const setup = replica({ pollMs: 3_600_000 });
    await setup.close();
    const tenantId = await createTenant(setup.app);
    await fill(tenantId, 100);
    await admin(setup.app).delete(`/tenants/${tenantId}`).expect(204);
    await ownerQuery(tdb, `UPDATE tenant_deletions SET locked_by = 'new-owner', locked_until = now() + interval '1 minute' WHERE tenant_id = $1`, [tenantId]);
    const [table] = (await repo.tenantOwnedTables(db)).filter((t) => t.name === 'message_tracking');

    const result = await db.withTenant(tenantId, (q) => repo.purgeBatch(q, tenantId, table, 1_000, undefined, { worker: 'stale-owner', leaseMs: 60_000 }));
    expect(result).toBeNull();
    expect(await db.withTenant(tenantId, (q) => repo.finishDeletion(q, tenantId, 'stale-owner'))).toBe(false);
    expect(await rowsLeft(tenantId)).toMatchObject({ tenants: 1 });
  });
});
