/**
 * Phase 2, webhook ingestion: signed Meta webhooks (one message, and batches of BENCH_BATCH_SIZE
 * from as many customers) through the gateway and straight to webhook-service, at saturation and
 * at BENCH_FIXED_RATE msg/s. genesys-connector is not running: this is the ingestion path only
 * (signature, store, queue, 200); what it queues is phase 3a's backlog.
 */
import { warmUp, type BenchContext, type Target } from './context';
import { mergeRuns, round, runLoad, runPaced, type LoadRun, type LoadStats } from './load';
import { cpuLine, describe, log } from './output';
import { customerWaId, metaRequest, type Conversation } from './requests';
import { ownerScalar, type BenchTenant } from './seed';

export interface WebhookIngest {
  /** By shape (`single`, `batch of N`), then `<target> saturation` / `<target> fixed`. */
  results: Record<string, Record<string, LoadStats>>;
  outboxBacklog: number;
}

export async function webhookIngest(ctx: BenchContext, tenants: BenchTenant[]): Promise<WebhookIngest> {
  const { settings: cfg, svc, ownerUrl, rows, probe } = ctx;
  const P = '2 webhook ingest';
  const customers = cfg.customersPerTenant;
  const conv = (t: BenchTenant, k: number): Conversation => ({ tenant: t, waId: customerWaId('1555', t, k % customers) });
  const shapes = [
    { name: 'single', perRequest: 1, connections: cfg.connections, conversations: (n: number) => [conv(tenants[n % tenants.length], Math.floor(n / tenants.length))] },
    {
      name: `batch of ${cfg.batchSize}`,
      perRequest: cfg.batchSize,
      connections: cfg.batchConnections,
      conversations: (n: number) => Array.from({ length: cfg.batchSize }, (_, k) => conv(tenants[n % tenants.length], k)),
    },
  ];
  const text = (seq: number) => `Hello from the bench, message ${seq}`;
  const urlOf = (t: Target) => ({ gateway: svc.gateway, direct: svc.webhook, baseline: svc.baseline })[t];
  // Fills webhook-service's caches (credentials from tenant-service, number → tenant) for every tenant.
  await warmUp('warm-up webhooks', svc.gateway, metaRequest({ conversations: shapes[0].conversations, perRequest: 1, text }), cfg.connections, {
    amount: 2 * tenants.length,
  });
  await warmUp('warm-up baseline webhooks', svc.baseline, metaRequest({ conversations: shapes[0].conversations, perRequest: 1, text }), cfg.connections, {
    amount: 2 * tenants.length,
  });
  const results: Record<string, Record<string, LoadStats>> = {};
  for (const shape of shapes) {
    const res: Record<string, LoadStats> = {};
    results[shape.name] = res;
    // Saturation, alternated with the bare baseline (baseline.ts): baseline, direct, gateway; the
    // single-message shape twice over (its gateway ÷ baseline ratio is a goal).
    const sat: Record<Target, LoadRun[]> = { baseline: [], direct: [], gateway: [] };
    const rounds = shape.perRequest === 1 ? 2 : 1;
    for (let r = 0; r < rounds; r++) {
      for (const target of ['baseline', 'direct', 'gateway'] as const) {
        const run = await runLoad({
          label: `${shape.name} ${target} saturation #${r + 1}`,
          url: urlOf(target),
          connections: shape.connections,
          seconds: cfg.seconds,
          request: metaRequest({ conversations: shape.conversations, perRequest: shape.perRequest, text }),
          probe,
        });
        log(`webhooks ${run.stats.label} (C=${shape.connections}): ${describe(run.stats, shape.perRequest)}; CPU/msg ${cpuLine(run.stats.cpu, shape.perRequest)}`);
        sat[target].push(run);
      }
    }
    for (const target of ['baseline', 'direct', 'gateway'] as const) res[`${target} saturation`] = mergeRuns(`${shape.name} ${target} saturation`, sat[target], false).stats;
    for (const target of ['direct', 'gateway'] as const) {
      const rate = Math.max(1, Math.round(cfg.fixedRate / shape.perRequest));
      const run = await runPaced({
        label: `${shape.name} ${target} at ${cfg.fixedRate} msg/s`,
        url: urlOf(target),
        connections: shape.perRequest > 1 ? 10 : cfg.connections,
        seconds: cfg.seconds,
        rate,
        request: metaRequest({ conversations: shape.conversations, perRequest: shape.perRequest, text }),
        probe,
      });
      log(`webhooks ${run.stats.label}: ${describe(run.stats, shape.perRequest)}`);
      res[`${target} fixed`] = run.stats;
    }
    const mps = (s: LoadStats) => Math.round(s.okPerSecond * shape.perRequest);
    for (const target of ['gateway', 'direct'] as const) {
      const sat = res[`${target} saturation`];
      const fixed = res[`${target} fixed`];
      const goal = target === 'gateway';
      const label = `${shape.name}, ${target === 'gateway' ? 'via gateway' : 'direct to webhook-service'}`;
      rows.push(
        {
          phase: P,
          metric: `${label}: accepted msg/s at saturation (C=${shape.connections})`,
          value: mps(sat),
          unit: 'msg/s',
          goal: goal ? '≥ 3,000' : undefined,
          met: goal ? mps(sat) >= 3000 : undefined,
        },
        {
          phase: P,
          metric: `${label}: p50 / p99 time to 200 at saturation`,
          value: `${sat.latencyMs.p50.toFixed(1)} / ${sat.latencyMs.p99.toFixed(1)}`,
          unit: 'ms',
          goal: goal ? 'p99 ≤ 250' : undefined,
          met: goal ? sat.latencyMs.p99 <= 250 : undefined,
        },
        {
          phase: P,
          metric: `${label}: at ${cfg.fixedRate.toLocaleString('en-US')} msg/s: achieved, p50 / p99`,
          value: `${mps(fixed).toLocaleString('en-US')} msg/s, ${fixed.latencyMs.p50.toFixed(1)} / ${fixed.latencyMs.p99.toFixed(1)} ms`,
          goal: goal ? 'p99 ≤ 250' : undefined,
          met: goal ? fixed.latencyMs.p99 <= 250 : undefined,
        },
        { phase: P, metric: `${label}: CPU per message at saturation`, value: cpuLine(sat.cpu, shape.perRequest) },
        { phase: P, metric: `${label}: non-2xx / errors`, value: `${sat.non2xx + fixed.non2xx} / ${sat.errors + fixed.errors}` },
      );
    }
    const base = res['baseline saturation'];
    rows.push(
      {
        phase: P,
        metric: `${shape.name}, bare baseline: accepted msg/s at saturation, p50 / p99`,
        value: `${mps(base).toLocaleString('en-US')} msg/s, ${base.latencyMs.p50.toFixed(1)} / ${base.latencyMs.p99.toFixed(1)} ms`,
      },
      { phase: P, metric: `${shape.name}, bare baseline: CPU per message at saturation`, value: cpuLine(base.cpu, shape.perRequest) },
      { phase: P, metric: `${shape.name}: via gateway / direct / bare baseline, msg/s ÷ baseline's`, value: `${round(mps(res['gateway saturation']) / mps(base), 3)} / ${round(mps(res['direct saturation']) / mps(base), 3)} / 1` },
      { phase: P, metric: `${shape.name}, bare baseline: non-2xx / errors`, value: `${base.non2xx} / ${base.errors}` },
    );
  }
  const backlog = await ownerScalar<{ n: string }>(ownerUrl, 'SELECT count(*)::text AS n FROM outbox');
  rows.push({ phase: P, metric: 'deliveries queued (connector not running)', value: Number(backlog.n) });
  return { results, outboxBacklog: Number(backlog.n) };
}
