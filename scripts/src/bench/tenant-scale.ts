/**
 * Phase 4, tenant scale: phase 1's gateway run again with BENCH_SCALE_TENANTS tenants and
 * BENCH_SCALE_KEYS keys. Cold first (keys never used, each at most once: the gateway's lookups in
 * PostgreSQL), then warm, alternated with direct runs; compared with phase 1's figures.
 */
import { keyEntries, paired, type BenchContext, type Target } from './context';
import type { GatewayCost } from './gateway-cost';
import { round, runLoad } from './load';
import { cpuLine, describe, log } from './output';
import { statsRequest } from './requests';
import { addKeys, makeTenant, seedTenants, type BenchTenant } from './seed';

/** Adds the tenants and keys to `tenants` (phase 2 and 3 use the first BENCH_TENANTS of them). */
export async function tenantScale(ctx: BenchContext, tenants: BenchTenant[], p1: GatewayCost | undefined) {
  const { settings: cfg, svc, internalToken, ownerUrl, encryptionKey, rows, probe } = ctx;
  const keysPerTenant = Math.max(1, Math.round(cfg.scaleKeys / cfg.scaleTenants));
  const started = performance.now();
  const added: BenchTenant[] = [];
  for (let i = tenants.length + 1; i <= cfg.scaleTenants; i++) added.push(makeTenant(i));
  const before = tenants.map((t) => t.keys.length);
  await addKeys(ownerUrl, tenants, keysPerTenant - 1);
  for (let i = 0; i < added.length; i += 5000) await seedTenants(ownerUrl, encryptionKey, added.slice(i, i + 5000), keysPerTenant);
  const seedSeconds = (performance.now() - started) / 1000;
  tenants.push(...added);
  const all = tenants;
  const totalKeys = all.reduce((s, t) => s + t.keys.length, 0);
  log(`seeded ${added.length.toLocaleString('en-US')} more tenants and keys: ${all.length.toLocaleString('en-US')} tenants, ${totalKeys.toLocaleString('en-US')} keys (${seedSeconds.toFixed(1)} s)`);

  // Cold: keys never used before, each at most once (for BENCH_COLD_SECONDS or until all are used).
  const fresh = all.flatMap((t, i) => (i < before.length ? t.keys.slice(before[i]) : t.keys).map((key) => ({ tenantId: t.id, key })));
  const coldRequest = statsRequest('gateway', fresh, internalToken);
  const cold = await runLoad({ label: 'scale gateway cold', url: svc.gateway, connections: cfg.connections, seconds: cfg.coldSeconds, maxRequests: fresh.length, request: coldRequest, probe });
  const coldUsed = cold.stats.responses + cold.stats.errors;
  log(`scale gateway cold (C=${cfg.connections}, ${coldUsed.toLocaleString('en-US')} of ${fresh.length.toLocaleString('en-US')} first-use keys): ${describe(cold.stats)}; CPU/request ${cpuLine(cold.stats.cpu)}`);
  // Warm every key before the warm runs: the first-use keys the cold run did not reach, and the
  // keys phase 1 used (they may have left the 60 s cache). Through the gateway's resolver to a
  // path state-manager answers 404 without touching the database, which is quicker than stats.
  const old = all.flatMap((t, i) => (i < before.length ? t.keys.slice(0, before[i]) : []).map((key) => ({ tenantId: t.id, key })));
  const entries = keyEntries(all, (t) => t.keys);
  // Touched in the reverse of the order the warm runs use them (they start at the first key): with
  // 100,000 keys the touch takes longer than the gateway's 60 s cache, and the keys touched last
  // are the ones still cached when the warm runs reach them.
  const order = new Map(entries.map((e, i) => [e.key, i]));
  const rest = [...fresh.slice(Math.min(fresh.length, Math.max(0, coldUsed - cfg.connections))), ...old].sort((a, b) => order.get(b.key)! - order.get(a.key)!);
  if (rest.length) {
    const touch = await runLoad({
      label: 'touch',
      url: svc.gateway,
      connections: cfg.connections,
      amount: rest.length,
      request: statsRequest('gateway', rest, internalToken, '/state/bench-warm-up'),
    });
    const unexpected = Object.entries(touch.stats.statusCodes).filter(([c]) => c !== '404');
    log(`warmed the other ${rest.length.toLocaleString('en-US')} keys in ${touch.stats.seconds.toFixed(1)} s${unexpected.length ? ` (unexpected answers: ${JSON.stringify(Object.fromEntries(unexpected))})` : ''}`);
  }

  const make = (target: Target) => ({ url: target === 'gateway' ? svc.gateway : svc.state, request: statsRequest(target, entries, internalToken) });
  const warm = await paired(ctx, 'scale', make, cfg.connections, cfg.seconds, 2);

  const P = '4 tenant scale';
  const g = warm.gateway.stats;
  rows.push(
    { phase: P, metric: `seeded tenants / API keys (${seedSeconds.toFixed(1)} s)`, value: `${all.length.toLocaleString('en-US')} / ${totalKeys.toLocaleString('en-US')}` },
    { phase: P, metric: `gateway cold: req/s, ${coldUsed.toLocaleString('en-US')} first-use keys`, value: cold.stats.okPerSecond, unit: 'req/s' },
    { phase: P, metric: 'gateway cold: CPU per request', value: cpuLine(cold.stats.cpu) },
    { phase: P, metric: 'gateway cold: p50 / p99', value: `${cold.stats.latencyMs.p50.toFixed(2)} / ${cold.stats.latencyMs.p99.toFixed(2)}`, unit: 'ms' },
    { phase: P, metric: `gateway warm: req/s over ${totalKeys.toLocaleString('en-US')} keys`, value: g.okPerSecond, unit: 'req/s' },
    { phase: P, metric: 'gateway warm: p50 / p99', value: `${g.latencyMs.p50.toFixed(2)} / ${g.latencyMs.p99.toFixed(2)}`, unit: 'ms' },
    { phase: P, metric: 'gateway warm: CPU per request', value: cpuLine(g.cpu) },
  );
  let vsPhase1: number | undefined;
  let normalized: number | undefined;
  if (p1) {
    const base = p1.throughput.gateway.stats.okPerSecond;
    vsPhase1 = g.okPerSecond / base;
    const pairedNow = g.okPerSecond / warm.direct.stats.okPerSecond;
    const pairedThen = base / p1.throughput.direct.stats.okPerSecond;
    normalized = round(pairedNow / pairedThen, 3);
    rows.push(
      { phase: P, metric: `warm req/s ÷ phase 1 gateway req/s (${Math.round(base)})`, value: round(vsPhase1, 3), goal: '≥ 0.90', met: vsPhase1 >= 0.9 },
      { phase: P, metric: `gateway/direct ratio: ${all.length.toLocaleString('en-US')} tenants vs ${cfg.tenants.toLocaleString('en-US')}`, value: `${pairedNow.toFixed(3)} vs ${pairedThen.toFixed(3)}` },
      {
        phase: P,
        metric: 'same, normalized by the paired direct runs (less noisy)',
        value: round(pairedNow / pairedThen, 3),
        goal: '≥ 0.90',
        met: pairedNow / pairedThen >= 0.9,
      },
    );
  }
  rows.push({ phase: P, metric: 'non-2xx / errors', value: `${cold.stats.non2xx + g.non2xx + warm.direct.stats.non2xx} / ${cold.stats.errors + g.errors + warm.direct.stats.errors}` });
  return { seedSeconds, tenants: all.length, keys: totalKeys, cold: cold.stats, warm: { direct: warm.direct.stats, gateway: g, runs: warm.runs }, vsPhase1, normalized };
}
