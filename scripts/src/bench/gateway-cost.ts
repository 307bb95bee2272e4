/**
 * Phase 1, gateway cost: `GET /state/stats` with an API key through the gateway against the same
 * request straight to state-manager (with the headers the gateway adds), alternated; at full
 * load (throughput ratio) and at one connection (per-request latency). Calibrated first by
 * `GET /health` of both, which costs the shared Express stack alone.
 */
import { keyEntries, paired, warmUp, type BenchContext, type PairedResult, type Target } from './context';
import { round, runLoad, type LoadStats } from './load';
import { cpuLine, describe, log } from './output';
import { statsRequest } from './requests';
import type { BenchTenant } from './seed';

export interface GatewayCost {
  throughput: PairedResult;
  latency: PairedResult;
  health: Record<string, LoadStats>;
}

export async function gatewayCost(ctx: BenchContext, tenants: BenchTenant[]): Promise<GatewayCost> {
  const { settings: cfg, svc, internalToken, rows, probe } = ctx;
  const entries = keyEntries(tenants, (t) => [t.keys[0]]);
  const urls: Record<Target, string> = { gateway: svc.gateway, direct: svc.state, baseline: svc.baseline };
  const make = (target: Target) => ({ url: urls[target], request: statsRequest(target, entries, internalToken) });
  // Calibration: what the box does with the shared Express stack alone (request id, request logging, no DB, no proxy).
  const health: Record<string, LoadStats> = {};
  for (const [name, url] of [
    ['state-manager', svc.state],
    ['gateway', svc.gateway],
  ] as const) {
    const r = await runLoad({ label: `calibration ${name} GET /health`, url, connections: cfg.connections, seconds: cfg.warmupSeconds, request: { method: 'GET', path: '/health' }, probe });
    log(`${r.stats.label} (C=${cfg.connections}): ${describe(r.stats)}; CPU/request ${cpuLine(r.stats.cpu)}`);
    health[name] = r.stats;
  }
  await warmUp('warm-up direct', svc.state, make('direct').request, cfg.connections, { seconds: cfg.warmupSeconds });
  // Every key once (the gateway's first use of a key reads PostgreSQL), then the JIT warm-up.
  await warmUp('warm-up gateway, every key', svc.gateway, make('gateway').request, cfg.connections, { amount: entries.length });
  await warmUp('warm-up gateway', svc.gateway, make('gateway').request, cfg.connections, { seconds: cfg.warmupSeconds });
  await warmUp('warm-up baseline', svc.baseline, make('baseline').request, cfg.connections, { seconds: cfg.warmupSeconds });
  const throughput = await paired(ctx, 'stats', make, cfg.connections, cfg.seconds, 2, true);
  const latency = await paired(ctx, 'stats', make, 1, cfg.latencySeconds, 2, true);

  const P = '1 gateway cost';
  const d = throughput.direct.stats;
  const g = throughput.gateway.stats;
  const ratio = g.okPerSecond / d.okPerSecond;
  const c = cfg.connections;
  rows.push(
    {
      phase: P,
      metric: `calibration: GET /health req/s, state-manager / gateway (no DB, no proxy)`,
      value: `${Math.round(health['state-manager'].okPerSecond)} / ${Math.round(health.gateway.okPerSecond)}`,
      unit: 'req/s',
    },
    { phase: P, metric: `direct req/s (state-manager, C=${c}, ${cfg.tenants} tenants)`, value: d.okPerSecond, unit: 'req/s' },
    { phase: P, metric: `gateway req/s (X-API-Key, C=${c}, ${cfg.tenants} keys)`, value: g.okPerSecond, unit: 'req/s' },
    { phase: P, metric: 'gateway / direct throughput', value: round(ratio, 3), goal: '≥ 0.80', met: ratio >= 0.8 },
    { phase: P, metric: `bare baseline req/s (same count, key in memory, C=${c})`, value: throughput.baseline!.stats.okPerSecond, unit: 'req/s' },
    { phase: P, metric: 'gateway / bare baseline throughput', value: round(g.okPerSecond / throughput.baseline!.stats.okPerSecond, 3) },
    { phase: P, metric: 'CPU per request, bare baseline', value: cpuLine(throughput.baseline!.stats.cpu) },
    { phase: P, metric: 'CPU per request, direct', value: cpuLine(d.cpu) },
    { phase: P, metric: 'CPU per request, via gateway', value: cpuLine(g.cpu) },
    { phase: P, metric: `added p50 at C=${c} (queueing included)`, value: round(g.latencyMs.p50 - d.latencyMs.p50, 2), unit: 'ms' },
    { phase: P, metric: `added p99 at C=${c}`, value: round(g.latencyMs.p99 - d.latencyMs.p99, 2), unit: 'ms' },
  );
  const dl = latency.direct.stats.latencyMs;
  const gl = latency.gateway.stats.latencyMs;
  rows.push(
    { phase: P, metric: 'p50 direct / gateway / bare baseline at C=1', value: `${dl.p50.toFixed(2)} / ${gl.p50.toFixed(2)} / ${latency.baseline!.stats.latencyMs.p50.toFixed(2)}`, unit: 'ms' },
    { phase: P, metric: 'added p50 at C=1 (per-request cost)', value: round(gl.p50 - dl.p50, 2), unit: 'ms', goal: '≤ 0.5 ms', met: gl.p50 - dl.p50 <= 0.5 },
    { phase: P, metric: 'added p99 at C=1', value: round(gl.p99 - dl.p99, 2), unit: 'ms' },
    {
      phase: P,
      metric: 'non-2xx / errors (all runs)',
      value: `${[...throughput.runs, ...latency.runs].reduce((s, r) => s + r.non2xx, 0)} / ${[...throughput.runs, ...latency.runs].reduce((s, r) => s + r.errors, 0)}`,
    },
  );
  return { throughput, latency, health };
}
