import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startFront, type Front } from './front';
import { serviceEntries, type ServiceName } from './system';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * One process of the cluster: a service's name for its first instance, `<service>-<n>` for its
 * n-th (n ≥ 2) when the cluster runs replicas of it.
 */
export type InstanceName = ServiceName | `${ServiceName}-${number}`;

interface Member {
  name: InstanceName;
  service: ServiceName;
  port: number;
  /** Its internal routes' port (INTERNAL_PORT), for a service that has them. */
  internalPort?: number;
  /** This process's own additions to the cluster's environment. */
  env: NodeJS.ProcessEnv;
  child?: ChildProcess;
  /** Highest peak RSS (kB) seen over this service's lives. */
  peakKb: number;
  restarts: number;
}

/** Ports this process has handed out to cluster members and fronts: never twice. */
const reserved = new Set<number>();

/** Whether something may listen on `port` of every address (as the services do) right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free port below Linux's ephemeral range (32768–60999), for a process that is killed and
 * restarted on the same port: while it is down, an ephemeral port could become the local port of
 * some outgoing connection (or another program's port 0) and the restart would find it taken.
 */
export async function servicePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (reserved.has(port) || !(await canListen(port))) continue;
    reserved.add(port);
    return port;
  }
  throw new Error('no free port found in 20000–31999');
}

/** Peak resident set size of a live process, from the kernel (Linux), in kB. */
function peakRssKb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * How long a process may take to answer /health after it is spawned: generous, because a restart
 * during a chaos run competes for a loaded machine's CPU (and waits up to 2 s for an absent Redis).
 */
const START_TIMEOUT_MS = 60_000;

/**
 * How long a SIGTERMed process may take to exit before it is SIGKILLed (a pod's grace period):
 * past the services' own shutdown grace (SHUTDOWN_GRACE_MS, 10 s by default) and their closing.
 */
export const GRACE_MS = 25_000;

async function waitHealthy(url: string, child: ChildProcess, ms = START_TIMEOUT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not healthy after ${ms} ms`);
}

/** How a stopped process ended. */
export interface Stopped {
  /** ms from the signal to the exit. */
  ms: number;
  /** SIGKILLed after the grace period, because it had not exited on SIGTERM. */
  forced: boolean;
}

/**
 * The platform as deployed: every service its own `node <service>/dist/server.js` process on a
 * fixed port, so that one can be SIGKILLed and restarted while the others run, and each one's
 * memory measured. Services share state through PostgreSQL and, when REDIS_URL is set, Redis.
 * A service run as several processes gets a round-robin TCP front (front.ts) on its port and on
 * its internal port, as a Kubernetes Service has: the other services reach it there.
 */
export class Cluster {
  private readonly members = new Map<InstanceName, Member>();
  private readonly fronts = new Map<ServiceName, { front: Front; internal?: Front }>();
  /**
   * Processes that exited without being told to (a crash), with the end of their stderr. The
   * cluster does not restart them: whoever runs it decides (the soak reports them).
   */
  readonly crashes: Array<{ name: InstanceName; at: Date; code: number | null; signal: NodeJS.Signals | null; stderr: string }> = [];
  /** The processes being stopped on purpose (kill, stop). */
  private readonly stopping = new Set<ChildProcess>();

  private constructor(private readonly env: NodeJS.ProcessEnv) {}

  /**
   * Starts `only` (default: every service) in start order. `replicas[service]` (default 1) runs
   * that many processes of a service, each on its own PORT/INTERNAL_PORT, named
   * `<service>`, `<service>-2`, ...: replicas of a queue worker share its queue through
   * PostgreSQL. The other services reach a replicated service through its fronts (`serviceUrl`),
   * which spread connections over its replicas. `instanceEnv(name)`: what one process gets on top
   * of `env` (e.g. a per-replica address to count its requests).
   */
  static async start(
    env: NodeJS.ProcessEnv,
    only?: ServiceName[],
    replicas: Partial<Record<ServiceName, number>> = {},
    instanceEnv: (name: InstanceName) => NodeJS.ProcessEnv = () => ({}),
  ): Promise<Cluster> {
    const cluster = new Cluster({ ...env });
    for (const s of serviceEntries.filter((e) => !only || only.includes(e.name))) {
      for (let n = 1; n <= (replicas[s.name] ?? 1); n++) {
        const name: InstanceName = n === 1 ? s.name : `${s.name}-${n}`;
        cluster.members.set(name, { name, service: s.name, env: instanceEnv(name), port: await servicePort(), internalPort: s.internal ? await servicePort() : undefined, peakKb: 0, restarts: 0 });
      }
    }
    try {
      for (const s of serviceEntries) {
        const ms = [...cluster.members.values()].filter((m) => m.service === s.name);
        if (ms.length > 1) {
          cluster.fronts.set(s.name, {
            front: await startFront(ms.map((m) => m.port), await servicePort()),
            internal: ms[0].internalPort ? await startFront(ms.map((m) => m.internalPort!), await servicePort()) : undefined,
          });
        }
        const m = ms[0];
        const fronts = cluster.fronts.get(s.name);
        if (m && s.urlVar) cluster.env[s.urlVar] = fronts?.front.url ?? `http://127.0.0.1:${m.port}`;
        if (m?.internalPort && s.internal?.urlVar) cluster.env[s.internal.urlVar] = fronts?.internal?.url ?? `http://127.0.0.1:${m.internalPort}`;
      }
      // Members are in start order: a service's replicas follow its first instance.
      for (const name of cluster.members.keys()) await cluster.launch(name);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** One process's own address. */
  url(name: InstanceName): string {
    return `http://127.0.0.1:${this.members.get(name)!.port}`;
  }

  /** Where a service is reached: its front when it runs as several processes, else its one process. */
  serviceUrl(service: ServiceName): string {
    return this.fronts.get(service)?.front.url ?? this.url(service);
  }

  /** The fronts of a service run as several processes, on its port and its internal port (connections piped to each replica so far). */
  frontsOf(service: ServiceName): { front: Front; internal?: Front } | undefined {
    return this.fronts.get(service);
  }

  pid(name: InstanceName): number | undefined {
    return this.members.get(name)?.child?.pid;
  }

  /** The processes running `service`: its first instance, then its replicas. */
  instances(service: ServiceName): InstanceName[] {
    return [...this.members.values()].filter((m) => m.service === service).map((m) => m.name);
  }

  get serviceEnv(): NodeJS.ProcessEnv {
    return this.env;
  }

  private async launch(name: InstanceName): Promise<void> {
    const m = this.members.get(name)!;
    const child = spawn(process.execPath, [path.join(ROOT, m.service, 'dist', 'server.js')], {
      // Several processes of a service on one host: each its metrics on a free port.
      env: { ...this.env, ...m.env, PORT: String(m.port), METRICS_PORT: '0', ...(m.internalPort ? { INTERNAL_PORT: String(m.internalPort) } : {}) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4_000);
    });
    m.child = child;
    child.once('exit', (code, signal) => {
      if (this.stopping.delete(child)) return;
      this.crashes.push({ name, at: new Date(), code, signal, stderr: stderr.slice(-1_000) });
    });
    try {
      await waitHealthy(this.url(name), child);
    } catch (err) {
      this.stopping.add(child);
      child.kill('SIGKILL');
      throw new Error(`${name} did not start: ${(err as Error).message}\n${stderr}`);
    }
  }

  /** Samples every live service's peak RSS (call it periodically: a killed process takes its peak with it). */
  sample(): void {
    for (const m of this.members.values()) m.peakKb = Math.max(m.peakKb, peakRssKb(m.child?.pid));
  }

  /**
   * Stops one process with `signal`; any other signal than SIGKILL is followed by SIGKILL after
   * `graceMs` if the process has not exited by then (as Kubernetes does after a pod's grace period).
   */
  async kill(name: InstanceName, signal: NodeJS.Signals = 'SIGKILL', graceMs = GRACE_MS): Promise<Stopped> {
    const m = this.members.get(name)!;
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return { ms: 0, forced: false };
    this.sample();
    const t0 = Date.now();
    const exited = new Promise((r) => child.once('exit', r));
    this.stopping.add(child);
    child.kill(signal);
    let forced = false;
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => {
      forced = true;
      child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
    m.child = undefined;
    return { ms: Date.now() - t0, forced };
  }

  async restart(name: InstanceName): Promise<void> {
    await this.kill(name);
    this.members.get(name)!.restarts++;
    await this.launch(name);
  }

  peakRss(): Record<string, { peakMb: number; restarts: number }> {
    this.sample();
    return Object.fromEntries([...this.members.values()].map((m) => [m.name, { peakMb: Math.round(m.peakKb / 102.4) / 10, restarts: m.restarts }]));
  }

  /** Graceful stop (SIGTERM; a process still there after GRACE_MS, past SHUTDOWN_GRACE_MS and its closing, is killed), in reverse start order; then the fronts. */
  async stop(): Promise<void> {
    this.sample();
    for (const m of [...this.members.values()].reverse()) await this.kill(m.name, 'SIGTERM');
    for (const f of this.fronts.values()) await Promise.all([f.front.close(), f.internal?.close()]);
    this.fronts.clear();
  }
}
