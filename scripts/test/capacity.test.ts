import { capacity } from '../src/bench/capacity';
import { BENCH_PROCESS, type RunCpu } from '../src/bench/cpu';
import type { Row } from '../src/bench/report';

/** A run's CPU as cpu.ts reports it: only msPerOk matters here. */
const run = (msPerOk: Record<string, number>): RunCpu => ({ seconds: {}, cores: {}, msPerOk, machineBusyCores: 0 });

describe('the capacity table (scripts/src/bench/capacity.ts)', () => {
  it('turns CPU ms per message of each process into cores and processes at 1,000 and 10,000 msg/s, replicas summed', () => {
    const rows: Row[] = [];
    const table = capacity(
      run({ gateway: 2, 'webhook-service': 1.5, 'webhook-service-2': 0.5, 'postgres (backends of bridge_bench_1)': 6, [BENCH_PROCESS]: 9, 'redis-server (shared, whole machine)': 0.2 }),
      run({ gateway: 2, 'webhook-service': 2, 'postgres (backends of bridge_bench_1)': 4, [BENCH_PROCESS]: 9, 'redis-server (shared, whole machine)': 0.2 }),
      rows,
    )!;
    const line = (part: string) => table.lines.find((l) => l.part === part);
    // Both webhook-service processes count as one service; the load generator is no part of the platform.
    expect(line('webhook-service')).toMatchObject({ msIn: 2, msOut: 2, ms: 2, cores: [2, 20], processes: [3, 29] });
    expect(line('gateway')).toMatchObject({ ms: 2, cores: [2, 20] });
    expect(line('load gen+sims')).toBeUndefined();
    expect(table.lines.map((l) => l.part)).not.toContain(BENCH_PROCESS);
    // PostgreSQL (one primary of 32 cores) and Redis (one core) do not scale by replicas: 5 ms → 6,400 msg/s; 0.2 ms → 5,000 msg/s.
    expect(line('postgres')).toMatchObject({ ms: 5, cores: [5, 50], ceiling: 6_400 });
    expect(line('postgres')!.processes).toBeUndefined();
    expect(line('redis')).toMatchObject({ ceiling: 5_000 });
    expect(table.firstBottleneck).toEqual({ part: 'redis', atMessagesPerSecond: 5_000 });
    expect(rows.map((r) => r.metric)).toContain('first bottleneck (what does not scale by replicas)');
  });

  it('says nothing without both directions of phase 3', () => {
    expect(capacity(undefined, run({ gateway: 1 }), [])).toBeUndefined();
  });
});
