import { BENCH_PROCESS, type RunCpu } from '../src/bench/cpu';
import { BASELINE, bridgeCpuMs, goals, type GoalInputs } from '../src/bench/goals';
import type { E2EDirection } from '../src/bench/end-to-end';
import type { LoadStats } from '../src/bench/load';

const run = (okPerSecond: number, p50 = 1, p99 = 2): LoadStats => ({
  label: 'fixture',
  connections: 50,
  seconds: 5,
  responses: 0,
  ok: 0,
  non2xx: 0,
  errors: 0,
  timeouts: 0,
  statusCodes: {},
  okPerSecond,
  latencyMs: { n: 1, mean: p50, p50, p90: p99, p95: p99, p99, max: p99 },
});
const cpu = (msPerOk: Record<string, number>): RunCpu => ({ seconds: {}, cores: {}, msPerOk, machineBusyCores: 0 });
const direction = (ms: Record<string, number>, tx: number, p99: number): E2EDirection => ({
  transactionsPerMessage: tx,
  outOfOrder: { conversations: 0, checked: 10 },
  cpu: cpu(ms),
  accepted: 10,
  delivered: 10,
  missing: 0,
  latencyMs: { n: 10, mean: 1, p50: 1, p90: 1, p95: 1, p99, max: p99 },
  webhook: run(10),
  nonOk: {},
});

describe("issue #15's goals (scripts/src/bench/goals.ts)", () => {
  it('counts every bridge process, PostgreSQL and Redis per message, not the load generator or the baseline', () => {
    expect(bridgeCpuMs(cpu({ gateway: 1, 'postgres (backends of x)': 1.5, 'redis-server (shared, whole machine)': 0.25, [BENCH_PROCESS]: 9, [BASELINE]: 4 }))).toBe(2.75);
  });

  it('turns a run into ratios beside the goals, and judges the 100,000-tenant figures only at 100,000 tenants', () => {
    const inputs: GoalInputs = {
      webhookIngestion: { results: { single: { 'baseline saturation': run(3000), 'gateway saturation': run(1800), 'direct saturation': run(2000) } } },
      gatewayCost: { throughput: { direct: run(1000), gateway: run(700), baseline: run(2000) }, latencyAtC1: { direct: run(0, 1.0), gateway: run(0, 1.4) } },
      endToEnd: {
        rate: 100,
        capacity: { seconds: 5, inbound: 100, outbound: 100, total: 200, acceptedInbound: 300, acceptedOutbound: 300 },
        inbound: direction({ gateway: 1, 'postgres (backends of x)': 1 }, 1.9, 80),
        outbound: direction({ 'genesys-connector': 2, 'postgres (backends of x)': 2 }, 2.5, 120),
      },
      tenantScale: { tenants: 10_000, normalized: 0.95, peakRss: { gateway: { peakMb: 120, restarts: 0 } } },
    };
    const byFigure = Object.fromEntries(goals(inputs).map((g) => [g.figure, g]));
    expect(byFigure['single-message webhook via the public entry (gateway) ÷ bare baseline']).toMatchObject({ now: '0.60 (1800 ÷ 3000 msg/s)', met: true });
    expect(byFigure['gateway ÷ direct, `GET /state/stats`, C=50']).toMatchObject({ now: '0.70', met: false });
    expect(byFigure['added p50 at C=1, gateway − direct']).toMatchObject({ now: '0.40 ms', met: true });
    expect(byFigure['CPU per message end to end, WhatsApp → Genesys (all bridge processes + PostgreSQL)']).toMatchObject({ now: '2.00 ms', met: true });
    expect(byFigure['CPU per message end to end, Genesys → WhatsApp (all bridge processes + PostgreSQL)']).toMatchObject({ now: '4.00 ms', met: false });
    expect(byFigure['PostgreSQL transactions per message end to end, Genesys → WhatsApp']).toMatchObject({ met: false });
    expect(byFigure['end-to-end p99 at half the measured capacity, WhatsApp → Genesys']).toMatchObject({ now: '80.00 ms at 100/s, half of 200/s', met: true });
    expect(byFigure['end-to-end p99 at half the measured capacity, Genesys → WhatsApp'].met).toBe(false);
    // Not at 100,000 tenants: shown, not judged.
    expect(byFigure['peak RSS of each service at 10,000 tenants (after phase 4)']).toMatchObject({ now: 'gateway 120 MB', met: null });
    expect(byFigure['warm throughput at 10,000 tenants ÷ at 1,000 (normalized by the direct runs)'].met).toBeNull();
    // Phases that did not run: said so, not judged.
    expect(byFigure['the same with `npm start` while delivering ÷ bare baseline']).toMatchObject({ now: 'phase 8 not run', met: null });
    expect(byFigure['backlog drain, 1,000 tenants, tokens warm (deliveries/s)'].met).toBeNull();
  });

  it('judges the memory figure at 100,000 tenants', () => {
    const g = goals({ tenantScale: { tenants: 100_000, normalized: 0.92, peakRss: { gateway: { peakMb: 160, restarts: 0 }, 'auth-service': { peakMb: 90, restarts: 0 } } } });
    expect(g.find((x) => x.figure.startsWith('peak RSS'))).toMatchObject({ now: 'gateway 160, auth-service 90 MB', met: false });
    expect(g.find((x) => x.figure.startsWith('warm throughput'))!.met).toBe(true);
  });
});
