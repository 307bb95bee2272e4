import { createHmac } from 'node:crypto';
import { Database, listNotifications, raiseNotification, signNotification } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';

/**
 * Tenant notifications (issue #13): raised at most once per (tenant, kind, key), in the caller's
 * transaction, with their delivery job queued with them; private to their tenant.
 */
let tdb: TestDatabase;
let db: Database;
let other: Database;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  other = new Database({ connectionString: tdb.appUrl });
  for (const t of ['tenant-a', 'tenant-b']) await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [t]);
});

afterAll(async () => {
  await db?.close();
  await other?.close();
  await tdb?.drop();
});

const warning = { kind: 'quota.warning', key: 'messagesPerMonth:2026-11:80', severity: 'warning' as const, message: '80% of this month’s messages used', details: { percent: 80 } };

describe('raiseNotification', () => {
  it('raises once per (tenant, kind, key): true the first time, false after; a job is queued with it', async () => {
    expect(await db.withTenant('tenant-a', (q) => raiseNotification(q, 'tenant-a', warning))).toBe(true);
    expect(await db.withTenant('tenant-a', (q) => raiseNotification(q, 'tenant-a', { ...warning, message: 'again' }))).toBe(false);
    const listed = await db.withTenant('tenant-a', (q) => listNotifications(q, 'tenant-a', { limit: 10 }));
    expect(listed).toEqual([expect.objectContaining({ kind: 'quota.warning', key: warning.key, severity: 'warning', message: warning.message, details: { percent: 80 } })]);
    const jobs = await ownerQuery(tdb, "SELECT tenant_id, lane, payload FROM outbox WHERE kind = 'to_tenant_notification'");
    expect(jobs).toEqual([{ tenant_id: 'tenant-a', lane: 'note:', payload: { notificationId: listed[0].id } }]);
  });

  it('exists only if the caller commits', async () => {
    await expect(
      db.withTenant('tenant-a', async (q) => {
        await raiseNotification(q, 'tenant-a', { ...warning, key: 'rolled-back' });
        throw new Error('the store failed');
      }),
    ).rejects.toThrow('the store failed');
    expect(await ownerQuery(tdb, "SELECT 1 FROM tenant_notifications WHERE key = 'rolled-back'")).toEqual([]);
  });

  it('two concurrent transactions (two pools, as two processes) raise the same key once', async () => {
    const n = { ...warning, key: 'messagesPerMonth:2026-11:100', kind: 'quota.exceeded' };
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let raisedFirst!: () => void;
    const firstRaised = new Promise<void>((r) => (raisedFirst = r));
    // The first raises and holds its transaction open; the second raises meanwhile and waits on it.
    const first = db.withTenant('tenant-a', async (q) => {
      const raised = await raiseNotification(q, 'tenant-a', n);
      raisedFirst();
      await held;
      return raised;
    });
    await firstRaised;
    const second = other.withTenant('tenant-a', (q) => raiseNotification(q, 'tenant-a', n));
    // The second waits on the first's uncommitted row: give it a moment to reach the wait, then commit.
    setTimeout(release, 200);
    const results = await Promise.all([first, second]);
    expect(results.sort()).toEqual([false, true]);
    expect(await ownerQuery(tdb, 'SELECT count(*)::int AS n FROM tenant_notifications WHERE key = $1', [n.key])).toEqual([{ n: 1 }]);
  });

  it('is private to its tenant: another tenant neither sees it nor can raise one for it', async () => {
    expect(await db.withTenant('tenant-b', (q) => listNotifications(q, 'tenant-a', { limit: 10 }))).toEqual([]);
    await expect(db.withTenant('tenant-b', (q) => raiseNotification(q, 'tenant-a', { ...warning, key: 'x' }))).rejects.toThrow(/row-level security/);
  });
});

describe('signNotification', () => {
  it('is sha256= and the hex HMAC-SHA256 of the exact body, as Meta signs its webhooks', () => {
    const body = '{"id":"1","kind":"quota.warning"}';
    expect(signNotification(body, 'a-secret-of-16-chars')).toBe(`sha256=${createHmac('sha256', 'a-secret-of-16-chars').update(body).digest('hex')}`);
  });
});
