import { LRUCache } from 'lru-cache';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Job } from '@bridge/shared';
import type { GenesysClient } from './genesys-client';

/**
 * What became of one delivery attempt: `delivered`; `retried` (backoff, then again); `paced` (its
 * lane waits for Meta's pair rate limit, not a failure); `failed` (permanent: given up at once);
 * `dead` (out of retries: dead-lettered); `lease_lost` (another worker claimed it again; this
 * attempt records nothing); `unrecorded` (the outcome could not be written; the lease runs out and
 * the job is claimed again); `held` (the provider refused the tenant's credential: its deliveries
 * wait until it is replaced).
 */
export type DeliveryOutcome = 'delivered' | 'retried' | 'paced' | 'held' | 'failed' | 'dead' | 'lease_lost' | 'unrecorded';

/** Tenants whose delivery counts are kept in this process at most (least recently active dropped first). */
const TENANTS_KEPT = 10_000;

/**
 * The delivery worker's metrics: `bridge_deliveries_total{kind, outcome}` and their duration
 * (`bridge_delivery_duration_seconds{kind, outcome}`), retries and dead letters by kind
 * (`bridge_delivery_retries_total`, `bridge_dead_letters_total`), and per tenant, for the
 * `topTenants` tenants with the most attempts since this process started,
 * `bridge_tenant_deliveries_total{tenant, outcome}` (delivered, failed, dead). Per-tenant counts
 * are kept in process (at most 10,000 tenants) and only the top N exported at scrape time, so the
 * number of series stays bounded by METRICS_TOP_TENANTS, whatever the number of tenants.
 */
export class DeliveryMetrics {
  private readonly deliveries: Counter<'kind' | 'outcome'>;
  private readonly duration: Histogram<'kind' | 'outcome'>;
  private readonly retries: Counter<'kind'>;
  private readonly deadLetters: Counter<'kind'>;
  private readonly byTenant = new LRUCache<string, { delivered: number; failed: number; dead: number; total: number }>({ max: TENANTS_KEPT });

  constructor(registry: Registry, options: { topTenants: number }) {
    const registers = [registry];
    this.deliveries = new Counter({
      name: 'bridge_deliveries_total',
      help: 'Delivery attempts by job kind and outcome (delivered, retried, paced, held, failed, dead, lease_lost, unrecorded)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'bridge_delivery_duration_seconds',
      help: 'Time one delivery attempt took, seconds, by job kind and outcome',
      labelNames: ['kind', 'outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.retries = new Counter({ name: 'bridge_delivery_retries_total', help: 'Delivery attempts that failed and will be retried after a backoff, by job kind', labelNames: ['kind'], registers });
    this.deadLetters = new Counter({ name: 'bridge_dead_letters_total', help: 'Deliveries dead-lettered (out of retries), by job kind', labelNames: ['kind'], registers });
    const byTenant = this.byTenant;
    new Counter({
      name: 'bridge_tenant_deliveries_total',
      help: `Deliveries of a tenant since the process started by outcome (delivered, failed, dead); only the ${options.topTenants} tenants with the most attempts (METRICS_TOP_TENANTS)`,
      labelNames: ['tenant', 'outcome'],
      registers,
      collect() {
        this.reset();
        const top = [...byTenant.entries()].sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0])).slice(0, options.topTenants);
        for (const [tenant, c] of top) {
          this.inc({ tenant, outcome: 'delivered' }, c.delivered);
          this.inc({ tenant, outcome: 'failed' }, c.failed);
          this.inc({ tenant, outcome: 'dead' }, c.dead);
        }
      },
    });
  }

  /** Records one attempt's outcome and how long it took (seconds). */
  record(job: Pick<Job, 'tenantId' | 'kind'>, outcome: DeliveryOutcome, seconds: number): void {
    const labels = { kind: job.kind, outcome };
    this.deliveries.inc(labels);
    this.duration.observe(labels, seconds);
    if (outcome === 'retried') this.retries.inc({ kind: job.kind });
    if (outcome === 'dead') this.deadLetters.inc({ kind: job.kind });
    if (outcome === 'delivered' || outcome === 'failed' || outcome === 'dead') {
      const c = this.byTenant.get(job.tenantId) ?? { delivered: 0, failed: 0, dead: 0, total: 0 };
      c[outcome]++;
      c.total++;
      this.byTenant.set(job.tenantId, c);
    }
  }
}

/**
 * The Genesys circuit breakers (one per tenant with work), read at scrape time:
 * `bridge_circuit_breakers{state}` counts them by state (open, half_open, closed) — a count, not a
 * label per tenant — and `bridge_circuit_breaker_opens_total` counts each time one opened.
 */
export function watchBreakers(registry: Registry, genesys: Pick<GenesysClient, 'breakerStates'>): void {
  const registers = [registry];
  new Gauge({
    name: 'bridge_circuit_breakers',
    help: "Tenants' Genesys circuit breakers by state (open: deliveries to the org paused; half_open: one trial call; closed)",
    labelNames: ['state'],
    registers,
    collect() {
      const s = genesys.breakerStates();
      this.set({ state: 'open' }, s.open);
      this.set({ state: 'half_open' }, s.halfOpen);
      this.set({ state: 'closed' }, s.closed);
    },
  });
  new Counter({
    name: 'bridge_circuit_breaker_opens_total',
    help: "Times a tenant's Genesys circuit breaker opened",
    registers,
    collect() {
      this.reset();
      this.inc(genesys.breakerStates().opens);
    },
  });
}
