/**
 * The run's chart, written beside its JSON (bench/results/<date>.svg): per phase, throughput and
 * latency percentiles (p50, p99) of the bridge beside the bare baseline. Rendered without a
 * browser: a Vega-Lite spec compiled by vega-lite and drawn by vega's headless View.toSVG()
 * (vega 5 / vega-lite 5: CommonJS builds, Node ≥ 18).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { GoalInputs } from './goals';
import type { LoadStats } from './load';

export interface ChartPoint {
  /** The phase's measurement, e.g. `GET /state/stats (C=50)`. */
  phase: string;
  /** `bare baseline`, `bridge direct`, `bridge via gateway`, `npm start`, `end to end`… */
  series: string;
  /** Requests or messages per second. */
  throughput: number;
  p50: number;
  p99: number;
}

export const SERIES = {
  baseline: 'bare baseline',
  direct: 'bridge direct',
  gateway: 'bridge via gateway',
  npmStart: 'npm start',
  inbound: 'bridge WhatsApp → Genesys',
  outbound: 'bridge Genesys → WhatsApp',
} as const;

const point = (phase: string, series: string, s: LoadStats | undefined, perRequest = 1): ChartPoint[] =>
  s ? [{ phase, series, throughput: Math.round(s.okPerSecond * perRequest), p50: s.latencyMs.p50, p99: s.latencyMs.p99 }] : [];

/** The points of a run's results (phases that did not run are left out). */
export function chartPoints(r: GoalInputs): ChartPoint[] {
  const points: ChartPoint[] = [];
  const gc = r.gatewayCost?.throughput;
  if (gc) {
    const p = 'GET /state/stats (req/s)';
    points.push(...point(p, SERIES.baseline, gc.baseline), ...point(p, SERIES.direct, gc.direct), ...point(p, SERIES.gateway, gc.gateway));
  }
  for (const [shape, res] of Object.entries(r.webhookIngestion?.results ?? {})) {
    const perRequest = shape === 'single' ? 1 : Number(/(\d+)/.exec(shape)?.[1] ?? 1);
    const p = shape === 'single' ? 'webhooks, 1 message (msg/s)' : `webhooks, ${shape} (msg/s)`;
    points.push(...point(p, SERIES.baseline, res['baseline saturation'], perRequest), ...point(p, SERIES.direct, res['direct saturation'], perRequest), ...point(p, SERIES.gateway, res['gateway saturation'], perRequest));
  }
  if (r.npmStart) {
    const p = 'npm start (msg/s, while delivering)';
    points.push(...point(p, SERIES.baseline, r.npmStart.baseline), ...point(p, SERIES.npmStart, r.npmStart.npmStart));
  }
  const e2e = r.endToEnd;
  if (e2e) {
    const p = `end to end (msg/s, at ${e2e.rate}/s each way)`;
    for (const [series, d] of [
      [SERIES.inbound, e2e.inbound],
      [SERIES.outbound, e2e.outbound],
    ] as const) {
      points.push({ phase: p, series, throughput: Math.round(d.delivered / Math.max(1, d.webhook && 'seconds' in d.webhook ? d.webhook.seconds : 1)), p50: d.latencyMs.p50, p99: d.latencyMs.p99 });
    }
  }
  return points;
}

/** The Vega-Lite spec: throughput on top, p99 (light bar) with p50 (dark, narrower bar) below, one column per phase. */
export function chartSpec(points: ChartPoint[], title: string): TopLevelSpec {
  const order = Object.values(SERIES);
  const color = { field: 'series', type: 'nominal', sort: order, legend: { orient: 'bottom', title: null, columns: 3, labelLimit: 300 } } as const;
  const x = { field: 'series', type: 'nominal', sort: order, axis: null } as const;
  const column = { field: 'phase', type: 'nominal', title: null, sort: [...new Set(points.map((p) => p.phase))], header: { labelFontSize: 11, labelLimit: 0, labelExpr: "split(replace(datum.value, ')', ''), ' (')" } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, fontSize: 14 },
    data: { values: points },
    config: { font: 'sans-serif', view: { stroke: '#ddd' } },
    vconcat: [
      {
        facet: { column },
        spec: {
          width: 130,
          height: 160,
          mark: { type: 'bar', tooltip: true },
          encoding: { x, color, y: { field: 'throughput', type: 'quantitative', title: 'throughput per second' } },
        },
        resolve: { scale: { x: 'independent', y: 'independent' } },
      },
      {
        facet: { column },
        spec: {
          width: 130,
          height: 160,
          encoding: { x, color },
          layer: [
            { mark: { type: 'bar', opacity: 0.4, tooltip: true }, encoding: { y: { field: 'p99', type: 'quantitative', title: 'latency, ms (p99 light, p50 dark)' } } },
            { mark: { type: 'bar', width: { band: 0.45 }, tooltip: true }, encoding: { y: { field: 'p50', type: 'quantitative' } } },
          ],
        },
        resolve: { scale: { x: 'independent', y: 'independent' } },
      },
    ],
  } as TopLevelSpec;
}

/** The SVG of `points` (headless: no browser, no canvas). */
export async function renderChart(points: ChartPoint[], title: string): Promise<string> {
  const spec = compile(chartSpec(points, title)).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
