/**
 * Load generation for `npm run bench`: autocannon's programmatic API, with latencies taken from
 * its per-response event (float milliseconds from hrtime) rather than from its own histogram,
 * which keeps whole milliseconds only and, with a request rate set, "corrects" for coordinated
 * omission with an expected interval of 1 ms (Math.ceil(1 / rate)), adding thousands of made-up
 * samples. Fixed-rate runs are spread over several staggered autocannon instances, because one
 * instance releases a whole second's quota at once at the start of each second.
 */
import autocannon from 'autocannon';
import { mergeCpu, runCpu, type CpuSnapshot, type RunCpu } from './cpu';

export interface Percentiles {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentiles(values: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { n: 0, mean: NaN, p50: NaN, p90: NaN, p95: NaN, p99: NaN, max: NaN };
  // Nearest rank.
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { n, mean: r(sum / n), p50: r(at(50)), p90: r(at(90)), p95: r(at(95)), p99: r(at(99)), max: r(sorted[n - 1]) };
}

/** One load run as reported (the raw latencies stay out of the JSON). */
export interface LoadStats {
  label: string;
  connections: number;
  /** Target rate (requests/s) for fixed-rate runs. */
  rate?: number;
  /** Wall-clock seconds from the first request to the end of the run. */
  seconds: number;
  responses: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** 2xx responses per second. */
  okPerSecond: number;
  /** Time to response of the 2xx responses, ms. */
  latencyMs: Percentiles;
  /** CPU per process over the run (when probed). */
  cpu?: RunCpu;
}

export interface LoadRun {
  stats: LoadStats;
  latencies: number[];
  /** performance.now() of each 2xx response. */
  okTimes: number[];
  startedAt: number;
  endedAt: number;
}

export interface LoadOptions {
  label: string;
  /** Base URL of the target (scheme, host, port); several: autocannon spreads the connections over them. */
  url: string | string[];
  connections: number;
  seconds?: number;
  /** Stop after this many responses instead (overrides seconds). */
  amount?: number;
  overallRate?: number;
  request: autocannon.Request;
  timeoutSeconds?: number;
  /** Cap on requests (with seconds: whichever comes first). */
  maxRequests?: number;
  /** Reads CPU counters before and after the run. */
  probe?: () => CpuSnapshot;
}

export function runLoad(o: LoadOptions): Promise<LoadRun> {
  // autocannon refuses more connections than requests (small BENCH_* settings ask for that).
  const connections = o.amount ? Math.min(o.connections, o.amount) : o.connections;
  const latencies: number[] = [];
  const okTimes: number[] = [];
  const statusCodes: Record<string, number> = {};
  const before = o.probe?.();
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        // autocannon takes a list too (its connections go round the URLs); its types say string.
        url: o.url as string,
        connections,
        duration: o.seconds ?? 5,
        amount: o.amount,
        maxOverallRequests: o.amount ? undefined : o.maxRequests,
        overallRate: o.overallRate,
        requests: [o.request],
        timeout: o.timeoutSeconds ?? 10,
        ignoreCoordinatedOmission: o.overallRate ? true : undefined,
        excludeErrorStats: true,
      },
      (err: Error | null, result: autocannon.Result) => {
        if (err) {
          reject(err);
          return;
        }
        const endedAt = performance.now();
        const seconds = (endedAt - startedAt) / 1000;
        let responses = 0;
        let ok = 0;
        for (const [code, count] of Object.entries(statusCodes)) {
          responses += count;
          if (code.startsWith('2')) ok += count;
        }
        resolve({
          latencies,
          okTimes,
          startedAt,
          endedAt,
          stats: {
            label: o.label,
            connections,
            rate: o.overallRate,
            seconds: round(seconds, 3),
            responses,
            ok,
            non2xx: responses - ok,
            errors: result.errors,
            timeouts: result.timeouts,
            statusCodes,
            okPerSecond: round(ok / seconds, 1),
            latencyMs: percentiles(latencies),
            cpu: before && o.probe ? runCpu(before, o.probe(), ok) : undefined,
          },
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) {
        latencies.push(responseTime);
        okTimes.push(performance.now());
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Merges runs that happened at the same time (staggered streams) or one after another (pooled). */
export function mergeRuns(label: string, runs: LoadRun[], concurrent: boolean, rate?: number): LoadRun {
  const latencies = runs.flatMap((r) => r.latencies);
  const statusCodes: Record<string, number> = {};
  for (const r of runs) for (const [c, n] of Object.entries(r.stats.statusCodes)) statusCodes[c] = (statusCodes[c] ?? 0) + n;
  const startedAt = Math.min(...runs.map((r) => r.startedAt));
  const endedAt = Math.max(...runs.map((r) => r.endedAt));
  const seconds = concurrent ? (endedAt - startedAt) / 1000 : runs.reduce((s, r) => s + r.stats.seconds, 0);
  const sum = (f: (s: LoadStats) => number) => runs.reduce((a, r) => a + f(r.stats), 0);
  const ok = sum((s) => s.ok);
  // Staggered streams: the rate is counted while all of them run (neither ramp-up nor ramp-down).
  let okPerSecond = ok / seconds;
  const from = Math.max(...runs.map((r) => r.startedAt)) + 200;
  const to = Math.min(...runs.map((r) => r.endedAt)) - 200;
  if (concurrent && to - from > 1000) {
    let inWindow = 0;
    for (const r of runs) for (const t of r.okTimes) if (t >= from && t < to) inWindow++;
    okPerSecond = inWindow / ((to - from) / 1000);
  }
  return {
    latencies,
    okTimes: runs.flatMap((r) => r.okTimes),
    startedAt,
    endedAt,
    stats: {
      label,
      connections: concurrent ? sum((s) => s.connections) : runs[0].stats.connections,
      rate,
      seconds: round(seconds, 3),
      responses: sum((s) => s.responses),
      ok,
      non2xx: sum((s) => s.non2xx),
      errors: sum((s) => s.errors),
      timeouts: sum((s) => s.timeouts),
      statusCodes,
      okPerSecond: round(okPerSecond, 1),
      latencyMs: percentiles(latencies),
      cpu: concurrent ? undefined : mergeCpu(runs.map((r) => r.stats)),
    },
  };
}

/**
 * A fixed request rate: `streams` autocannon instances at rate/streams each, started
 * 1000/streams ms apart, so that the per-second bursts of autocannon's rate limiter are small
 * and spread over the second instead of one burst of the whole quota.
 */
export async function runPaced(o: LoadOptions & { rate: number; streams?: number }): Promise<LoadRun> {
  const before = o.probe?.();
  let streams = Math.max(1, Math.min(o.streams ?? 10, Math.floor(o.rate)));
  while (streams > 1 && o.rate % streams !== 0) streams--;
  const perStream = o.rate / streams;
  const connections = Math.max(1, Math.min(Math.ceil(o.connections / streams), perStream));
  const runs = await Promise.all(
    Array.from({ length: streams }, (_, i) =>
      sleep((i * 1000) / streams).then(() => runLoad({ ...o, probe: undefined, label: `${o.label}#${i}`, overallRate: perStream, connections })),
    ),
  );
  const merged = mergeRuns(o.label, runs, true, o.rate);
  if (before && o.probe) merged.stats.cpu = runCpu(before, o.probe(), merged.stats.ok);
  return merged;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
