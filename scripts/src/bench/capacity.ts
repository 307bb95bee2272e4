/**
 * The capacity table: from the CPU milliseconds per message each process spent in phase 3 (end to
 * end, every process of the path, steady state), how many cores of each service, of PostgreSQL
 * and of Redis a message rate needs, and which part runs out first. A message is one customer
 * message or one agent reply (the mean of phase 3's two directions: conversations go both ways).
 * Services scale by replicas — phase 6 checks that a second process costs nothing extra per
 * message — so a service needs cores ÷ PROCESS_CORES processes (one Node process uses one core
 * at most; sized to run at 70%). PostgreSQL (one primary) and Redis (one thread per server) do
 * not: they are the candidates for the first bottleneck.
 */
import { BENCH_PROCESS, type RunCpu } from './cpu';
import { round } from './load';
import type { Row } from './report';

/** The share of a core one service process is sized to use. */
export const PROCESS_CORES = 0.7;
/** Cores of the PostgreSQL primary the table assumes ("a large managed instance"). */
export const POSTGRES_PRIMARY_CORES = 32;
/** Message rates the table is computed for, messages/s. */
export const RATES = [1_000, 10_000];

export interface CapacityLine {
  part: string;
  /** CPU ms per message: customer messages, agent replies, their mean. */
  msIn: number;
  msOut: number;
  ms: number;
  /** Cores needed at each of RATES. */
  cores: number[];
  /** Processes needed at each of RATES (services only). */
  processes?: number[];
  /** The highest message rate it can carry: services none (they scale out); PostgreSQL on POSTGRES_PRIMARY_CORES; Redis on one core. */
  ceiling?: number;
}

export interface Capacity {
  rates: number[];
  lines: CapacityLine[];
  /** The part whose ceiling is the lowest message rate. */
  firstBottleneck?: { part: string; atMessagesPerSecond: number };
}

/** `postgres (…)` → postgres, `redis-server (…)` → redis, `webhook-service-2` → webhook-service. */
function partOf(name: string): string | undefined {
  if (name === BENCH_PROCESS) return undefined;
  if (name.startsWith('postgres')) return 'postgres';
  if (name.startsWith('redis')) return 'redis';
  return name.replace(/-\d+$/, '');
}

function perPart(cpu: RunCpu | undefined): Map<string, number> {
  const parts = new Map<string, number>();
  for (const [name, ms] of Object.entries(cpu?.msPerOk ?? {})) {
    const part = partOf(name);
    if (part && Number.isFinite(ms)) parts.set(part, (parts.get(part) ?? 0) + ms);
  }
  return parts;
}

export function capacity(inbound: RunCpu | undefined, outbound: RunCpu | undefined, rows: Row[]): Capacity | undefined {
  if (!inbound || !outbound) return undefined;
  const a = perPart(inbound);
  const b = perPart(outbound);
  const lines: CapacityLine[] = [];
  for (const part of [...new Set([...a.keys(), ...b.keys()])]) {
    const msIn = a.get(part) ?? 0;
    const msOut = b.get(part) ?? 0;
    const ms = (msIn + msOut) / 2;
    if (ms < 0.005) continue;
    const cores = RATES.map((r) => round((ms * r) / 1000, 1));
    const service = part !== 'postgres' && part !== 'redis';
    lines.push({
      part,
      msIn: round(msIn, 2),
      msOut: round(msOut, 2),
      ms: round(ms, 2),
      cores,
      processes: service ? cores.map((c) => Math.max(1, Math.ceil(c / PROCESS_CORES))) : undefined,
      ceiling: part === 'postgres' ? Math.floor((POSTGRES_PRIMARY_CORES * 1000) / ms) : part === 'redis' ? Math.floor(1000 / ms) : undefined,
    });
  }
  lines.sort((x, y) => y.ms - x.ms);
  const limited = lines.filter((l) => l.ceiling !== undefined).sort((x, y) => x.ceiling! - y.ceiling!);
  const firstBottleneck = limited[0] && { part: limited[0].part, atMessagesPerSecond: limited[0].ceiling! };
  const P = '7 capacity';
  for (const l of lines) {
    rows.push({
      phase: P,
      metric: `${l.part}: CPU ms per message (in / out / mean) → cores at ${RATES.map((r) => r.toLocaleString('en-US')).join(' / ')} msg/s`,
      value:
        `${l.msIn} / ${l.msOut} / ${l.ms} ms → ${l.cores.join(' / ')} cores` +
        (l.processes ? ` (${l.processes.join(' / ')} processes at ${PROCESS_CORES * 100}%)` : '') +
        (l.ceiling !== undefined ? ` (ceiling ~${l.ceiling.toLocaleString('en-US')} msg/s on ${l.part === 'postgres' ? `a ${POSTGRES_PRIMARY_CORES}-core primary` : 'one core'})` : ''),
    });
  }
  if (firstBottleneck) rows.push({ phase: P, metric: 'first bottleneck (what does not scale by replicas)', value: `${firstBottleneck.part} at ~${firstBottleneck.atMessagesPerSecond.toLocaleString('en-US')} msg/s` });
  return { rates: RATES, lines, firstBottleneck };
}
