/**
 * What the bench reports about its surroundings, and its results table: the machine, the commit
 * measured, Redis's version, and the table rendering.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

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
