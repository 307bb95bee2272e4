/**
 * CPU time per process from /proc (Linux): the services, this process (load generator and
 * simulators), the bench's PostgreSQL processes and Redis; turned into cores used and CPU
 * milliseconds per accepted request.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

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

/** Last CPU seen of each named process (by name and pid). */
const processesSeen = new Map<string, number>();

/**
 * CPU seconds so far of each named pid, this process (load generator and simulators), the
 * bench's PostgreSQL processes and, when used, redis-server (shared: every one on the machine).
 */
export function cpuSnapshot(pids: Record<string, number | undefined>, postgres: PostgresScope, redis: boolean): CpuSnapshot {
  const processes: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    if (!pid) continue;
    // A process that has exited since (npm start's, phase 8) keeps the CPU last seen of it.
    const cpu = procCpu(pid) ?? processesSeen.get(`${name}:${pid}`);
    if (cpu === undefined) continue;
    processesSeen.set(`${name}:${pid}`, cpu);
    processes[name] = cpu;
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
