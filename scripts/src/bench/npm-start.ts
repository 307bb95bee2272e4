/**
 * Phase 8, `npm start`: what a newcomer runs — scripts/dist/start.js (every service in ONE process,
 * system.ts's startSystem, in-process caches: REDIS_URL unset) — started in a process of its own
 * against the bench database (DATABASE_URL as the owner, the run's secrets, every port 0, the
 * simulators), its genesys-connector delivering. Single-message signed Meta webhooks through its
 * gateway at saturation, alternated with the bare baseline (baseline, npm start, baseline, npm
 * start); the deliveries it makes meanwhile are counted.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { GenesysSimulator, MetaSimulator } from '@bridge/simulators';
import type { PreparedDatabase } from '../system';
import { clearQueue } from './backlog-drain';
import type { BenchContext } from './context';
import { mergeRuns, round, runLoad, type LoadRun, type LoadStats } from './load';
import { cpuLine, describe, log } from './output';
import { customerWaId, metaRequest } from './requests';
import type { BenchTenant } from './seed';

export const NPM_START = 'npm start (all services, one process)';

export interface NpmStartFigures {
  npmStart: LoadStats;
  baseline: LoadStats;
  /** npm start's accepted msg/s ÷ the baseline's. */
  ratio: number;
  /** Deliveries at the Genesys simulator per second during npm start's runs. */
  deliveredPerSecond: number;
  peakRssMb: number;
}

/** `npm start` as a child process; resolves with its gateway's URL once it says it is up. */
async function startNpmStart(prepared: PreparedDatabase, dataDir: string, sims: { meta: MetaSimulator; genesys: GenesysSimulator }) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: prepared.ownerUrl,
    BRIDGE_DATA_DIR: dataDir,
    ...prepared.secrets,
    META_GRAPH_URL: sims.meta.graphUrl,
    GENESYS_API_URL: sims.genesys.url,
    GENESYS_LOGIN_URL: sims.genesys.url,
    LOG_LEVEL: 'warn',
  };
  // In-process caches, as without Redis; no profiler.
  delete env.REDIS_URL;
  delete env.NODE_OPTIONS;
  for (const v of ['TENANT_SERVICE', 'AUTH_SERVICE', 'STATE_MANAGER', 'GENESYS_CONNECTOR', 'WEBHOOK_SERVICE', 'GATEWAY']) env[`${v}_PORT`] = '0';
  for (const v of ['TENANT_SERVICE', 'AUTH_SERVICE', 'GENESYS_CONNECTOR']) env[`${v}_INTERNAL_PORT`] = '0';
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'start.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
  const gateway = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up in 60 s: ${output}`)), 60_000);
    child.stdout!.on('data', (d) => {
      output = (output + d).slice(-4000);
      const m = /^\s+gateway\s+(http:\/\/\S+)\s*$/m.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}): ${output}`));
    });
  });
  child.stdout!.resume();
  const exited = new Promise((r) => child.once('exit', r));
  return {
    gateway,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Peak RSS (VmHWM) of a live process, MB. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
  } catch {
    return 0;
  }
}

/**
 * `addPid(name, pid)` puts npm start's process into the CPU probe, so that its CPU per message is
 * measured like a service's (after it exits, the probe keeps the CPU last seen of it).
 */
export async function npmStartPhase(
  ctx: BenchContext,
  o: { prepared: PreparedDatabase; dataDir: string; sims: { meta: MetaSimulator; genesys: GenesysSimulator }; tenants: BenchTenant[]; addPid: (name: string, pid: number | undefined) => void; closers: Array<() => Promise<unknown>> },
): Promise<NpmStartFigures> {
  const { settings: cfg, svc, rows, probe, ownerUrl } = ctx;
  const P = '8 npm start';
  await clearQueue(ownerUrl);
  const t0 = performance.now();
  const system = await startNpmStart(o.prepared, o.dataDir, o.sims);
  o.closers.push(system.stop);
  o.addPid(NPM_START, system.pid);
  log(`started npm start (scripts/dist/start.js, in-process caches, connector delivering) in ${((performance.now() - t0) / 1000).toFixed(1)} s: gateway ${system.gateway}`);
  const tenants = o.tenants;
  const request = () =>
    metaRequest({
      conversations: (n) => [{ tenant: tenants[n % tenants.length], waId: customerWaId('1888', tenants[n % tenants.length], Math.floor(n / tenants.length) % cfg.customersPerTenant) }],
      perRequest: 1,
      text: (seq) => `npm start message ${seq}`,
    });
  try {
    // Caches (credentials, numbers, tokens) and JIT: one webhook per tenant.
    const warm = await runLoad({ label: 'npm start warm-up', url: system.gateway, connections: cfg.connections, amount: tenants.length, request: request() });
    log(`npm start warm-up (C=${cfg.connections}, ${tenants.length} webhooks, one per tenant): ${describe(warm.stats)}`);
    const runs: Record<'baseline' | 'npmStart', LoadRun[]> = { baseline: [], npmStart: [] };
    let delivered = 0;
    let seconds = 0;
    for (let r = 0; r < 2; r++) {
      for (const target of ['baseline', 'npmStart'] as const) {
        const g0 = o.sims.genesys.received.length;
        const run = await runLoad({ label: `${target} #${r + 1}`, url: target === 'baseline' ? svc.baseline : system.gateway, connections: cfg.connections, seconds: cfg.seconds, request: request(), probe });
        if (target === 'npmStart') {
          delivered += o.sims.genesys.received.slice(g0).filter((x) => x.kind === 'message').length;
          seconds += run.stats.seconds;
        }
        log(`single-message webhooks, ${target === 'baseline' ? 'bare baseline' : 'npm start while delivering'} #${r + 1} (C=${cfg.connections}): ${describe(run.stats)}; CPU/msg ${cpuLine(run.stats.cpu)}`);
        runs[target].push(run);
      }
    }
    const npmStart = mergeRuns('npm start', runs.npmStart, false).stats;
    const baseline = mergeRuns('bare baseline', runs.baseline, false).stats;
    const ratio = round(npmStart.okPerSecond / baseline.okPerSecond, 3);
    const deliveredPerSecond = round(delivered / Math.max(0.001, seconds), 1);
    const peak = peakRssMb(system.pid);
    rows.push(
      { phase: P, metric: `single-message webhooks via npm start's gateway while it delivers: accepted msg/s (C=${cfg.connections})`, value: npmStart.okPerSecond, unit: 'msg/s' },
      { phase: P, metric: 'npm start: p50 / p99 time to 200', value: `${npmStart.latencyMs.p50.toFixed(1)} / ${npmStart.latencyMs.p99.toFixed(1)}`, unit: 'ms' },
      { phase: P, metric: 'npm start: deliveries at Genesys meanwhile', value: deliveredPerSecond, unit: 'msg/s' },
      { phase: P, metric: 'npm start: CPU per accepted message (its process includes the deliveries)', value: cpuLine(npmStart.cpu) },
      { phase: P, metric: 'bare baseline, same runs alternated: accepted msg/s, p50 / p99', value: `${Math.round(baseline.okPerSecond).toLocaleString('en-US')} msg/s, ${baseline.latencyMs.p50.toFixed(1)} / ${baseline.latencyMs.p99.toFixed(1)} ms` },
      { phase: P, metric: 'npm start ÷ bare baseline, accepted msg/s', value: ratio, goal: '≥ 0.3', met: ratio >= 0.3 },
      { phase: P, metric: 'npm start: peak RSS', value: peak, unit: 'MB' },
      { phase: P, metric: 'non-2xx / errors', value: `${npmStart.non2xx + baseline.non2xx} / ${npmStart.errors + baseline.errors}` },
    );
    return { npmStart, baseline, ratio, deliveredPerSecond, peakRssMb: peak };
  } finally {
    await system.stop();
    o.closers.splice(o.closers.indexOf(system.stop), 1);
    await clearQueue(ownerUrl);
  }
}
