/**
 * Issue #15's goals, "against the least work": every figure of its table computed from one run's
 * results, as a ratio to the bare baseline (baseline.ts) or to the direct runs where the figure is
 * one, beside the goal and the issue's "before" figure. Printed as its own table and written to the
 * report's `goals`. A goal that this run cannot judge (the phase did not run, or phase 4 ran with
 * fewer than 100,000 tenants) has `met: null`.
 */
import { BENCH_PROCESS, type RunCpu } from './cpu';
import type { E2ECapacity, E2EDirection } from './end-to-end';
import type { LoadStats } from './load';
import type { PeakMemory } from './memory';
import { NPM_START, type NpmStartFigures } from './npm-start';
import { renderTable } from './report';

/** The baseline's name in the CPU tables. */
export const BASELINE = 'bare baseline (node:http + pg)';

export interface Goal {
  figure: string;
  /** The issue's figure before the work (#15). */
  before: string;
  now: string;
  goal: string;
  met: boolean | null;
}

/** What goals() reads: the parts of index.ts's `results` it needs (any may be missing). */
export interface GoalInputs {
  gatewayCost?: { throughput: { direct: LoadStats; gateway: LoadStats; baseline?: LoadStats }; latencyAtC1: { direct: LoadStats; gateway: LoadStats } };
  tenantScale?: { tenants: number; normalized?: number; peakRss?: PeakMemory };
  webhookIngestion?: { results: Record<string, Record<string, LoadStats>> };
  backlogDrain?: { perSecond: number; ranDry?: boolean };
  warmBacklogDrain?: { perSecond: number; ranDry?: boolean };
  endToEnd?: { rate: number; capacity?: E2ECapacity; inbound: E2EDirection; outbound: E2EDirection };
  npmStart?: NpmStartFigures;
}

/** CPU ms per message of the bridge: every process but the load generator, the baseline and npm start's (PostgreSQL and Redis included). */
export function bridgeCpuMs(cpu: RunCpu | undefined): number | undefined {
  if (!cpu) return undefined;
  let sum = 0;
  for (const [name, ms] of Object.entries(cpu.msPerOk)) if (name !== BENCH_PROCESS && name !== BASELINE && name !== NPM_START && Number.isFinite(ms)) sum += ms;
  return Math.round(sum * 100) / 100;
}

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const missing = (figure: string, before: string, goal: string, why: string): Goal => ({ figure, before, now: why, goal, met: null });

export function goals(r: GoalInputs): Goal[] {
  const list: Goal[] = [];
  // Single-message webhooks through the public entry, and with npm start.
  const single = r.webhookIngestion?.results.single;
  const F1 = 'single-message webhook via the public entry (gateway) ÷ bare baseline';
  if (single?.['baseline saturation'] && single['gateway saturation']) {
    const ratio = single['gateway saturation'].okPerSecond / single['baseline saturation'].okPerSecond;
    list.push({
      figure: F1,
      before: '0.18',
      now: `${f2(ratio)} (${Math.round(single['gateway saturation'].okPerSecond)} ÷ ${Math.round(single['baseline saturation'].okPerSecond)} msg/s)`,
      goal: '≥ 0.5',
      met: ratio >= 0.5,
    });
  } else list.push(missing(F1, '0.18', '≥ 0.5', 'phase 2 not run'));
  const F2 = 'the same with `npm start` while delivering ÷ bare baseline';
  if (r.npmStart) {
    list.push({
      figure: F2,
      before: '0.05',
      now: `${f2(r.npmStart.ratio)} (${Math.round(r.npmStart.npmStart.okPerSecond)} ÷ ${Math.round(r.npmStart.baseline.okPerSecond)} msg/s; ${r.npmStart.deliveredPerSecond} deliveries/s meanwhile)`,
      goal: '≥ 0.3',
      met: r.npmStart.ratio >= 0.3,
    });
  } else list.push(missing(F2, '0.05', '≥ 0.3', 'phase 8 not run'));

  // End to end.
  const e2e = r.endToEnd;
  for (const [dir, label] of [
    ['inbound', 'WhatsApp → Genesys'],
    ['outbound', 'Genesys → WhatsApp'],
  ] as const) {
    const F = `CPU per message end to end, ${label} (all bridge processes + PostgreSQL)`;
    const d = e2e?.[dir];
    const cpu = bridgeCpuMs(d?.cpu);
    if (d && cpu !== undefined) list.push({ figure: F, before: '10–11 ms', now: `${f2(cpu)} ms`, goal: '≤ 3 ms', met: cpu <= 3 });
    else list.push(missing(F, '10–11 ms', '≤ 3 ms', 'phase 3 not run'));
  }
  for (const [dir, label] of [
    ['inbound', 'WhatsApp → Genesys'],
    ['outbound', 'Genesys → WhatsApp'],
  ] as const) {
    const F = `PostgreSQL transactions per message end to end, ${label}`;
    const d = e2e?.[dir];
    if (d) list.push({ figure: F, before: '3.6–4', now: f2(d.transactionsPerMessage), goal: '≤ 2', met: d.transactionsPerMessage <= 2 });
    else list.push(missing(F, '3.6–4', '≤ 2', 'phase 3 not run'));
  }
  for (const [dir, label, before] of [
    ['inbound', 'WhatsApp → Genesys', '250 ms at 190/s'],
    ['outbound', 'Genesys → WhatsApp', '629 ms at 190/s'],
  ] as const) {
    const F = `end-to-end p99 at half the measured capacity, ${label}`;
    const d = e2e?.[dir];
    if (e2e && d) {
      const at = e2e.capacity ? `at ${e2e.rate}/s, half of ${e2e.capacity.total}/s` : `at ${e2e.rate}/s (set, not half the capacity)`;
      const complete = d.missing === 0;
      list.push({ figure: F, before, now: `${f2(d.latencyMs.p99)} ms ${at}${complete ? '' : `, ${d.missing} not delivered`}`, goal: '≤ 100 ms', met: d.latencyMs.p99 <= 100 && complete });
    } else list.push(missing(F, before, '≤ 100 ms', 'phase 3 not run'));
  }

  // GET /state/stats.
  const gc = r.gatewayCost;
  const F5 = 'gateway ÷ direct, `GET /state/stats`, C=50';
  const F6 = 'added p50 at C=1, gateway − direct';
  const F7 = 'bridge (gateway) ÷ bare baseline, `GET /state/stats`, C=50';
  if (gc) {
    const ratio = gc.throughput.gateway.okPerSecond / gc.throughput.direct.okPerSecond;
    const added = gc.latencyAtC1.gateway.latencyMs.p50 - gc.latencyAtC1.direct.latencyMs.p50;
    list.push({ figure: F5, before: '0.55', now: f2(ratio), goal: '≥ 0.8', met: ratio >= 0.8 });
    list.push({ figure: F6, before: '—', now: `${f2(added)} ms`, goal: '≤ 0.5 ms', met: added <= 0.5 });
    const base = gc.throughput.baseline;
    if (base) list.push({ figure: F7, before: '≈ 0.29 (bare ~3.5× faster)', now: f2(gc.throughput.gateway.okPerSecond / base.okPerSecond), goal: '', met: null });
  } else for (const [F, b, g] of [[F5, '0.55', '≥ 0.8'], [F6, '—', '≤ 0.5 ms']]) list.push(missing(F, b, g, 'phase 1 not run'));

  // Backlog drain.
  const F8 = 'backlog drain, 1,000 tenants, tokens warm (deliveries/s)';
  if (r.warmBacklogDrain) {
    const w = r.warmBacklogDrain;
    list.push({
      figure: F8,
      before: '138/s (cold)',
      now: `${w.perSecond}/s${w.ranDry ? ' (ran dry: at least)' : ''}; cold ${r.backlogDrain?.perSecond ?? 'n/a'}/s`,
      goal: '≥ 1,000/s',
      met: w.perSecond >= 1000,
    });
  } else list.push(missing(F8, '138/s (cold)', '≥ 1,000/s', 'phase 3a not run'));

  // Tenant scale: memory and warm throughput.
  const ts = r.tenantScale;
  const at100k = !!ts && ts.tenants >= 100_000;
  const F9 = `peak RSS of each service at ${ts ? ts.tenants.toLocaleString('en-US') : '100,000'} tenants (after phase 4)`;
  if (ts?.peakRss) {
    const entries = Object.entries(ts.peakRss).sort((a, b) => b[1].peakMb - a[1].peakMb);
    const worst = entries[0]?.[1].peakMb ?? NaN;
    list.push({
      figure: F9,
      before: 'gateway 642 MB at 100,000; others 92–175 MB',
      now: entries.map(([n, m]) => `${n} ${Math.round(m.peakMb)}`).join(', ') + ' MB',
      goal: '< 150 MB at 100,000 tenants',
      met: at100k ? worst < 150 : null,
    });
  } else list.push(missing(F9, 'gateway 642 MB at 100,000; others 92–175 MB', '< 150 MB at 100,000 tenants', 'phase 4 not run'));
  const F10 = `warm throughput at ${ts ? ts.tenants.toLocaleString('en-US') : '100,000'} tenants ÷ at 1,000 (normalized by the direct runs)`;
  if (ts?.normalized !== undefined) list.push({ figure: F10, before: '0.80', now: f2(ts.normalized), goal: '≥ 0.9', met: at100k ? ts.normalized >= 0.9 : null });
  else list.push(missing(F10, '0.80', '≥ 0.9', 'phases 1 and 4 not both run'));
  return list;
}

export const mark = (met: boolean | null) => (met === null ? '–' : met ? '✓' : '✗');

export function renderGoals(list: Goal[]): string {
  return renderTable(
    ['figure', 'before (#15)', 'now', 'goal', ''],
    list.map((g) => [g.figure, g.before, g.now, g.goal, mark(g.met)]),
  );
}
