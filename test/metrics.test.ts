import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { buildTextMessage } from '@bridge/simulators';
import { SERVICES } from '../scripts/src/system';
import { ROUTE_SCOPES } from '../gateway/src/scopes';
import { gatewayRouteLabel } from '../gateway/src/route-labels';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Metrics (issue #16): every service answers GET /metrics on its own metrics listener and never on
 * its published port; each family moves when its event happens; labels stay bounded whatever the
 * paths clients send; and the Grafana dashboard and the alerting rules (deploy/) name only metrics
 * the services export.
 */
let bridge: Bridge;
let gateway: string;
const ROOT = path.resolve(__dirname, '..');

beforeAll(async () => {
  bridge = await startBridge({
    env: {
      // Dead letters within a test: a delivery is retried for 300 ms at most.
      DELIVERY_RETRY_BUDGET_MS: '300',
      // Every scrape reads the queue afresh.
      METRICS_QUEUE_REFRESH_MS: '0',
      METRICS_TOP_TENANTS: '3',
    },
  });
  gateway = bridge.sys.urls.gateway;
});

afterAll(() => bridge.stop());

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus's text format: the samples, and the family names with their types. */
function parseExposition(text: string): { samples: Sample[]; families: Map<string, string> } {
  const samples: Sample[] = [];
  const families = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1], type[2]);
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsed metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, families };
}

type Service = (typeof SERVICES)[number]['name'];

async function scrape(service: Service) {
  const res = await request(bridge.sys.metricsUrls[service]!).get('/metrics');
  expect(res.status).toBe(200);
  return parseExposition(res.text);
}

/** The sum of `name`'s samples whose labels include `labels`. */
async function value(service: Service, name: string, labels: Record<string, string> = {}): Promise<number> {
  const { samples } = await scrape(service);
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

const send = (t: BridgeTenant, payload: unknown, appSecret = t.appSecret) =>
  bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret, maxAttempts: 1 });

const arrived = (t: BridgeTenant, text: string) => bridge.genesys.messages(t.integrationId).some((m) => m.body.text === text);

describe('where metrics are served', () => {
  it.each(SERVICES.map((s) => s.name))('%s: GET /metrics on its metrics listener, with process metrics and its service label', async (name) => {
    const res = await request(bridge.sys.metricsUrls[name]!).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const { samples, families } = parseExposition(res.text);
    expect(families.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(families.get('http_request_duration_seconds')).toBe('histogram');
    expect(families.get('bridge_pg_pool_clients')).toBe('gauge');
    expect(new Set(samples.map((s) => s.labels.service))).toEqual(new Set([name]));
    // Anything else on that listener is the contract's 404.
    const other = await request(bridge.sys.metricsUrls[name]!).get('/health');
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('ROUTE_NOT_FOUND');
  });

  it.each(SERVICES.map((s) => s.name))('%s: not on its published port (GET /metrics there is 404, no metric in it)', async (name) => {
    const res = await request(bridge.sys.urls[name]).get('/metrics');
    expect(res.status).toBe(name === 'tenant-service' ? 401 : 404);
    expect(res.text).not.toMatch(/process_cpu|http_requests_total/);
    if (name === 'tenant-service') {
      // tenant-service's admin API asks for the admin key before it looks for a route; with it, 404.
      const admin = await bridge.sys.admin('get', '/metrics');
      expect(admin.status).toBe(404);
      expect(admin.text).not.toMatch(/process_cpu|http_requests_total/);
    }
  });

  it('the services with internal routes do not serve them there either', async () => {
    for (const [name, url] of Object.entries(bridge.sys.internalUrls)) {
      const res = await request(url!).get('/metrics');
      expect({ name, status: res.status }).toEqual({ name, status: 404 });
    }
  });
});

describe('HTTP metrics: by route template, bounded', () => {
  it('1,000 different raw paths make one label value; tenant routes are counted by their template', async () => {
    const t = await bridge.onboard({ rateLimit: 100_000 });
    const before = await scrape('gateway');
    const routesBefore = new Set(before.samples.filter((s) => s.name === 'http_requests_total').map((s) => s.labels.route));
    const unmatchedBefore = before.samples.filter((s) => s.name === 'http_requests_total' && s.labels.route === 'unmatched').reduce((a, s) => a + s.value, 0);
    const agent = request.agent(gateway);
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => agent.get(`/no-such-page/${i + j}/${Math.random().toString(36).slice(2)}`).expect(404)));
    }
    for (let i = 0; i < 20; i++) await request(gateway).get(`/state/mapping/1650555${1000 + i}`).set('X-API-Key', t.apiKey).expect(404);

    const after = await scrape('gateway');
    const requests = after.samples.filter((s) => s.name === 'http_requests_total');
    const routes = new Set(requests.map((s) => s.labels.route));
    // Not one of the raw paths became a label.
    expect([...routes].filter((r) => r.includes('no-such-page') || /\d{5}/.test(r))).toEqual([]);
    expect(routes.size).toBeLessThanOrEqual(routesBefore.size + 2);
    const unmatched = requests.filter((s) => s.labels.route === 'unmatched').reduce((a, s) => a + s.value, 0);
    expect(unmatched - unmatchedBefore).toBeGreaterThanOrEqual(1000);
    expect(requests.find((s) => s.labels.route === '/state/mapping/:param' && s.labels.status === '404' && s.labels.method === 'GET')?.value).toBeGreaterThanOrEqual(20);
    // Behind it, state-manager counts the same requests by its own route template.
    expect(await value('state-manager', 'http_requests_total', { route: '/state/mapping/:waId', status: '404' })).toBeGreaterThanOrEqual(20);
    // And times them: the histogram's count moves with the counter.
    expect(await value('gateway', 'http_request_duration_seconds_count', { route: '/state/mapping/:param' })).toBeGreaterThanOrEqual(20);
  }, 60_000);
});

describe("the gateway's route templates", () => {
  it('every tenant route of the scope table has a template without raw path parts or regular-expression syntax', () => {
    const sample = (source: string) => source.replace(/^\^/, '').replace(/\\\/\?\$$/, '').replace(/\[\^\/\]\+/g, 'x1').replace(/\\\//g, '/');
    for (const r of ROUTE_SCOPES) {
      const label = gatewayRouteLabel({ method: r.method, originalUrl: `${sample(r.path.source)}?q=1` } as never);
      expect({ route: r.path.source, label }).toEqual({ route: r.path.source, label: expect.stringMatching(/^(\/[a-z]+|\/:param)+$/) });
    }
    expect(gatewayRouteLabel({ method: 'POST', originalUrl: '/webhook/genesys/acme' } as never)).toBe('/webhook/genesys/:tenantId');
    expect(gatewayRouteLabel({ method: 'GET', originalUrl: '/wp-admin/setup.php' } as never)).toBeUndefined();
  });
});

describe('domain metrics move when their event happens', () => {
  it('webhooks: accepted, duplicate and refused (by reason) are counted by provider', async () => {
    const t = await bridge.onboard();
    const labels = (outcome: string, reason: string) => ({ provider: 'meta', outcome, reason });
    const [accepted, duplicate, refused] = await Promise.all([
      value('webhook-service', 'bridge_webhooks_total', labels('accepted', 'stored')),
      value('webhook-service', 'bridge_webhooks_total', labels('duplicate', 'duplicate')),
      value('webhook-service', 'bridge_webhooks_total', labels('refused', 'INVALID_SIGNATURE')),
    ]);
    const payload = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: '16505559001', body: 'counted once' });
    expect((await send(t, payload)).statuses).toEqual([200]);
    expect(await value('webhook-service', 'bridge_webhooks_total', labels('accepted', 'stored'))).toBe(accepted + 1);
    expect((await send(t, payload)).statuses).toEqual([200]);
    expect(await value('webhook-service', 'bridge_webhooks_total', labels('duplicate', 'duplicate'))).toBe(duplicate + 1);
    expect((await send(t, payload, 'not-the-app-secret')).statuses).toEqual([401]);
    expect(await value('webhook-service', 'bridge_webhooks_total', labels('refused', 'INVALID_SIGNATURE'))).toBe(refused + 1);
    // The tenant and its credentials were looked up again for the repeat: from the caches.
    expect(await value('webhook-service', 'bridge_cache_lookups_total', { cache: 'credentials', result: 'hit' })).toBeGreaterThan(0);
  });

  it('deliveries: a delivered message is counted by kind and outcome, and for its tenant', async () => {
    const t = await bridge.onboard();
    const before = await value('genesys-connector', 'bridge_deliveries_total', { kind: 'to_genesys_message', outcome: 'delivered' });
    expect((await send(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from: '16505559002', body: 'delivered and counted' }))).statuses).toEqual([200]);
    await eventually(() => arrived(t, 'delivered and counted'), 10_000, 'the message at Genesys');
    await eventually(
      async () => (await value('genesys-connector', 'bridge_deliveries_total', { kind: 'to_genesys_message', outcome: 'delivered' })) > before,
      5_000,
      'the delivery counted',
    );
    expect(await value('genesys-connector', 'bridge_delivery_duration_seconds_count', { kind: 'to_genesys_message', outcome: 'delivered' })).toBeGreaterThan(0);
    expect(await value('genesys-connector', 'bridge_cache_lookups_total', { cache: 'credentials' })).toBeGreaterThan(0);
    expect(await value('genesys-connector', 'bridge_pg_pool_clients', { pool: 'main', state: 'total' })).toBeGreaterThan(0);
  });

  it('dead letters and retries: a delivery Genesys keeps refusing is retried, then dead-lettered, for its tenant too', async () => {
    const t = await bridge.onboard();
    const [retries, dead] = await Promise.all([
      value('genesys-connector', 'bridge_delivery_retries_total', { kind: 'to_genesys_message' }),
      value('genesys-connector', 'bridge_dead_letters_total', { kind: 'to_genesys_message' }),
    ]);
    bridge.genesys.failNext(1_000_000, { status: 500, integrationId: t.integrationId });
    try {
      expect((await send(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from: '16505559003', body: 'never arrives' }))).statuses).toEqual([200]);
      await eventually(
        async () => (await value('genesys-connector', 'bridge_dead_letters_total', { kind: 'to_genesys_message' })) > dead,
        15_000,
        'the dead letter counted',
      );
    } finally {
      bridge.genesys.clearFaults();
    }
    expect(await value('genesys-connector', 'bridge_delivery_retries_total', { kind: 'to_genesys_message' })).toBeGreaterThan(retries);
    expect(await value('genesys-connector', 'bridge_outbox_jobs', { kind: 'to_genesys_message', state: 'dead' })).toBeGreaterThan(0);
    // Per tenant: among the top 3 (this tenant's dead letter is the newest; others' may tie).
    const { samples } = await scrape('genesys-connector');
    const deadByTenant = samples.filter((s) => s.name === 'bridge_tenant_dead_letters');
    expect(deadByTenant.length).toBeLessThanOrEqual(3);
    expect(deadByTenant.length).toBeGreaterThan(0);
    const deliveriesByTenant = samples.filter((s) => s.name === 'bridge_tenant_deliveries_total');
    expect(new Set(deliveriesByTenant.map((s) => s.labels.tenant)).size).toBeLessThanOrEqual(3);
  }, 30_000);

  it('queue age: a job due for two minutes and not delivered shows in the oldest-due gauges, by kind and for its tenant', async () => {
    const t = await bridge.onboard();
    // A lane head held by a (pretend) worker for an hour, due two minutes ago, and one behind it.
    await ownerQuery(
      bridge.sys.tdb,
      `INSERT INTO outbox (tenant_id, kind, lane, next_attempt_at, locked_until)
       VALUES ($1, 'to_whatsapp_message', 'out:16505559004', now() - interval '2 minutes', now() + interval '1 hour'),
              ($1, 'to_whatsapp_message', 'out:16505559004', now() - interval '1 minute', NULL)`,
      [t.tenantId],
    );
    try {
      expect(await value('genesys-connector', 'bridge_outbox_oldest_due_seconds', { kind: 'to_whatsapp_message' })).toBeGreaterThanOrEqual(120);
      expect(await value('genesys-connector', 'bridge_outbox_due_jobs', { kind: 'to_whatsapp_message' })).toBeGreaterThanOrEqual(2);
      expect(await value('genesys-connector', 'bridge_tenant_oldest_due_seconds', { tenant: t.tenantId })).toBeGreaterThanOrEqual(120);
      expect(await value('genesys-connector', 'bridge_tenant_outbox_pending', { tenant: t.tenantId })).toBe(2);
    } finally {
      await ownerQuery(bridge.sys.tdb, `DELETE FROM outbox WHERE tenant_id = $1`, [t.tenantId]);
    }
    expect(await value('genesys-connector', 'bridge_tenant_oldest_due_seconds', { tenant: t.tenantId })).toBe(0);
  });

  it('circuit breakers: a tenant whose Genesys org is down opens its breaker', async () => {
    const t = await bridge.onboard();
    const opens = await value('genesys-connector', 'bridge_circuit_breaker_opens_total');
    bridge.genesys.setOutage(true, { integrationId: t.integrationId });
    try {
      for (let i = 0; i < 8; i++) {
        expect((await send(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from: `1650555910${i}`, body: `outage ${i}` }))).statuses).toEqual([200]);
      }
      await eventually(async () => (await value('genesys-connector', 'bridge_circuit_breaker_opens_total')) > opens, 15_000, 'the breaker opened');
    } finally {
      bridge.genesys.setOutage(false, { integrationId: t.integrationId });
    }
    const { samples } = await scrape('genesys-connector');
    expect(samples.filter((s) => s.name === 'bridge_circuit_breakers').map((s) => s.labels.state).sort()).toEqual(['closed', 'half_open', 'open']);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// deploy/: the dashboard and the rules name only what the services export

/** Every name a PromQL selector may use for what the services export (a histogram's _bucket, _sum, _count). */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const { name } of SERVICES) {
    const { families } = await scrape(name);
    for (const [family, type] of families) {
      names.add(family);
      if (type === 'histogram' || type === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family + suffix);
    }
  }
  return names;
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: its identifiers once strings, label matchers
 * (`{...}`), ranges (`[5m]`), grouping clauses (`by (...)`) and Grafana's variables are removed,
 * less function names (an identifier followed by `(`), keywords and numbers.
 */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+|\$\{[^}]*\}/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const rest = stripped.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(rest)) continue;
    if (PROMQL_KEYWORDS.has(m[0].toLowerCase())) continue;
    // An exponent (1e6) is part of a number.
    if (/\d$/.test(stripped.slice(0, m.index!)) && /^e\d*$/i.test(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

describe('deploy/: the Grafana dashboard and the Prometheus alerting rules', () => {
  it('the tokenizer finds metric names, and only those', () => {
    expect(
      promqlMetricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{service="gateway", route=~"/webhook/.*"}[5m]))) > 0.25',
      ),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(promqlMetricNames('sum(rate(a_total[$__rate_interval])) / sum without (x) (b) > 1e6 and on (k) c_seconds')).toEqual(['a_total', 'b', 'c_seconds']);
  });

  it('name only metrics the services export', async () => {
    const exported = await exportedNames();
    const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'deploy/grafana/bridge-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const rules = parseYaml(readFileSync(path.join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const expressions = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel ${p.title}`, expr: t.expr }))),
      ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
    ];
    expect(expressions.length).toBeGreaterThan(20);
    const unknown = expressions.flatMap(({ where, expr }) => promqlMetricNames(expr).filter((n) => !exported.has(n)).map((n) => `${where}: ${n}`));
    expect(unknown).toEqual([]);
    // Every expression selects something, and the rules the issue asks for are there.
    for (const { where, expr } of expressions) expect({ where, names: promqlMetricNames(expr).length > 0 }).toEqual({ where, names: true });
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(expect.arrayContaining(['BridgeOldestDueJobTooOld', 'BridgeDeadLettersRising', 'BridgeCircuitBreakerOpen', 'BridgeHigh5xxRate', 'BridgeWebhookP99Over250ms']));
  });
});
