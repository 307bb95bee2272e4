/**
 * Phase 3a, backlog drain: genesys-connector, just started, works on phase 2's queue as after an
 * outage (each tenant's first delivery fetches its Genesys token and credentials) for
 * BENCH_DRAIN_SECONDS; then again on a fresh backlog with every tenant's token and credentials
 * already fetched (warm); then the rest of the queue is deleted so that phase 3 measures steady state.
 */
import type { GenesysSimulator } from '@bridge/simulators';
import type { BenchContext } from './context';
import { runCpu } from './cpu';
import { round, runLoad } from './load';
import { cpuLine, describe, log, sleep } from './output';
import { customerWaId, metaRequest } from './requests';
import { ownerExec, ownerScalar, type BenchTenant } from './seed';

const countOf = async (ownerUrl: string, sql: string) => Number((await ownerScalar<{ n: string }>(ownerUrl, sql)).n);

/** Deliveries/s of the connector on the queue as it is, for BENCH_DRAIN_SECONDS, with its CPU per delivery and a row each. */
async function measureDrain(ctx: BenchContext, genesys: GenesysSimulator, what: string) {
  const { settings: cfg, ownerUrl, rows, probe } = ctx;
  const queued = await countOf(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state = 'pending'");
  const g0 = genesys.received.length;
  const a = probe();
  await sleep(cfg.drainSeconds * 1000);
  const delivered = genesys.received.length - g0;
  const cpu = runCpu(a, probe(), delivered);
  const left = await countOf(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state = 'pending'");
  const failed = await countOf(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state <> 'pending' OR attempts > 1");
  const perSecond = round(delivered / cfg.drainSeconds, 1);
  log(`backlog drain, ${what}: ${delivered.toLocaleString('en-US')} of ${queued.toLocaleString('en-US')} queued deliveries in ${cfg.drainSeconds} s (${perSecond}/s)${left === 0 ? ' (ran dry)' : ''}; CPU/delivery ${cpuLine(cpu)}`);
  const P = '3 end to end';
  rows.push(
    {
      phase: P,
      metric: `backlog drain, ${what}: deliveries/s, ${queued.toLocaleString('en-US')} queued for ${cfg.tenants} tenants${left === 0 ? ' (ran dry: a lower bound)' : ''}`,
      value: perSecond,
      unit: 'msg/s',
      ...(what.startsWith('tokens warm') ? { goal: '≥ 1,000', met: perSecond >= 1000 } : {}),
    },
    { phase: P, metric: `backlog drain, ${what}: CPU per delivery`, value: cpuLine(cpu) },
    { phase: P, metric: `backlog drain, ${what}: jobs retried or failed so far`, value: failed },
  );
  return { queued, delivered, seconds: cfg.drainSeconds, perSecond, left, ranDry: left === 0, retriedOrFailed: failed, cpu };
}

/**
 * Phase 2's queue, as after an outage, worked off by a connector that has just started: each
 * tenant's first delivery fetches its Genesys token and credentials (cold).
 */
export function backlogDrain(ctx: BenchContext, genesys: GenesysSimulator) {
  return measureDrain(ctx, genesys, 'tokens cold');
}

/**
 * The same with every tenant's Genesys token and credentials already in the connector: one
 * delivery per tenant first (waited for), then the connector is paused (SIGSTOP: nothing in
 * flight, its caches kept) while a fresh backlog of at least `queue` deliveries is ingested
 * straight into webhook-service (batched webhooks over all `tenants`), resumed (SIGCONT) and
 * measured as the cold drain.
 */
export async function warmBacklogDrain(ctx: BenchContext, o: { genesys: GenesysSimulator; tenants: BenchTenant[]; connectorPid: number; queue: number }) {
  const { settings: cfg, svc, ownerUrl } = ctx;
  await clearQueue(ownerUrl);
  const text = (seq: number) => `warm drain message ${seq}`;
  const one = await runLoad({
    label: 'warm drain: one delivery per tenant',
    url: svc.webhook,
    connections: cfg.connections,
    amount: o.tenants.length,
    request: metaRequest({ conversations: (n) => [{ tenant: o.tenants[n % o.tenants.length], waId: customerWaId('1444', o.tenants[n % o.tenants.length], 0) }], perRequest: 1, text }),
  });
  const end = Date.now() + 120_000;
  while ((await countOf(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state = 'pending'")) > 0 && Date.now() < end) await sleep(200);
  log(`warm drain: ${one.stats.ok} webhooks, one per tenant, delivered (tokens and credentials fetched)`);
  const batch = Math.max(1, cfg.batchSize);
  const webhooks = Math.ceil(o.queue / batch);
  process.kill(o.connectorPid, 'SIGSTOP');
  try {
    const top = await runLoad({
      label: 'warm drain: backlog',
      url: svc.webhook,
      connections: cfg.batchConnections,
      amount: webhooks,
      request: metaRequest({
        conversations: (n) => {
          const t = o.tenants[n % o.tenants.length];
          return Array.from({ length: batch }, (_, k) => ({ tenant: t, waId: customerWaId('1444', t, k % cfg.customersPerTenant) }));
        },
        perRequest: batch,
        text,
      }),
    });
    log(`warm drain: backlog of ${(top.stats.ok * batch).toLocaleString('en-US')} deliveries ingested with the connector paused (${describe(top.stats, batch)})`);
  } finally {
    process.kill(o.connectorPid, 'SIGCONT');
  }
  return measureDrain(ctx, o.genesys, 'tokens warm');
}

/** Deletes what is left of the delivery queue, so that phase 3 measures steady state. */
export async function clearQueue(ownerUrl: string): Promise<void> {
  const cleared = await ownerExec(ownerUrl, 'DELETE FROM outbox');
  await ownerExec(ownerUrl, 'VACUUM ANALYZE outbox');
  log(`cleared the rest of the delivery queue (${cleared.toLocaleString('en-US')} rows), so that phase 3 measures steady state`);
}
