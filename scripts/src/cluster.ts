import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './postgres';
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
  child?: ChildProcess;
  /** Highest peak RSS (kB) seen over this service's lives. */
  peakKb: number;
  restarts: number;
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

async function waitHealthy(url: string, child: ChildProcess, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
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

/**
 * The platform as deployed: every service its own `node <service>/dist/server.js` process on a
 * fixed port, so that one can be SIGKILLed and restarted while the others run, and each one's
 * memory measured. Services share state through PostgreSQL and, when REDIS_URL is set, Redis.
 */
export class Cluster {
  private readonly members = new Map<InstanceName, Member>();

  private constructor(private readonly env: NodeJS.ProcessEnv) {}

  /**
   * Starts `only` (default: every service) in start order. `replicas[service]` (default 1) runs
   * that many processes of a service, each on its own PORT/INTERNAL_PORT, named
   * `<service>`, `<service>-2`, ...: replicas of a queue worker share its queue through
   * PostgreSQL. The other services reach a replicated service at its first instance.
   */
  static async start(env: NodeJS.ProcessEnv, only?: ServiceName[], replicas: Partial<Record<ServiceName, number>> = {}): Promise<Cluster> {
    const cluster = new Cluster({ ...env });
    for (const s of serviceEntries.filter((e) => !only || only.includes(e.name))) {
      for (let n = 1; n <= (replicas[s.name] ?? 1); n++) {
        const name: InstanceName = n === 1 ? s.name : `${s.name}-${n}`;
        cluster.members.set(name, { name, service: s.name, port: await freePort(), internalPort: s.internal ? await freePort() : undefined, peakKb: 0, restarts: 0 });
      }
    }
    for (const s of serviceEntries) {
      const m = cluster.members.get(s.name);
      if (m && s.urlVar) cluster.env[s.urlVar] = `http://127.0.0.1:${m.port}`;
      if (m?.internalPort && s.internal?.urlVar) cluster.env[s.internal.urlVar] = `http://127.0.0.1:${m.internalPort}`;
    }
    try {
      // Members are in start order: a service's replicas follow its first instance.
      for (const name of cluster.members.keys()) await cluster.launch(name);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  url(name: InstanceName): string {
    return `http://127.0.0.1:${this.members.get(name)!.port}`;
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
      env: { ...this.env, PORT: String(m.port), METRICS_PORT: '0', ...(m.internalPort ? { INTERNAL_PORT: String(m.internalPort) } : {}) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4_000);
    });
    m.child = child;
    try {
      await waitHealthy(this.url(name), child);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start: ${(err as Error).message}\n${stderr}`);
    }
  }

  /** Samples every live service's peak RSS (call it periodically: a killed process takes its peak with it). */
  sample(): void {
    for (const m of this.members.values()) m.peakKb = Math.max(m.peakKb, peakRssKb(m.child?.pid));
  }

  async kill(name: InstanceName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.members.get(name)!;
    const child = m.child;
    if (!child || child.exitCode !== null) return;
    this.sample();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
    m.child = undefined;
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

  /** Graceful stop (SIGTERM), in reverse start order; a process still there after SHUTDOWN_GRACE_MS and its closing (25 s) is killed. */
  async stop(): Promise<void> {
    this.sample();
    for (const m of [...this.members.values()].reverse()) {
      const child = m.child;
      if (!child || child.exitCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
      await exited;
      clearTimeout(timer);
    }
  }
}
