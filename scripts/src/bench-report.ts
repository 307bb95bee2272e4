/**
 * What `npm run bench` reports besides the load figures: the machine, CPU time per process
 * (from /proc, Linux), the results table, and a summary of V8 CPU profiles.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------------------------------------
// Machine

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    hostname: os.hostname(),
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** HEAD, with `+changes` when tracked files outside scripts/ and bench/ differ from it (the build measured includes them). */
export function gitCommit(root: string): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)scripts', ':(exclude)bench'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return changed ? `${head}+changes` : head;
  } catch {
    return undefined;
  }
}

/** `redis_version` from INFO, without a client library. */
export function redisVersion(url: string): Promise<string | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    let data = '';
    const done = (v: string | undefined) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(1000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (d) => {
      data += d.toString();
      const m = /redis_version:([^\r\n]+)/.exec(data);
      if (m) done(m[1]);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// CPU time from /proc

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()) || 100;
} catch {
  // 100 on every Linux we run on
}

/** Fields of /proc/<pid>/stat after the command name (index 0 = state, 1 = ppid, 11 = utime…). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime of a live process (with `children`: plus the CPU of its children that exited), seconds. */
function procCpu(pid: number, children = false): number | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  const own = Number(f[11]) + Number(f[12]);
  return (children ? own + Number(f[13]) + Number(f[14]) : own) / clockTicks;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

/** Live processes whose command name is `comm` (e.g. postgres). */
function processesNamed(comm: string): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== comm) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      found.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Which PostgreSQL processes are the bench's: for the embedded server, its postmaster (found by
 * data folder) and every child of it; on a shared server, the backends connected to the bench
 * database (their process title names it), which leaves out the server's shared background work.
 */
export type PostgresScope = { embeddedDataDir: string } | { database: string };

export function describeScope(scope: PostgresScope): string {
  return 'embeddedDataDir' in scope ? 'postgres (embedded server, all its processes)' : `postgres (backends of ${scope.database})`;
}

/** Last CPU seen of each backend of the bench database (by pid and start time): one that exits keeps its share. */
const backendsSeen = new Map<string, number>();

function postgresCpu(scope: PostgresScope): number {
  const procs = processesNamed('postgres');
  if ('embeddedDataDir' in scope) {
    // The postmaster reaps its backends: their CPU moves to its children's counters when they exit.
    const postmaster = procs.find((p) => p.cmdline.includes(scope.embeddedDataDir) && !p.cmdline.startsWith('postgres:'));
    if (!postmaster) return 0;
    const children = procs.filter((p) => p.ppid === postmaster.pid);
    return (procCpu(postmaster.pid, true) ?? 0) + children.reduce((sum, p) => sum + (procCpu(p.pid) ?? 0), 0);
  }
  for (const p of procs) {
    if (!p.cmdline.includes(` ${scope.database} `)) continue;
    const f = statFields(p.pid);
    if (f) backendsSeen.set(`${p.pid}:${f[19]}`, (Number(f[11]) + Number(f[12])) / clockTicks);
  }
  let total = 0;
  for (const v of backendsSeen.values()) total += v;
  return total;
}

/** Busy and total CPU seconds of the whole machine, from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / clockTicks, total: total / clockTicks };
  } catch {
    return { busy: 0, total: 0 };
  }
}

export interface CpuSnapshot {
  at: number;
  processes: Record<string, number>;
  machine: { busy: number; total: number };
}

export const BENCH_PROCESS = 'bench process (autocannon + simulators)';

/**
 * CPU seconds so far of each named pid, this process (load generator and simulators), the
 * bench's PostgreSQL processes and, when used, redis-server (shared: every one on the machine).
 */
export function cpuSnapshot(pids: Record<string, number | undefined>, postgres: PostgresScope, redis: boolean): CpuSnapshot {
  const processes: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const cpu = pid ? procCpu(pid) : undefined;
    if (cpu !== undefined) processes[name] = cpu;
  }
  const self = process.cpuUsage();
  processes[BENCH_PROCESS] = (self.user + self.system) / 1e6;
  processes[describeScope(postgres)] = postgresCpu(postgres);
  if (redis) processes['redis-server (shared, whole machine)'] = processesNamed('redis-server').reduce((sum, p) => sum + (procCpu(p.pid) ?? 0), 0);
  return { at: performance.now(), processes, machine: machineCpu() };
}

export interface CpuUse {
  seconds: number;
  /** Cores used on average, per process group, over the interval. */
  cores: Record<string, number>;
  machineBusyCores: number;
  /** Machine busy time not accounted for by the processes above (other users of the box, kernel). */
  otherCores: number;
}

/** CPU used by each process during a load run, and per 2xx response. */
export interface RunCpu {
  seconds: Record<string, number>;
  /** Cores used on average over the run. */
  cores: Record<string, number>;
  /** CPU milliseconds per 2xx response (per accepted request). */
  msPerOk: Record<string, number>;
  machineBusyCores: number;
}

export function runCpu(a: CpuSnapshot, b: CpuSnapshot, ok: number): RunCpu {
  const wall = (b.at - a.at) / 1000;
  const seconds: Record<string, number> = {};
  for (const [name, end] of Object.entries(b.processes)) {
    const used = Math.max(0, end - (a.processes[name] ?? 0));
    if (a.processes[name] === undefined && used === 0) continue;
    seconds[name] = Math.round(used * 1000) / 1000;
  }
  return summarizeCpu(seconds, wall, ok, (b.machine.busy - a.machine.busy) / wall);
}

/** Runs one after another: CPU seconds add up, as do responses and wall time. */
export function mergeCpu(list: Array<{ cpu?: RunCpu; seconds: number; ok: number }>): RunCpu | undefined {
  if (list.some((r) => !r.cpu)) return undefined;
  const seconds: Record<string, number> = {};
  let wall = 0;
  let ok = 0;
  let busy = 0;
  for (const r of list) {
    for (const [name, s] of Object.entries(r.cpu!.seconds)) seconds[name] = (seconds[name] ?? 0) + s;
    wall += r.seconds;
    ok += r.ok;
    busy += r.cpu!.machineBusyCores * r.seconds;
  }
  return summarizeCpu(seconds, wall, ok, busy / wall);
}

function summarizeCpu(seconds: Record<string, number>, wall: number, ok: number, busyCores: number): RunCpu {
  const cores: Record<string, number> = {};
  const msPerOk: Record<string, number> = {};
  for (const [name, s] of Object.entries(seconds)) {
    cores[name] = Math.round((s / wall) * 100) / 100;
    msPerOk[name] = ok ? Math.round((s * 1000 * 1000) / ok) / 1000 : NaN;
  }
  return { seconds, cores, msPerOk, machineBusyCores: Math.round(busyCores * 100) / 100 };
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const seconds = (b.at - a.at) / 1000;
  const cores: Record<string, number> = {};
  let accounted = 0;
  for (const [name, end] of Object.entries(b.processes)) {
    const start = a.processes[name];
    // A process that started in between (the connector) counts from zero.
    const used = Math.max(0, end - (start ?? 0));
    if (start === undefined && used === 0) continue;
    cores[name] = Math.round((used / seconds) * 100) / 100;
    accounted += used;
  }
  const busy = b.machine.busy - a.machine.busy;
  return {
    seconds: Math.round(seconds * 10) / 10,
    cores,
    machineBusyCores: Math.round((busy / seconds) * 100) / 100,
    otherCores: Math.round((Math.max(0, busy - accounted) / seconds) * 100) / 100,
  };
}

// ---------------------------------------------------------------------------------------------
// The results table

export interface Row {
  phase: string;
  metric: string;
  value: number | string;
  unit?: string;
  goal?: string;
  met?: boolean | null;
}

export function formatValue(row: Row): string {
  const v = typeof row.value === 'number' ? (Number.isFinite(row.value) ? fmtNumber(row.value) : 'n/a') : row.value;
  return row.unit ? `${v} ${row.unit}` : v;
}

function fmtNumber(x: number): string {
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  const abs = Math.abs(x);
  return abs >= 100 ? x.toLocaleString('en-US', { maximumFractionDigits: 0 }) : abs >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function renderRows(rows: Row[]): string {
  return renderTable(
    ['phase', 'metric', 'value', 'goal', 'met?'],
    rows.map((r) => [r.phase, r.metric, formatValue(r), r.goal ?? '', r.met === undefined || r.met === null ? '' : r.met ? 'yes' : 'NO']),
  );
}

// ---------------------------------------------------------------------------------------------
// CPU profiles (.cpuprofile, as written by node --cpu-prof)

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface ProfileSummary {
  file: string;
  service: string;
  sampledMs: number;
  /** Share of samples where the process was idle (waiting for I/O). */
  idlePct: number;
  topFunctions: Array<{ function: string; where: string; selfMs: number; pctOfBusy: number }>;
  topPackages: Array<{ package: string; selfMs: number; pctOfBusy: number }>;
}

function shortUrl(url: string, root: string): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  return u.startsWith(root) ? u.slice(root.length + 1) : u;
}

function packageOf(url: string, functionName: string, root: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (u.startsWith('node:')) return 'node core';
  if (u.startsWith(root)) return `bridge: ${u.slice(root.length + 1).split('/')[0]}`;
  return u;
}

export function summarizeProfile(file: string, service: string, root: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] };
  const totalHits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
  const msPerHit = (profile.endTime - profile.startTime) / 1000 / totalHits;
  const byFunction = new Map<string, { function: string; where: string; hits: number }>();
  const byPackage = new Map<string, number>();
  let idle = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += hits;
      continue;
    }
    const where = shortUrl(n.callFrame.url, root);
    const key = `${name}\u0000${where}`;
    const entry = byFunction.get(key) ?? { function: name, where: where ? `${where}:${n.callFrame.lineNumber + 1}` : '', hits: 0 };
    entry.hits += hits;
    byFunction.set(key, entry);
    const pkg = packageOf(n.callFrame.url, name, root);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
  }
  const busy = totalHits - idle || 1;
  const pct = (h: number) => Math.round((h / busy) * 1000) / 10;
  return {
    file: path.basename(file),
    service,
    sampledMs: Math.round(totalHits * msPerHit),
    idlePct: Math.round((idle / totalHits) * 1000) / 10,
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map((e) => ({ function: e.function, where: e.where, selfMs: Math.round(e.hits * msPerHit), pctOfBusy: pct(e.hits) })),
    topPackages: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([pkg, hits]) => ({ package: pkg, selfMs: Math.round(hits * msPerHit), pctOfBusy: pct(hits) })),
  };
}

// ---------------------------------------------------------------------------------------------
// What PostgreSQL's sessions wait on (sampled from pg_stat_activity)

/**
 * Samples the bench database's sessions every `everyMs`: how often each was running on CPU,
 * waiting for the client (idle / idle in transaction: the service's turn), or waiting inside
 * PostgreSQL on a lock or I/O. Shares of all samples.
 */
export class PgWaitSampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly client: import('pg').Client, private readonly everyMs = 100) {}

  start(): void {
    this.counts.clear();
    this.samples = 0;
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ what: string; n: number }>(
        `SELECT CASE WHEN state = 'active' AND wait_event IS NULL THEN 'active (on CPU)'
                     WHEN state = 'active' THEN 'waiting: ' || wait_event_type || '/' || wait_event
                     ELSE coalesce(state, 'unknown') || coalesce(' (' || wait_event || ')', '') END AS what,
                count(*)::int AS n
           FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          GROUP BY 1`,
      );
      this.samples++;
      for (const r of rows) this.counts.set(r.what, (this.counts.get(r.what) ?? 0) + r.n);
    } catch {
      // a sample lost is not worth failing the bench
    } finally {
      this.busy = false;
    }
  }

  /** Average number of sessions in each state, biggest first. */
  stop(): Array<{ state: string; sessions: number }> {
    clearInterval(this.timer);
    const n = this.samples || 1;
    return [...this.counts.entries()]
      .map(([state, c]) => ({ state, sessions: Math.round((c / n) * 100) / 100 }))
      .sort((a, b) => b.sessions - a.sessions);
  }
}
