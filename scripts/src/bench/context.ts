/**
 * What every phase works with (the running platform's addresses, the owner's database URL, the
 * CPU probe, the results table) and the load patterns several phases share.
 */
import type autocannon from 'autocannon';
import type { CpuSnapshot } from './cpu';
import type { BenchSettings } from './config';
import { mergeRuns, runLoad, type LoadRun, type LoadStats } from './load';
import { describe, log } from './output';
import type { Row } from './report';
import type { BenchTenant } from './seed';

export interface BenchContext {
  settings: BenchSettings;
  /** Base URLs of the gateway, of the two services measured behind it, and of the bare baseline (baseline.ts). */
  svc: { gateway: string; state: string; webhook: string; baseline: string };
  /** What the gateway adds to the requests it forwards (its own internal token). */
  internalToken: string;
  /** PostgreSQL as the owner (seeding, queue counts). */
  ownerUrl: string;
  /** The deployment's key for tenant credentials (seeding). */
  encryptionKey: string;
  /** CPU counters of the services, the load generator, PostgreSQL and Redis. */
  probe: () => CpuSnapshot;
  /** The results table; each phase appends its rows. */
  rows: Row[];
}

/**
 * Through the gateway, straight to the service with the headers the gateway would add, or to the
 * bare baseline (baseline.ts: the least work, the tenant found by API key or number in memory).
 */
export type Target = 'gateway' | 'direct' | 'baseline';

export interface PairedResult {
  direct: LoadRun;
  gateway: LoadRun;
  /** When the baseline was in the rotation. */
  baseline?: LoadRun;
  runs: LoadStats[];
}

/**
 * direct, gateway, direct, gateway… (with `withBaseline`: direct, gateway, baseline, …): the same
 * load alternated, each target's runs pooled.
 */
export async function paired(
  ctx: BenchContext,
  name: string,
  make: (t: Target) => { url: string; request: autocannon.Request },
  connections: number,
  seconds: number,
  rounds: number,
  withBaseline = false,
): Promise<PairedResult> {
  const targets: Target[] = withBaseline ? ['direct', 'gateway', 'baseline'] : ['direct', 'gateway'];
  const runs: Record<Target, LoadRun[]> = { direct: [], gateway: [], baseline: [] };
  for (let r = 0; r < rounds; r++) {
    for (const target of targets) {
      const { url, request } = make(target);
      const run = await runLoad({ label: `${name} ${target} #${r + 1}`, url, connections, seconds, request, probe: ctx.probe });
      log(`${run.stats.label} (C=${connections}): ${describe(run.stats)}`);
      runs[target].push(run);
    }
  }
  return {
    direct: mergeRuns(`${name} direct`, runs.direct, false),
    gateway: mergeRuns(`${name} gateway`, runs.gateway, false),
    baseline: withBaseline ? mergeRuns(`${name} baseline`, runs.baseline, false) : undefined,
    runs: [...runs.direct, ...runs.gateway, ...runs.baseline].map((r) => r.stats),
  };
}

/** An unmeasured run (caches, JIT), for `seconds` or `amount` requests; logged. */
export async function warmUp(label: string, url: string, request: autocannon.Request, connections: number, o: { seconds?: number; amount?: number }) {
  const run = await runLoad({ label, url, connections, seconds: o.seconds, amount: o.amount, request });
  log(`${label} (C=${connections}${o.amount ? `, ${o.amount} requests` : ''}): ${describe(run.stats)}`);
  return run.stats;
}

/** (tenant, key) pairs of the keys `which` picks of each tenant. */
export const keyEntries = (tenants: BenchTenant[], which: (t: BenchTenant) => string[]) =>
  tenants.flatMap((t) => which(t).map((key) => ({ tenantId: t.id, key })));
