/**
 * `npm run bench`: the platform as deployed (one process per service, see ../cluster.ts) against
 * the local Meta and Genesys simulators, tenants seeded straight into PostgreSQL, load from
 * autocannon. Phases, one file each (run in the order 1, 4, 2, 3, 6, so that the tenant-scale
 * figure is taken on the same empty message tables as phase 1's; 5 spans the run):
 *
 *   1. gateway cost     gateway-cost.ts    GET /state/stats through the gateway vs straight to state-manager
 *   4. tenant scale     tenant-scale.ts    phase 1's gateway run with 10,000 tenants / 20,000 keys, cold and warm
 *   2. webhook ingest   webhook-ingest.ts  signed Meta webhooks (1 and 50 messages) through the gateway and direct,
 *                                          genesys-connector NOT running: the ingestion path only
 *   3a. backlog drain   backlog-drain.ts   the connector started on phase 2's queue
 *   3. end to end       end-to-end.ts      webhook accepted → Genesys, agent reply → Meta
 *   6. replicas         replicas.ts        one and two processes of webhook-service, then of genesys-connector
 *   8. npm start        npm-start.ts       single-message webhooks through `npm start` (one process) while it delivers
 *   5. memory           memory.ts          peak RSS per service
 *   7. capacity         capacity.ts        cores per service, PostgreSQL and Redis for 1,000 and 10,000 msg/s (from phase 3)
 *
 * Beside the bridge, in phases 1, 2 and 8: the bare baseline (baseline.ts, its own process), the
 * least work a webhook receiver and the stats route need; goals.ts turns the run into issue #15's
 * figures against it, chart.ts draws the run.
 *
 * This file runs them in order and measures CPU and PostgreSQL's sessions around each. Prints a
 * table and writes bench/results/<ISO date>.json and .svg (results.ts). Settings: BENCH_* (config.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { parseEnv } from '@bridge/shared';
import { startGenesysSimulator, startMetaSimulator, type GenesysSimulator, type MetaSimulator } from '@bridge/simulators';
import { Cluster } from '../cluster';
import { backlogDrain, clearQueue, warmBacklogDrain } from './backlog-drain';
import { startBaseline } from './baseline';
import { capacity } from './capacity';
import { benchConfigSchema, benchSettings } from './config';
import type { BenchContext } from './context';
import { cpuBetween, cpuSnapshot, type CpuSnapshot, type PostgresScope } from './cpu';
import { endToEnd, endToEndRate } from './end-to-end';
import { gatewayCost, type GatewayCost } from './gateway-cost';
import { BASELINE, goals, type GoalInputs } from './goals';
import { peakMemory, type PeakMemory } from './memory';
import { npmStartPhase } from './npm-start';
import { log, out } from './output';
import { PgWaitSampler } from './pg-waits';
import { cleanup, newRun, prepare, profiling, servicePids, startPlatform } from './platform';
import { summarizeProfile } from './profile';
import { replicaScaling } from './replicas';
import { gitCommit } from './report';
import { NOTES, printReport, writeReport, type Collected } from './results';
import { BENCH_RATE_LIMIT, makeTenant, ownerScalar, seedTenants, type BenchTenant } from './seed';
import { tenantScale } from './tenant-scale';
import { webhookIngest, type WebhookIngest } from './webhook-ingest';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

const seconds = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);

/** Tells the simulators about these tenants' numbers and orgs, so that deliveries to them succeed. */
function register(tenants: BenchTenant[], meta: MetaSimulator, genesys: GenesysSimulator): void {
  for (const t of tenants) {
    meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: t.accessToken, displayPhoneNumber: t.displayPhoneNumber, wabaId: t.wabaId });
    genesys.addOrg({ clientId: t.clientId, clientSecret: t.clientSecret, integrationId: t.integrationId });
  }
}

async function main(): Promise<number> {
  const config = parseEnv(benchConfigSchema);
  const settings = benchSettings(config);
  const startedAt = new Date();
  // What was built and is being measured (other work may commit while the bench runs).
  const commit = gitCommit(ROOT);
  const stamp = startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const run = newRun();
  let cleaned: Promise<void> | undefined;
  const doCleanup = () => (cleaned ??= cleanup(run));
  process.once('SIGINT', () => {
    process.stderr.write('\nInterrupted: stopping everything…\n');
    void doCleanup().finally(() => process.exit(130));
  });

  const collected: Collected = { rows: [], results: {}, cpu: {}, pgWaits: {}, memory: {}, profiles: [], notes: [], goals: [] };
  const { rows, results } = collected;
  const redisUrl = config.REDIS_URL;

  out(`Bridge benchmark — ${startedAt.toISOString()}`);
  out(
    `  PostgreSQL: ${config.DATABASE_URL ? 'DATABASE_URL (a fresh database on that server, dropped at the end)' : 'embedded'}; ` +
      `Redis: ${redisUrl ? 'REDIS_URL' : 'none (each service caches in its own process)'}; phases ${settings.phases.join(', ')}; ` +
      `${settings.seconds} s per run${settings.cpuProf ? '; CPU profiles of gateway and webhook-service' : ''}`,
  );
  out();
  try {
    const prepared = await prepare(run, config);
    const { ownerUrl, secrets } = prepared;
    const pgVersion = (await ownerScalar<{ v: string }>(ownerUrl, "SELECT current_setting('server_version') AS v")).v;

    const meta = await startMetaSimulator();
    run.meta = meta;
    const genesys = await startGenesysSimulator({ retryDelayMs: 50 });
    run.genesys = genesys;

    const tenants: BenchTenant[] = [];
    for (let i = 1; i <= settings.tenants; i++) tenants.push(makeTenant(i));
    let t0 = performance.now();
    await seedTenants(ownerUrl, secrets.CREDENTIALS_ENCRYPTION_KEY, tenants, 1);
    log(`seeded ${tenants.length.toLocaleString('en-US')} tenants (1 API key, Meta and Genesys credentials each, rate limit ${BENCH_RATE_LIMIT.toLocaleString('en-US')}/min) in ${seconds(t0)} s`);
    register(tenants.slice(0, settings.e2eTenants), meta, genesys);

    t0 = performance.now();
    const profiles = profiling(settings.cpuProf, RESULTS_DIR, stamp);
    const { back, webhook, gateway } = await startPlatform(run, prepared, { meta, genesys }, profiles.envFor);
    let connector: Cluster | undefined;
    log(`started tenant-service, auth-service, state-manager, webhook-service, gateway (one process each) in ${seconds(t0)} s`);

    t0 = performance.now();
    const baseline = await startBaseline(ownerUrl, tenants);
    run.closers.push(baseline.stop);
    log(`started the bare baseline (node:http + pg, its own process; secrets and key hashes of ${tenants.length.toLocaleString('en-US')} tenants in memory) in ${seconds(t0)} s`);
    /** Processes measured besides the services: the baseline, npm start's while phase 8 runs. */
    const extraPids: Record<string, number | undefined> = { [BASELINE]: baseline.pid };
    const pgScope: PostgresScope = run.benchDatabase ? { database: run.benchDatabase.name } : { embeddedDataDir: path.join(run.dataDir, 'postgres') };
    const probe = () => cpuSnapshot({ ...servicePids(run.clusters), ...extraPids }, pgScope, !!redisUrl);
    const ctx: BenchContext = {
      settings,
      svc: { gateway: gateway.url('gateway'), state: back.url('state-manager'), webhook: webhook.url('webhook-service'), baseline: baseline.url },
      internalToken: prepared.serviceEnv.GATEWAY_INTERNAL_TOKEN!,
      ownerUrl,
      encryptionKey: secrets.CREDENTIALS_ENCRYPTION_KEY,
      probe,
      rows,
    };
    const waitClient = new Client({ connectionString: ownerUrl, application_name: 'bench-wait-sampler' });
    await waitClient.connect();
    run.closers.push(() => waitClient.end());
    const waits = new PgWaitSampler(waitClient);
    const measure = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      out();
      out(`Phase ${name}`);
      const a: CpuSnapshot = probe();
      waits.start();
      const result = await fn();
      collected.cpu[name] = cpuBetween(a, probe());
      collected.pgWaits[name] = waits.stop();
      return result;
    };

    let p1: GatewayCost | undefined;
    if (settings.phases.includes('1')) {
      p1 = await measure('1 gateway cost', () => gatewayCost(ctx, tenants));
      results.gatewayCost = {
        throughput: { direct: p1.throughput.direct.stats, gateway: p1.throughput.gateway.stats, baseline: p1.throughput.baseline?.stats, runs: p1.throughput.runs },
        latencyAtC1: { direct: p1.latency.direct.stats, gateway: p1.latency.gateway.stats, baseline: p1.latency.baseline?.stats, runs: p1.latency.runs },
      };
    }
    if (settings.phases.includes('4')) {
      const scale = await measure('4 tenant scale', () => tenantScale(ctx, tenants, p1));
      // Peak RSS of each service with every tenant and key seen (the goal is < 150 MB at 100,000 tenants).
      let peakRss: PeakMemory = {};
      for (const c of run.clusters) peakRss = { ...peakRss, ...c.peakRss() };
      for (const [name, m] of Object.entries(peakRss)) rows.push({ phase: '4 tenant scale', metric: `peak RSS after phase 4 (${scale.tenants.toLocaleString('en-US')} tenants), ${name}`, value: m.peakMb, unit: 'MB', goal: '< 150 MB at 100,000 tenants', met: scale.tenants >= 100_000 ? m.peakMb < 150 : undefined });
      results.tenantScale = { ...scale, peakRss };
    }
    const ingestTenants = tenants.slice(0, settings.tenants);
    let ingest: WebhookIngest | undefined;
    if (settings.phases.includes('2')) {
      out();
      out('  (genesys-connector is NOT running in phase 2: the figures are the ingestion path only, webhook → PostgreSQL → 200)');
      ingest = await measure('2 webhook ingest', () => webhookIngest(ctx, ingestTenants));
      results.webhookIngestion = ingest;
    }
    if (settings.phases.includes('3')) {
      // Every tenant of phase 2 can now be delivered to (its queue is the backlog below).
      register(ingestTenants.slice(settings.e2eTenants), meta, genesys);
      t0 = performance.now();
      connector = await Cluster.start(back.serviceEnv, ['genesys-connector']);
      run.clusters.push(connector);
      log(`started genesys-connector in ${seconds(t0)} s`);
      if (settings.drainSeconds > 0 && settings.phases.includes('2')) {
        results.backlogDrain = await measure('3a backlog drain', () => backlogDrain(ctx, genesys));
      }
      if (settings.drainSeconds > 0) {
        const connectorPid = connector.pid('genesys-connector')!;
        results.warmBacklogDrain = await measure('3a backlog drain, tokens warm', () => warmBacklogDrain(ctx, { genesys, tenants: ingestTenants, connectorPid, queue: settings.warmQueue }));
      }
      await clearQueue(ownerUrl);
      const rate = endToEndRate(ctx, ingest);
      const commits = async () =>
        Number((await waitClient.query<{ n: string }>('SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n);
      results.endToEnd = await measure('3 end to end', () => endToEnd(ctx, ingestTenants, genesys, meta, rate, commits));
    }
    if (settings.phases.includes('6')) {
      // Phase 6 starts its own connectors, on a queue of its own making.
      if (connector) {
        collected.memory = peakMemory([connector], rows);
        await connector.stop();
        run.clusters.splice(run.clusters.indexOf(connector), 1);
      }
      await clearQueue(ownerUrl);
      const replicaTenants = tenants.slice(0, settings.e2eTenants);
      results.replicas = await measure('6 replicas', () =>
        replicaScaling(ctx, { run, tenants: replicaTenants, genesys, platform: [back, gateway], webhook, env: back.serviceEnv, pgScope, redis: !!redisUrl, queueTarget: settings.replicaQueue }),
      );
    }

    if (settings.phases.includes('8')) {
      // npm start delivers with its own connector: the cluster's must not compete for the queue.
      if (connector && run.clusters.includes(connector)) {
        collected.memory = peakMemory([connector], rows);
        await connector.stop();
        run.clusters.splice(run.clusters.indexOf(connector), 1);
      }
      register(ingestTenants.slice(settings.e2eTenants), meta, genesys);
      results.npmStart = await measure('8 npm start', () =>
        npmStartPhase(ctx, {
          prepared,
          dataDir: path.join(run.dataDir, 'npm-start'),
          sims: { meta, genesys },
          tenants: ingestTenants,
          addPid: (name, pid) => (extraPids[name] = pid),
          closers: run.closers,
        }),
      );
    }

    // 7. Capacity, from phase 3's CPU per message of each process.
    if (results.endToEnd) {
      const e2e = results.endToEnd as Awaited<ReturnType<typeof endToEnd>>;
      results.capacity = capacity(e2e.inbound.cpu, e2e.outbound.cpu, rows);
    }

    // 5. Memory, then stop (profiles are written when the services exit).
    collected.memory = { ...collected.memory, ...peakMemory(run.clusters, rows) };
    clearInterval(run.sampler);
    for (const c of [...run.clusters].reverse()) await c.stop();
    run.clusters.length = 0;
    for (const p of profiles.files) {
      if (existsSync(p.file)) collected.profiles.push(summarizeProfile(p.file, p.service, ROOT));
      else collected.notes.push(`no CPU profile was written for ${p.service} (${path.basename(p.file)})`);
    }
    collected.notes.push(...NOTES);
    collected.goals = goals(results as GoalInputs);

    const file = await writeReport(RESULTS_DIR, stamp, { startedAt, commit, pgVersion, config, settings }, collected);
    printReport(collected, pgScope, !!redisUrl, path.relative(ROOT, file));
    return 0;
  } finally {
    await doCleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`Bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
