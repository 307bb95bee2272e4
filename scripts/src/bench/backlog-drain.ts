/**
 * Phase 3a, backlog drain: genesys-connector, just started, works on phase 2's queue as after an
 * outage (each tenant's first delivery fetches its Genesys token and credentials) for
 * BENCH_DRAIN_SECONDS; then the rest of the queue is deleted so that phase 3 measures steady state.
 */
import type { GenesysSimulator } from '@bridge/simulators';
import type { BenchContext } from './context';
import { runCpu } from './cpu';
import { round } from './load';
import { cpuLine, log, sleep } from './output';
import { ownerExec, ownerScalar } from './seed';

const countOf = async (ownerUrl: string, sql: string) => Number((await ownerScalar<{ n: string }>(ownerUrl, sql)).n);

export async function backlogDrain(ctx: BenchContext, genesys: GenesysSimulator) {
  const { settings: cfg, ownerUrl, rows, probe } = ctx;
  // Phase 2's queue, as after an outage: how fast the connector works it off (first
  // deliveries of each tenant included: Genesys tokens and credentials are cold).
  const queued = await countOf(ownerUrl, 'SELECT count(*)::text AS n FROM outbox');
  const g0 = genesys.received.length;
  const a = probe();
  await sleep(cfg.drainSeconds * 1000);
  const delivered = genesys.received.length - g0;
  const cpu = runCpu(a, probe(), delivered);
  const left = await countOf(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state = 'pending'");
  const failed = await countOf(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state <> 'pending' OR attempts > 1");
  const perSecond = round(delivered / cfg.drainSeconds, 1);
  log(`backlog drain: ${delivered.toLocaleString('en-US')} of ${queued.toLocaleString('en-US')} queued deliveries in ${cfg.drainSeconds} s (${perSecond}/s); CPU/delivery ${cpuLine(cpu)}`);
  const P = '3 end to end';
  rows.push(
    { phase: P, metric: `backlog drain: deliveries/s, ${queued.toLocaleString('en-US')} queued for ${cfg.tenants} tenants (tokens cold)`, value: perSecond, unit: 'msg/s' },
    { phase: P, metric: 'backlog drain: CPU per delivery', value: cpuLine(cpu) },
    { phase: P, metric: 'backlog drain: jobs retried or failed so far', value: failed },
  );
  return { queued, delivered, seconds: cfg.drainSeconds, perSecond, left, retriedOrFailed: failed, cpu };
}

/** Deletes what is left of the delivery queue, so that phase 3 measures steady state. */
export async function clearQueue(ownerUrl: string): Promise<void> {
  const cleared = await ownerExec(ownerUrl, 'DELETE FROM outbox');
  await ownerExec(ownerUrl, 'VACUUM ANALYZE outbox');
  log(`cleared the rest of the delivery queue (${cleared.toLocaleString('en-US')} rows), so that phase 3 measures steady state`);
}
