/**
 * The platform under test and everything the bench opens: a fresh database (embedded, or a new
 * one on DATABASE_URL's server), the services as deployed (one process each, see ../cluster.ts),
 * and the way back out — also on Ctrl-C — so that a run leaves nothing behind.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { GenesysSimulator, MetaSimulator } from '@bridge/simulators';
import { Cluster } from '../cluster';
import { withDatabase } from '../postgres';
import { prepareDatabase, SERVICES, type PreparedDatabase, type ServiceName } from '../system';
import type { BenchConfig } from './config';
import { log } from './output';

/** What a run has opened, released by `cleanup` in reverse. */
export interface Run {
  /** Run first on the way out (e.g. the bench's own database connections). */
  closers: Array<() => Promise<unknown>>;
  prepared?: PreparedDatabase;
  dataDir: string;
  benchDatabase?: { serverUrl: string; name: string };
  clusters: Cluster[];
  meta?: MetaSimulator;
  genesys?: GenesysSimulator;
  sampler?: NodeJS.Timeout;
}

/** A run with its own temporary folder (the embedded PostgreSQL's, the generated secrets'). */
export function newRun(): Run {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bridge-bench-'));
  // As root, the embedded PostgreSQL runs as `postgres`, which must be able to reach its folder.
  chmodSync(dataDir, 0o755);
  return { dataDir, clusters: [], closers: [] };
}

/** The database, migrated; with DATABASE_URL a fresh `bridge_bench_<pid>` on that server (an existing database is never touched). */
export async function prepare(run: Run, config: BenchConfig): Promise<PreparedDatabase> {
  // The services' environment, as this process has it.
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (config.DATABASE_URL) {
    const name = `bridge_bench_${process.pid}`;
    const serverUrl = withDatabase(config.DATABASE_URL, 'postgres');
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    run.benchDatabase = { serverUrl, name };
    env.DATABASE_URL = withDatabase(config.DATABASE_URL, name);
  }
  const prepared = await prepareDatabase(env, run.dataDir, { log: (line) => log(line), embeddedPort: config.EMBEDDED_PG_PORT });
  run.prepared = prepared;
  return prepared;
}

/**
 * Starts tenant-service, auth-service and state-manager, then webhook-service and the gateway
 * (those two with `extraEnv(service)`, e.g. a profiler), against the simulators, as deployed:
 * NODE_ENV=production, LOG_LEVEL=warn. genesys-connector is started later (phase 3).
 */
export async function startPlatform(
  run: Run,
  prepared: PreparedDatabase,
  sims: { meta: MetaSimulator; genesys: GenesysSimulator },
  extraEnv: (service: ServiceName) => NodeJS.ProcessEnv,
): Promise<{ back: Cluster; webhook: Cluster; gateway: Cluster }> {
  const baseEnv: NodeJS.ProcessEnv = {
    ...prepared.serviceEnv,
    LOG_LEVEL: 'warn',
    // As deployed; prepareDatabase provides the secrets production insists on.
    NODE_ENV: 'production',
    META_GRAPH_URL: sims.meta.graphUrl,
    GENESYS_API_URL: sims.genesys.url,
    GENESYS_LOGIN_URL: sims.genesys.url,
  };
  delete baseEnv.NODE_OPTIONS;
  const back = await Cluster.start(baseEnv, ['tenant-service', 'auth-service', 'state-manager']);
  run.clusters.push(back);
  const webhook = await Cluster.start({ ...back.serviceEnv, ...extraEnv('webhook-service') }, ['webhook-service']);
  run.clusters.push(webhook);
  const gateway = await Cluster.start({ ...back.serviceEnv, WEBHOOK_SERVICE_URL: webhook.url('webhook-service'), ...extraEnv('gateway') }, ['gateway']);
  run.clusters.push(gateway);
  run.sampler = setInterval(() => {
    for (const c of run.clusters) c.sample();
  }, 1000);
  run.sampler.unref();
  return { back, webhook, gateway };
}

/**
 * With BENCH_CPU_PROF, the environment that makes a service profile itself into `dir` (Node 20
 * refuses --cpu-prof in NODE_OPTIONS; a preloaded module runs V8's profiler instead).
 */
export function profiling(on: boolean, dir: string, stamp: string) {
  const files: Array<{ service: ServiceName; file: string }> = [];
  const envFor = (service: ServiceName): NodeJS.ProcessEnv => {
    if (!on) return {};
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${stamp}-${service}.cpuprofile.json`);
    files.push({ service, file });
    return { NODE_OPTIONS: `--require=${path.join(__dirname, 'cpuprof.js')}`, BENCH_CPU_PROF_FILE: file };
  };
  return { files, envFor };
}

/** The pid of each service, from whichever cluster runs it. */
export function servicePids(clusters: Cluster[]): Record<string, number | undefined> {
  const pids: Record<string, number | undefined> = {};
  for (const s of SERVICES) for (const c of clusters) pids[s.name] ??= c.pid(s.name);
  return pids;
}

/** Stops everything the run opened, drops its database and removes its folder; never throws. */
export async function cleanup(run: Run): Promise<void> {
  if (run.sampler) clearInterval(run.sampler);
  for (const close of run.closers) await close().catch(() => undefined);
  for (const c of [...run.clusters].reverse()) await c.stop().catch(() => undefined);
  await Promise.allSettled([run.meta?.close(), run.genesys?.close()]);
  await run.prepared?.stopPostgres();
  if (run.benchDatabase) {
    const admin = new Client({ connectionString: run.benchDatabase.serverUrl });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${run.benchDatabase.name} WITH (FORCE)`);
    } catch (err) {
      process.stderr.write(`Could not drop ${run.benchDatabase.name}: ${(err as Error).message}\n`);
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
  rmSync(run.dataDir, { recursive: true, force: true });
}
