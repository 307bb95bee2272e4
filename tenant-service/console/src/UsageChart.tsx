import type { Usage } from './api';

const W = 640;
const LABEL = 210;
const BAR = W - LABEL - 90;
const ROW = 34;

const quotaName = (q: string) => q.replace(/([A-Z])/g, ' $1').toLowerCase();

/**
 * GET /tenants/:id/usage drawn as SVG (no chart library, no inline style: CSP style-src 'self'):
 * one bar per plan limit, used against the limit (red once exceeded, the limit's line at 100 %),
 * and this month's messages per day. The numbers are in each bar's text and its <title>, and the
 * whole in the figure's description, for screen readers.
 */
export function UsageChart({ usage }: { usage: Usage }) {
  const quotas = usage.quotas;
  const summary = quotas.map((q) => `${quotaName(q.quota)}: ${q.used} of ${q.limit ?? 'unlimited'}`).join('; ');
  const daily = usage.daily;
  const peak = Math.max(1, ...daily.map((d) => d.messages));
  const colW = daily.length ? Math.min(18, (W - 40) / daily.length) : 0;
  return (
    <figure className="usage" data-testid="usage-chart">
      <svg role="img" aria-labelledby="usage-title usage-desc" viewBox={`0 0 ${W} ${Math.max(1, quotas.length) * ROW + 10}`} width="100%">
        <title id="usage-title">
          Usage of plan {usage.plan.name} in {usage.period.month}
        </title>
        <desc id="usage-desc">{summary || 'The plan sets no limits'}</desc>
        {quotas.map((q, i) => {
          const y = i * ROW + 6;
          const share = q.limit === null ? 0 : Math.min(1, q.limit === 0 ? 1 : q.used / q.limit);
          return (
            <g key={`${q.quota}-${q.period}`}>
              <title>{`${quotaName(q.quota)}: ${q.used} of ${q.limit ?? 'unlimited'}`}</title>
              <text x={0} y={y + 17} className="chart-label">
                {quotaName(q.quota)}
              </text>
              <rect x={LABEL} y={y} width={BAR} height={22} rx={3} className="chart-track" />
              {q.limit !== null && <rect x={LABEL} y={y} width={Math.max(share > 0 ? 2 : 0, share * BAR)} height={22} rx={3} className={q.exceeded ? 'chart-bar exceeded' : share >= 0.8 ? 'chart-bar warning' : 'chart-bar'} />}
              <text x={LABEL + BAR + 8} y={y + 17} className="chart-value">
                {q.limit === null ? `${q.used} (no limit)` : `${q.used} / ${q.limit}`}
              </text>
            </g>
          );
        })}
      </svg>
      {daily.length > 0 && (
        <svg role="img" aria-labelledby="daily-title" viewBox={`0 0 ${W} 120`} width="100%">
          <title id="daily-title">
            Messages per day in {usage.period.month}: {daily.map((d) => `${d.date} ${d.messages}`).join(', ')}
          </title>
          {daily.map((d, i) => {
            const h = (d.messages / peak) * 90;
            return (
              <g key={d.date}>
                <title>{`${d.date}: ${d.messages} messages`}</title>
                <rect x={20 + i * colW} y={100 - h} width={Math.max(1, colW - 3)} height={h} className="chart-bar" />
              </g>
            );
          })}
          <line x1={18} x2={W - 10} y1={100} y2={100} className="chart-axis" />
          <text x={20} y={116} className="chart-label">
            {daily[0].date}
          </text>
          <text x={W - 10} y={116} textAnchor="end" className="chart-label">
            {daily[daily.length - 1].date} · peak {peak}
          </text>
        </svg>
      )}
      <figcaption>
        Plan <strong>{usage.plan.name}</strong> (over a limit: {usage.plan.hardLimit}), {usage.period.month}.
      </figcaption>
    </figure>
  );
}
