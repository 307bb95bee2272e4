/** How the bench prints as it goes: timestamped lines, and the figures of a run in one line. */
import { BENCH_PROCESS, type RunCpu } from './cpu';
import type { LoadStats } from './load';

export const out = (line = '') => process.stdout.write(`${line}\n`);
export const log = (line: string) => out(`  ${new Date().toISOString().slice(11, 19)}  ${line}`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const ms = (x: number) => `${Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 2) : 'n/a'} ms`;

/** `1,234 req/s, p50 1.20 ms, p99 3.40 ms` (messages/s when each request carries `perRequest`), with any failures. */
export const describe = (s: LoadStats, perRequest = 1) =>
  `${Math.round(s.okPerSecond * perRequest).toLocaleString('en-US')} ${perRequest > 1 ? 'msg' : 'req'}/s, p50 ${ms(s.latencyMs.p50)}, p99 ${ms(s.latencyMs.p99)}` +
  (s.non2xx || s.errors ? `, non-2xx ${s.non2xx}, errors ${s.errors} ${JSON.stringify(s.statusCodes)}` : '');

/** `gateway 0.41, state-manager 0.52, postgres 0.60 ms`: CPU per accepted request (or message), biggest first. */
export function cpuLine(cpu: RunCpu | undefined, perRequest = 1): string {
  if (!cpu) return 'n/a';
  const short = (name: string) => (name.startsWith('postgres') ? 'postgres' : name === BENCH_PROCESS ? 'load gen+sims' : name.startsWith('redis') ? 'redis' : name);
  const parts = Object.entries(cpu.msPerOk)
    .map(([name, v]) => [short(name), v / perRequest] as const)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1]);
  const total = parts.reduce((s, [, v]) => s + v, 0);
  return `${parts.map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ')} (Σ ${total.toFixed(2)} ms)`;
}
