import { chartPoints, renderChart, SERIES } from '../src/bench/chart';
import type { GoalInputs } from '../src/bench/goals';
import type { LoadStats } from '../src/bench/load';

/** A load run as load.ts reports it: only the rate and the percentiles matter to the chart. */
const run = (okPerSecond: number, p50: number, p99: number): LoadStats => ({
  label: 'fixture',
  connections: 50,
  seconds: 5,
  responses: okPerSecond * 5,
  ok: okPerSecond * 5,
  non2xx: 0,
  errors: 0,
  timeouts: 0,
  statusCodes: { 200: okPerSecond * 5 },
  okPerSecond,
  latencyMs: { n: okPerSecond * 5, mean: p50, p50, p90: p99, p95: p99, p99, max: p99 },
});

const fixture: GoalInputs = {
  gatewayCost: { throughput: { direct: run(1100, 40, 90), gateway: run(650, 70, 160), baseline: run(3900, 12, 30) }, latencyAtC1: { direct: run(900, 1.1, 2), gateway: run(400, 2.3, 4) } },
  webhookIngestion: {
    results: {
      single: { 'baseline saturation': run(3600, 13, 40), 'direct saturation': run(800, 60, 150), 'gateway saturation': run(665, 75, 170) },
      'batch of 50': { 'baseline saturation': run(300, 30, 60), 'direct saturation': run(150, 60, 120), 'gateway saturation': run(140, 70, 130) },
    },
  },
};

describe('the bench chart (scripts/src/bench/chart.ts)', () => {
  it('turns results into points per phase and series, batches counted in messages', () => {
    const points = chartPoints(fixture);
    expect(points).toContainEqual({ phase: 'GET /state/stats (req/s)', series: SERIES.baseline, throughput: 3900, p50: 12, p99: 30 });
    expect(points).toContainEqual(expect.objectContaining({ phase: 'webhooks, batch of 50 (msg/s)', series: SERIES.gateway, throughput: 7000 }));
    // Phases that did not run have no points.
    expect(points.some((p) => p.series === SERIES.npmStart)).toBe(false);
  });

  it('renders an SVG without a browser, with every series named', async () => {
    const svg = await renderChart(chartPoints(fixture), 'fixture run');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const name of [SERIES.baseline, SERIES.direct, SERIES.gateway, 'fixture run', 'GET /state/stats', 'webhooks, batch of 50']) expect(svg).toContain(name);
  });
});
