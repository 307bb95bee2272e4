/**
 * Phase 6, replicas: the same work done by one and by two processes of webhook-service, and of
 * genesys-connector, side by side — throughput, and CPU milliseconds per message of each process
 * (cpu.ts), so that the capacity table (capacity.ts) can say what N replicas need:
 *
 *   6a webhook-service ×1, ×2: single-message signed Meta webhooks straight to webhook-service at
 *      saturation (BENCH_CONNECTIONS, BENCH_SECONDS); with two, autocannon's connections go round
 *      both processes' ports. The connector is not running (ingestion only).
 *   6b genesys-connector ×1, ×2: the processes started on a queue of deliveries (topped up to
 *      BENCH_REPLICA_QUEUE for the BENCH_E2E_TENANTS tenants, which phase 3 warmed), competing
 *      for it as replicas do; deliveries/s over BENCH_DRAIN_SECONDS after a 2 s start.
 *
 * On a 2-core machine a second process cannot add much throughput (the cores are already busy);
 * the figure that carries over to a bigger machine is the CPU per message per process, and
 * whether it stays flat from one to two processes (the queue's claims do not get dearer when
 * workers compete).
 */
import type { GenesysSimulator } from '@bridge/simulators';
import { Cluster } from '../cluster';
import type { BenchContext } from './context';
import { cpuSnapshot, runCpu, type PostgresScope, type RunCpu } from './cpu';
import { round, runLoad, type LoadStats } from './load';
import { cpuLine, describe, log, sleep } from './output';
import type { Run } from './platform';
import { customerWaId, metaRequest, type Conversation } from './requests';
import { ownerScalar, type BenchTenant } from './seed';

export interface ReplicaFigures {
  replicas: number;
  /** Messages accepted (6a) or delivered (6b) per second. */
  perSecond: number;
  cpu?: RunCpu;
  /** CPU ms per message of the replicated service, all its processes together. */
  serviceMsPerMessage: number;
}

export interface ReplicaScaling {
  webhook: ReplicaFigures[];
  connector: Array<ReplicaFigures & { queuedAtStart: number; ranDry: boolean }>;
}

const pending = async (ownerUrl: string) => Number((await ownerScalar<{ n: string }>(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state = 'pending'")).n);

/** CPU ms per message of the processes whose names start with `service`. */
const serviceMs = (cpu: RunCpu | undefined, service: string) =>
  round(Object.entries(cpu?.msPerOk ?? {}).reduce((sum, [name, v]) => (name === service || name.startsWith(`${service}-`) ? sum + v : sum), 0), 3);

export async function replicaScaling(
  ctx: BenchContext,
  o: {
    run: Run;
    tenants: BenchTenant[];
    genesys: GenesysSimulator;
    /** The platform's clusters (their processes are measured too) and the first webhook-service's. */
    platform: Cluster[];
    webhook: Cluster;
    /** The environment a webhook-service and a connector are started with. */
    env: NodeJS.ProcessEnv;
    pgScope: PostgresScope;
    redis: boolean;
    queueTarget: number;
  },
): Promise<ReplicaScaling> {
  const { settings: cfg, ownerUrl, rows } = ctx;
  const P = '6 replicas';
  const customers = cfg.customersPerTenant;
  const conv = (n: number): Conversation[] => {
    const t = o.tenants[n % o.tenants.length];
    return [{ tenant: t, waId: customerWaId('1666', t, Math.floor(n / o.tenants.length) % customers) }];
  };
  const text = (seq: number) => `replica bench message ${seq}`;
  const request = () => metaRequest({ conversations: conv, perRequest: 1, text });

  // A second webhook-service, as a replica: same environment, its own port.
  const extra = await Cluster.start(o.env, ['webhook-service']);
  o.run.clusters.push(extra);
  const webhookUrls = [o.webhook.url('webhook-service'), extra.url('webhook-service')];
  let connectors: Cluster | undefined;
  /** Every process of the phase by its own name (the second webhook-service is `webhook-service-2`). */
  const probe = () => {
    const pids: Record<string, number | undefined> = {};
    for (const c of o.platform) for (const s of ['tenant-service', 'auth-service', 'state-manager', 'gateway'] as const) pids[s] ??= c.pid(s);
    pids['webhook-service'] = o.webhook.pid('webhook-service');
    pids['webhook-service-2'] = extra.pid('webhook-service');
    for (const n of connectors?.instances('genesys-connector') ?? []) pids[n] = connectors!.pid(n);
    return cpuSnapshot(pids, o.pgScope, o.redis);
  };

  // 6a: ingestion by one, then two webhook-service processes.
  await runLoad({ label: 'replica warm-up', url: webhookUrls, connections: cfg.connections, amount: 2 * o.tenants.length, request: request() });
  const webhook: ReplicaFigures[] = [];
  for (const n of [1, 2]) {
    const r = await runLoad({ label: `webhook-service ×${n}`, url: webhookUrls.slice(0, n), connections: cfg.connections, seconds: cfg.seconds, request: request(), probe });
    const figures = { replicas: n, perSecond: r.stats.okPerSecond, cpu: r.stats.cpu, serviceMsPerMessage: serviceMs(r.stats.cpu, 'webhook-service') };
    webhook.push(figures);
    log(`webhook-service ×${n}, single-message webhooks direct (C=${cfg.connections}): ${describe(r.stats)}; CPU/msg ${cpuLine(r.stats.cpu)}`);
    rows.push(
      { phase: P, metric: `webhook-service ×${n}: accepted msg/s, single-message webhooks direct (C=${cfg.connections})`, value: Math.round(r.stats.okPerSecond), unit: 'msg/s' },
      { phase: P, metric: `webhook-service ×${n}: p50 / p99 time to 200`, value: `${r.stats.latencyMs.p50.toFixed(1)} / ${r.stats.latencyMs.p99.toFixed(1)}`, unit: 'ms' },
      { phase: P, metric: `webhook-service ×${n}: CPU per message`, value: cpuLine(r.stats.cpu) },
      { phase: P, metric: `webhook-service ×${n}: non-2xx / errors`, value: `${r.stats.non2xx} / ${r.stats.errors}` },
    );
    checkOk(r.stats);
  }

  // 6b: the queue drained by one, then two connector processes.
  const connector: ReplicaScaling['connector'] = [];
  for (const n of [1, 2]) {
    const queued = await pending(ownerUrl);
    if (queued < o.queueTarget) {
      const top = await runLoad({ label: 'queue top-up', url: webhookUrls, connections: cfg.connections, amount: o.queueTarget - queued, request: request() });
      checkOk(top.stats);
    }
    const queuedAtStart = await pending(ownerUrl);
    connectors = await Cluster.start(o.env, ['genesys-connector'], { 'genesys-connector': n });
    o.run.clusters.push(connectors);
    // Tokens, credentials, JIT: the first 2 s are not measured.
    await sleep(2_000);
    const count = () => o.genesys.received.filter((r) => r.kind === 'message').length;
    const g0 = count();
    const a = probe();
    await sleep(cfg.drainSeconds * 1000);
    const delivered = count() - g0;
    const cpu = runCpu(a, probe(), delivered);
    const left = await pending(ownerUrl);
    await connectors.stop();
    o.run.clusters.splice(o.run.clusters.indexOf(connectors), 1);
    connectors = undefined;
    const perSecond = round(delivered / cfg.drainSeconds, 1);
    const figures = { replicas: n, perSecond, cpu, serviceMsPerMessage: serviceMs(cpu, 'genesys-connector'), queuedAtStart, ranDry: left === 0 };
    connector.push(figures);
    log(`genesys-connector ×${n}: ${delivered.toLocaleString('en-US')} deliveries in ${cfg.drainSeconds} s (${perSecond}/s) from a queue of ${queuedAtStart.toLocaleString('en-US')}${left === 0 ? ' (ran dry)' : ''}; CPU/delivery ${cpuLine(cpu)}`);
    rows.push(
      { phase: P, metric: `genesys-connector ×${n}: deliveries/s from a queue of ${queuedAtStart.toLocaleString('en-US')} (${o.tenants.length} tenants)${left === 0 ? ', ran dry' : ''}`, value: perSecond, unit: 'msg/s' },
      { phase: P, metric: `genesys-connector ×${n}: CPU per delivery`, value: cpuLine(cpu) },
    );
  }
  const ratio = (list: ReplicaFigures[]) => (list[0].serviceMsPerMessage > 0 ? round(list[1].serviceMsPerMessage / list[0].serviceMsPerMessage, 2) : NaN);
  rows.push(
    { phase: P, metric: 'webhook-service: throughput ×2 ÷ ×1 (same 2 cores)', value: round(webhook[1].perSecond / webhook[0].perSecond, 2) },
    { phase: P, metric: 'webhook-service: CPU per message of the service ×2 ÷ ×1', value: ratio(webhook), goal: '≈ 1 (no cost of a second replica)' },
    { phase: P, metric: 'genesys-connector: throughput ×2 ÷ ×1 (same 2 cores)', value: round(connector[1].perSecond / connector[0].perSecond, 2) },
    { phase: P, metric: 'genesys-connector: CPU per delivery of the service ×2 ÷ ×1', value: ratio(connector), goal: '≈ 1 (competing claims cost nothing extra)' },
  );
  await extra.stop();
  o.run.clusters.splice(o.run.clusters.indexOf(extra), 1);
  return { webhook, connector };
}

/** A run with failures measures something else: said in the log (the rows show the counts). */
function checkOk(s: LoadStats) {
  if (s.non2xx || s.errors) log(`  (${s.label}: ${s.non2xx} non-2xx, ${s.errors} errors ${JSON.stringify(s.statusCodes)})`);
}
