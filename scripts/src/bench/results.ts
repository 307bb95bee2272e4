/**
 * The end of a run: the report written to bench/results/<date>.json and its chart to <date>.svg,
 * and what is printed — the results table, the goals against the bare baseline, CPU per phase,
 * PostgreSQL's sessions, the profiles' summaries, the notes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchConfig, BenchSettings } from './config';
import { chartPoints, renderChart } from './chart';
import { describeScope, type CpuUse, type PostgresScope } from './cpu';
import { renderGoals, type Goal, type GoalInputs } from './goals';
import type { PeakMemory } from './memory';
import { out } from './output';
import type { ProfileSummary } from './profile';
import { machineInfo, redisVersion, renderRows, renderTable, type Row } from './report';
import { BENCH_RATE_LIMIT } from './seed';

/** What the phases measured, as collected by index.ts. */
export interface Collected {
  rows: Row[];
  /** Each phase's own figures, by phase. */
  results: Record<string, unknown>;
  /** CPU per process, by phase. */
  cpu: Record<string, CpuUse>;
  /** PostgreSQL sessions by state, by phase. */
  pgWaits: Record<string, Array<{ state: string; sessions: number }>>;
  memory: PeakMemory;
  profiles: ProfileSummary[];
  notes: string[];
  /** Issue #15's figures against the bare baseline (goals.ts). */
  goals: Goal[];
}

/** How to read the figures; printed and written with every report. */
export const NOTES = [
  'Absolute figures on a shared 2-core machine are noisy (load generator, simulators, six services, PostgreSQL and Redis share the CPU, and other work on the machine competes): compare the ratios and the paired, alternated runs rather than absolute numbers between runs.',
  'Latencies are taken per response from autocannon (hrtime, 2xx only); percentiles are nearest-rank over all responses of the pooled runs.',
  'Fixed-rate runs use 10 staggered autocannon instances (one instance releases each second\'s quota at once).',
  'Phase 2 runs without genesys-connector: the figure is ingestion (verify signature, store, queue, 200), not delivery.',
  'Phase 3a lets the connector work on phase 2\'s queue for BENCH_DRAIN_SECONDS (as after an outage; each tenant\'s first delivery fetches its Genesys token), then on a fresh backlog with every tenant\'s token and credentials already fetched (tokens warm; the connector paused with SIGSTOP while the backlog is ingested); then the rest is deleted so that phase 3 measures steady state. Phase 3 first measures the end-to-end capacity (both directions offered more than the bridge takes for BENCH_E2E_CAPACITY_SECONDS, deliveries counted) and runs each direction at half of it, unless BENCH_E2E_RATE sets the rate.',
  'CPU per request/message: CPU seconds of each process over the run divided by the 2xx responses; "load gen+sims" is this process (autocannon and both simulators).',
  'The bare baseline (scripts/src/bench/baseline.ts, its own process) is the least work: app secrets and API-key hashes in memory (loaded at start), HMAC-SHA256 of the raw body, one autocommit INSERT … ON CONFLICT DO NOTHING per webhook, or state-manager\'s stats statement; goals are ratios to it or to the direct runs, measured alternately in the same run.',
];

/** Writes the report as `<dir>/<stamp>.json` and its chart as `<dir>/<stamp>.svg`; returns the JSON file. */
export async function writeReport(
  dir: string,
  stamp: string,
  run: { startedAt: Date; commit?: string; pgVersion: string; config: BenchConfig; settings: BenchSettings },
  collected: Collected,
): Promise<string> {
  const { config } = run;
  const finishedAt = new Date();
  const report = {
    startedAt: run.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - run.startedAt.getTime()) / 1000),
    machine: machineInfo(),
    versions: {
      commit: run.commit,
      node: process.version,
      postgres: run.pgVersion,
      redis: config.REDIS_URL ? ((await redisVersion(config.REDIS_URL)) ?? 'unknown') : null,
      autocannon: (JSON.parse(readFileSync(require.resolve('autocannon/package.json'), 'utf8')) as { version: string }).version,
    },
    settings: {
      ...run.settings,
      database: config.DATABASE_URL ? 'external (fresh database on DATABASE_URL server)' : 'embedded',
      redis: !!config.REDIS_URL,
      logLevel: 'warn',
      tenantRateLimitPerMinute: BENCH_RATE_LIMIT,
    },
    table: collected.rows,
    results: collected.results,
    cpu: collected.cpu,
    postgresSessions: collected.pgWaits,
    memory: collected.memory,
    profiles: collected.profiles,
    goals: collected.goals,
    notes: collected.notes,
  };
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const svg = await renderChart(chartPoints(collected.results as GoalInputs), `npm run bench, ${report.startedAt.slice(0, 16)}Z (${report.versions.commit ?? 'uncommitted'}), ${report.machine.cores} cores`);
  writeFileSync(file.replace(/\.json$/, '.svg'), svg);
  return file;
}

/** Prints the results; `written` is the report file as the reader should see it. */
export function printReport(collected: Collected, pgScope: PostgresScope, redis: boolean, written: string): void {
  const { rows, cpu, pgWaits, profiles, notes } = collected;
  out();
  out('Results');
  out();
  out(renderRows(rows));
  out();
  out('Against the least work (issue #15): ratios to the bare baseline or the direct runs, same run');
  out();
  out(renderGoals(collected.goals));
  out();
  out(`CPU, cores used on average per phase (/proc/<pid>/stat; ${describeScope(pgScope)}${redis ? '; redis-server is shared with the rest of the machine' : ''})`);
  out();
  const names = [...new Set(Object.values(cpu).flatMap((c) => Object.keys(c.cores)))];
  out(
    renderTable(
      ['process', ...Object.keys(cpu)],
      [
        ...names.map((n) => [n, ...Object.values(cpu).map((c) => (c.cores[n] === undefined ? '' : c.cores[n].toFixed(2)))]),
        ['other (rest of the machine)', ...Object.values(cpu).map((c) => c.otherCores.toFixed(2))],
        [`machine busy (of ${os.cpus().length} cores)`, ...Object.values(cpu).map((c) => c.machineBusyCores.toFixed(2))],
      ],
    ),
  );
  out();
  out('PostgreSQL sessions of the bench database, average number in each state (pg_stat_activity every 100 ms)');
  for (const [phase, list] of Object.entries(pgWaits)) {
    out(`  ${phase}: ${list.slice(0, 6).map((w) => `${w.state} ${w.sessions}`).join(', ')}`);
  }
  for (const p of profiles) {
    out();
    out(`CPU profile, ${p.service}: ${(p.sampledMs / 1000).toFixed(0)} s sampled, ${p.idlePct}% idle; top self time (% of busy)`);
    out(renderTable(['function', 'where', 'self ms', '%'], p.topFunctions.slice(0, 12).map((f) => [f.function, f.where, String(f.selfMs), f.pctOfBusy.toFixed(1)])));
    out(`  by package: ${p.topPackages.slice(0, 8).map((x) => `${x.package} ${x.pctOfBusy}%`).join(', ')}`);
  }
  out();
  for (const n of notes) out(`  * ${n}`);
  out();
  out(`Written to ${written} and ${written.replace(/\.json$/, '.svg')}`);
  const missed = rows.filter((r) => r.met === false);
  if (missed.length) out(`Goals not met: ${missed.map((r) => `${r.phase} — ${r.metric}`).join('; ')}`);
}
