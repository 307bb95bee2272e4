import { ServiceMetrics, watchQueue, type Database, type QueueCount } from '../../src';

/**
 * The queue's gauges read PostgreSQL at most once per refresh interval, however many scrapes come
 * (and concurrent scrapes share one reading); per-tenant gauges name only the top N tenants.
 */
function fakeDb(counts: QueueCount[]) {
  const calls = { view: 0, due: 0 };
  const db = {
    unscoped: async () => {
      calls.view++;
      await new Promise((r) => setTimeout(r, 20));
      return counts;
    },
    withTenant: async (_tenantId: string, fn: (q: { query: () => Promise<{ rows: unknown[] }> }) => Promise<unknown>) => {
      calls.due++;
      return fn({ query: async () => ({ rows: [{ kind: 'to_genesys_message', due: 1, oldestSeconds: 42 }] }) });
    },
  };
  return { db: db as unknown as Database, calls };
}

const counts: QueueCount[] = Array.from({ length: 8 }, (_, i) => ({ tenantId: `tenant-${i}`, kind: 'to_genesys_message', state: 'pending', count: i + 1 }));

it('one reading serves every scrape within METRICS_QUEUE_REFRESH_MS, concurrent ones included', async () => {
  const { db, calls } = fakeDb(counts);
  const metrics = new ServiceMetrics('genesys-connector');
  watchQueue(metrics, db, { refreshMs: 60_000, topTenants: 3 });
  const [a] = await Promise.all([metrics.registry.metrics(), metrics.registry.metrics(), metrics.registry.metrics()]);
  await metrics.registry.metrics();
  expect(calls.view).toBe(1);
  // One due-time query per tenant with pending jobs, in its own scope, once.
  expect(calls.due).toBe(8);
  expect(a).toContain('bridge_outbox_jobs{kind="to_genesys_message",state="pending",service="genesys-connector"} 36');
  expect(a).toContain('bridge_outbox_oldest_due_seconds{kind="to_genesys_message",service="genesys-connector"} 42');
  // The top 3 tenants by pending jobs, and no other.
  const pending = a.split('\n').filter((l) => l.startsWith('bridge_tenant_outbox_pending{'));
  expect(pending).toEqual([
    'bridge_tenant_outbox_pending{tenant="tenant-7",service="genesys-connector"} 8',
    'bridge_tenant_outbox_pending{tenant="tenant-6",service="genesys-connector"} 7',
    'bridge_tenant_outbox_pending{tenant="tenant-5",service="genesys-connector"} 6',
  ]);
});

it('with a refresh of 0, every scrape reads again', async () => {
  const { db, calls } = fakeDb(counts.slice(0, 1));
  const metrics = new ServiceMetrics('genesys-connector');
  watchQueue(metrics, db, { refreshMs: 0, topTenants: 3 });
  await metrics.registry.metrics();
  await metrics.registry.metrics();
  expect(calls.view).toBe(2);
});
