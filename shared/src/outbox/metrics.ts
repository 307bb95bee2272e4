import { Gauge } from 'prom-client';
import type { Database } from '../db';
import type { ServiceMetrics } from '../metrics';
import { queueView, type QueueCount } from './view';

export interface QueueMetricsOptions {
  /** How long a reading of the queue serves scrapes before the next one queries again, ms (0: every scrape). */
  refreshMs: number;
  /** Tenants in each per-tenant gauge at most: the N with the largest figure (see README "Metrics"). */
  topTenants: number;
}

/** One reading of the queue: totals by kind and state, and each tenant's due jobs. */
interface QueueReading {
  counts: QueueCount[];
  /** Per tenant and kind: jobs due now and how long the oldest of them has been due, seconds. */
  due: Array<{ tenantId: string; kind: string; due: number; oldestSeconds: number }>;
}

/**
 * Due jobs of one tenant: pending, `next_attempt_at` passed (waiting for a worker, or behind its
 * lane's head). Read in the tenant's scope; the lane index (tenant_id first, pending only) serves it.
 */
const DUE_SQL = {
  name: 'outbox-metrics-due',
  text: `SELECT kind, count(*)::int AS due, extract(epoch FROM now() - min(next_attempt_at))::float8 AS "oldestSeconds"
           FROM outbox WHERE tenant_id = $1 AND state = 'pending' AND next_attempt_at <= now() GROUP BY kind`,
};

async function readQueue(db: Database): Promise<QueueReading> {
  // Totals across tenants from the operators' view (outbox_queue_view, the one cross-tenant read);
  // the due times only for the tenants it shows with pending jobs, each in its own scope.
  const counts = await queueView(db);
  const pendingTenants = [...new Set(counts.filter((c) => c.state === 'pending').map((c) => c.tenantId))];
  const due: QueueReading['due'] = [];
  for (const tenantId of pendingTenants) {
    const rows = await db.withTenant(tenantId, async (q) => (await q.query<{ kind: string; due: number; oldestSeconds: number }>({ ...DUE_SQL, values: [tenantId] })).rows);
    for (const row of rows) due.push({ tenantId, ...row, oldestSeconds: Math.max(0, row.oldestSeconds) });
  }
  return { counts, due };
}

/** The `n` largest of `values` (by value), as [key, value]. */
function top(values: Map<string, number>, n: number): Array<[string, number]> {
  return [...values].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
}

/**
 * Registers the queue's gauges, read at scrape time: depth by kind and state
 * (`bridge_outbox_jobs`), due jobs and the age of the oldest due one by kind
 * (`bridge_outbox_due_jobs`, `bridge_outbox_oldest_due_seconds`), and, for the `topTenants`
 * tenants with the largest figure, pending jobs, dead letters and oldest due age per tenant
 * (`bridge_tenant_outbox_pending`, `bridge_tenant_dead_letters`, `bridge_tenant_oldest_due_seconds`).
 *
 * A reading is kept for `refreshMs` and shared by every gauge and every scrape meanwhile (and
 * concurrent scrapes share one query), so Prometheus's scrapes, however many, cost PostgreSQL
 * at most one reading per `refreshMs`. Every replica of a service reports the same figures: sum
 * them with `max`, not `sum`. A failed reading keeps the last one (and is retried next scrape).
 */
export function watchQueue(metrics: ServiceMetrics, db: Database, options: QueueMetricsOptions): void {
  let last: { at: number; reading: QueueReading } | undefined;
  let reading: Promise<QueueReading> | undefined;
  const current = async (): Promise<QueueReading> => {
    if (last && Date.now() - last.at < options.refreshMs) return last.reading;
    reading ??= readQueue(db)
      .then((r) => {
        last = { at: Date.now(), reading: r };
        return r;
      })
      .catch(() => last?.reading ?? { counts: [], due: [] })
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  const registers = [metrics.registry];
  new Gauge({
    name: 'bridge_outbox_jobs',
    help: 'Jobs in the delivery queue by kind and state (pending: to deliver; failed, dead: kept with their reason), all tenants',
    labelNames: ['kind', 'state'],
    registers,
    async collect() {
      const { counts } = await current();
      this.reset();
      const sums = new Map<string, { kind: string; state: string; n: number }>();
      for (const c of counts) {
        const key = `${c.kind}/${c.state}`;
        const entry = sums.get(key) ?? { kind: c.kind, state: c.state, n: 0 };
        entry.n += c.count;
        sums.set(key, entry);
      }
      for (const { kind, state, n } of sums.values()) this.set({ kind, state }, n);
    },
  });
  new Gauge({
    name: 'bridge_outbox_due_jobs',
    help: 'Pending jobs whose time has come (waiting for a worker or behind their lane head), by kind, all tenants',
    labelNames: ['kind'],
    registers,
    async collect() {
      const { due } = await current();
      this.reset();
      const sums = new Map<string, number>();
      for (const d of due) sums.set(d.kind, (sums.get(d.kind) ?? 0) + d.due);
      for (const [kind, n] of sums) this.set({ kind }, n);
    },
  });
  new Gauge({
    name: 'bridge_outbox_oldest_due_seconds',
    help: 'How long the oldest due job of each kind has been due without being delivered, seconds (absent: none due)',
    labelNames: ['kind'],
    registers,
    async collect() {
      const { due } = await current();
      this.reset();
      const oldest = new Map<string, number>();
      for (const d of due) oldest.set(d.kind, Math.max(oldest.get(d.kind) ?? 0, d.oldestSeconds));
      for (const [kind, s] of oldest) this.set({ kind }, s);
    },
  });
  const perTenant = (name: string, help: string, figure: (r: QueueReading) => Map<string, number>) =>
    new Gauge({
      name,
      help: `${help}; only the ${options.topTenants} tenants with the largest value (METRICS_TOP_TENANTS)`,
      labelNames: ['tenant'],
      registers,
      async collect() {
        const values = figure(await current());
        this.reset();
        for (const [tenant, v] of top(values, options.topTenants)) this.set({ tenant }, v);
      },
    });
  const sumBy = (rows: Array<{ tenantId: string }>, value: (row: never) => number, combine = (a: number, b: number) => a + b) => {
    const out = new Map<string, number>();
    for (const row of rows) out.set(row.tenantId, combine(out.get(row.tenantId) ?? 0, value(row as never)));
    return out;
  };
  perTenant('bridge_tenant_outbox_pending', 'Pending jobs of a tenant, all kinds', (r) =>
    sumBy(r.counts.filter((c) => c.state === 'pending'), (c: QueueCount) => c.count),
  );
  perTenant('bridge_tenant_dead_letters', 'Dead-lettered jobs of a tenant, all kinds', (r) => sumBy(r.counts.filter((c) => c.state === 'dead'), (c: QueueCount) => c.count));
  perTenant('bridge_tenant_oldest_due_seconds', 'How long the oldest due job of a tenant has been due, seconds', (r) =>
    sumBy(r.due, (d: QueueReading['due'][number]) => d.oldestSeconds, Math.max),
  );
}
