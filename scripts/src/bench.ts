/**
 * `npm run bench`: the platform as deployed (one process per service, see cluster.ts) against
 * the local Meta and Genesys simulators, tenants seeded straight into PostgreSQL, load from
 * autocannon. Phases (run in the order 1, 4, 2, 3, so the tenant-scale figure is taken on the
 * same empty message tables as phase 1's; 5 spans the run):
 *
 *   1. gateway cost     GET /state/stats through the gateway vs straight to state-manager
 *   4. tenant scale     phase 1's gateway run with 10,000 tenants / 20,000 keys, cold and warm
 *   2. webhook ingest   signed Meta webhooks (1 and 50 messages) through the gateway and direct,
 *                       genesys-connector NOT running: the ingestion path only
 *   3. end to end       connector started: webhook accepted → Genesys, agent reply → Meta
 *   5. memory           peak RSS per service
 *
 * Prints a table and writes bench/results/<ISO date>.json. Durations and sizes: BENCH_* below.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { metaSerialize, newWamid, signGenesys, signMeta, startGenesysSimulator, startMetaSimulator, type GenesysSimulator, type MetaSimulator } from '@bridge/simulators';
import { Cluster } from './cluster';
import { prepareDatabase, SERVICES, type PreparedDatabase, type ServiceName } from './system';
import { withDatabase } from './postgres';
import { mergeRuns, percentiles, round, runLoad, runPaced, type LoadRun, type LoadStats, type Percentiles } from './bench-load';
import { addKeys, makeTenant, ownerExec, ownerScalar, seedTenants, BENCH_RATE_LIMIT, type BenchTenant } from './bench-seed';
import {
  BENCH_PROCESS,
  cpuBetween,
  cpuSnapshot,
  describeScope,
  runCpu,
  PgWaitSampler,
  gitCommit,
  machineInfo,
  redisVersion,
  renderRows,
  renderTable,
  summarizeProfile,
  type CpuSnapshot,
  type CpuUse,
  type PostgresScope,
  type ProfileSummary,
  type Row,
  type RunCpu,
} from './bench-report';

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

const int = (name: string, def: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : def;
};

const cfg = {
  seconds: int('BENCH_SECONDS', 5),
  warmupSeconds: int('BENCH_WARMUP_SECONDS', 2),
  latencySeconds: int('BENCH_LATENCY_SECONDS', 2),
  coldSeconds: int('BENCH_COLD_SECONDS', 10),
  connections: int('BENCH_CONNECTIONS', 50),
  batchConnections: int('BENCH_BATCH_CONNECTIONS', 10),
  tenants: int('BENCH_TENANTS', 1000),
  scaleTenants: int('BENCH_SCALE_TENANTS', 10_000),
  scaleKeys: int('BENCH_SCALE_KEYS', 20_000),
  batchSize: int('BENCH_BATCH_SIZE', 50),
  fixedRate: int('BENCH_FIXED_RATE', 1000),
  customersPerTenant: 50,
  e2eTenants: int('BENCH_E2E_TENANTS', 100),
  e2eConversations: int('BENCH_E2E_CONVERSATIONS', 200),
  /** 0 = auto: 500 msg/s, or 30% of phase 2's single-message capacity through the gateway if that is lower. */
  e2eRate: int('BENCH_E2E_RATE', 0),
  e2eSeconds: int('BENCH_E2E_SECONDS', 10),
  e2eDrainSeconds: int('BENCH_E2E_DRAIN_SECONDS', 30),
  /** Phase 3a: how long the connector works on phase 2's backlog before it is cleared (0: skip). */
  drainSeconds: process.env.BENCH_DRAIN_SECONDS === '0' ? 0 : int('BENCH_DRAIN_SECONDS', 10),
  /** How phase 3 sends agent replies: autocannon (default) or the Genesys simulator's agentReply. */
  replyDriver: process.env.BENCH_REPLY_DRIVER === 'simulator' ? 'simulator' : 'autocannon',
  cpuProf: process.env.BENCH_CPU_PROF === '1',
  phases: (process.env.BENCH_PHASES ?? '1,4,2,3').split(',').map((s) => s.trim()),
};

const out = (line = '') => process.stdout.write(`${line}\n`);
const log = (line: string) => out(`  ${new Date().toISOString().slice(11, 19)}  ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pad = (n: number, w: number) => String(n).padStart(w, '0');
const ms = (x: number) => `${Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 2) : 'n/a'} ms`;
const describe = (s: LoadStats, perRequest = 1) =>
  `${Math.round(s.okPerSecond * perRequest).toLocaleString('en-US')} ${perRequest > 1 ? 'msg' : 'req'}/s, p50 ${ms(s.latencyMs.p50)}, p99 ${ms(s.latencyMs.p99)}` +
  (s.non2xx || s.errors ? `, non-2xx ${s.non2xx}, errors ${s.errors} ${JSON.stringify(s.statusCodes)}` : '');

interface Services {
  gateway: string;
  state: string;
  webhook: string;
}

interface Run {
  /** Run first on the way out (e.g. the bench's own database connections). */
  closers: Array<() => Promise<unknown>>;
  prepared?: PreparedDatabase;
  dataDir: string;
  benchDatabase?: { serverUrl: string; name: string };
  clusters: Cluster[];
  meta?: MetaSimulator;
  genesys?: GenesysSimulator;
  sampler?: NodeJS.Timeout;
}

/** Reads the CPU counters of the services, the load generator, PostgreSQL and Redis (set in main). */
let probe: (() => CpuSnapshot) | undefined;

/** `gateway 0.41, state-manager 0.52, postgres 0.60 ms`: CPU per accepted request (or message), biggest first. */
function cpuLine(cpu: RunCpu | undefined, perRequest = 1): string {
  if (!cpu) return 'n/a';
  const short = (name: string) => (name.startsWith('postgres') ? 'postgres' : name === BENCH_PROCESS ? 'load gen+sims' : name.startsWith('redis') ? 'redis' : name);
  const parts = Object.entries(cpu.msPerOk)
    .map(([name, v]) => [short(name), v / perRequest] as const)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1]);
  const total = parts.reduce((s, [, v]) => s + v, 0);
  return `${parts.map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ')} (Σ ${total.toFixed(2)} ms)`;
}

// ---------------------------------------------------------------------------------------------
// Requests

type Target = 'gateway' | 'direct';

/** GET /state/stats, cycling over (tenant, key) pairs; direct requests carry what the gateway would add. */
function statsRequest(target: Target, entries: Array<{ tenantId: string; key: string }>, internalToken: string, path = '/state/stats'): autocannon.Request {
  let n = 0;
  return {
    method: 'GET',
    path,
    setupRequest: (req) => {
      const e = entries[n++ % entries.length];
      req.headers =
        target === 'gateway'
          ? { 'x-api-key': e.key }
          : { 'x-tenant-id': e.tenantId, 'x-internal-token': internalToken, 'x-tenant-auth': 'api-key' };
      return req;
    },
  };
}

const customerWaId = (prefix: string, t: BenchTenant, k: number) => `${prefix}${pad(t.index, 5)}${pad(k, 2)}`;

/** A Meta webhook body for one tenant's number, text messages only, serialised as Meta does. */
function metaBody(t: BenchTenant, messages: Array<{ from: string; name: string; wamid: string; text: string }>): string {
  const ts = String(Math.floor(Date.now() / 1000));
  const contacts: Array<{ profile: { name: string }; wa_id: string }> = [];
  const seen = new Set<string>();
  for (const m of messages) {
    if (seen.has(m.from)) continue;
    seen.add(m.from);
    contacts.push({ profile: { name: m.name }, wa_id: m.from });
  }
  return metaSerialize({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: t.wabaId,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: t.displayPhoneNumber, phone_number_id: t.phoneNumberId },
              contacts,
              messages: messages.map((m) => ({ from: m.from, id: m.wamid, timestamp: ts, type: 'text', text: { body: m.text } })),
            },
            field: 'messages',
          },
        ],
      },
    ],
  });
}

interface Conversation {
  tenant: BenchTenant;
  waId: string;
}

/**
 * Signed Meta webhooks to /webhook/meta/<tenant>, every message with a new wamid. `perRequest`
 * messages per POST, from as many different customers of the tenant. With `onAccepted`, the time
 * each 200 arrives is reported with the wamids it carried.
 */
function metaRequest(o: {
  conversations: (n: number) => Conversation[];
  perRequest: number;
  text: (seq: number) => string;
  onAccepted?: (wamids: string[], at: number) => void;
}): autocannon.Request {
  let n = 0;
  let seq = 0;
  const request: autocannon.Request = {
    method: 'POST',
    setupRequest: (req, context) => {
      const convs = o.conversations(n++);
      const tenant = convs[0].tenant;
      const messages = convs.map((c) => ({ from: c.waId, name: `Customer ${c.waId.slice(-2)}`, wamid: newWamid(), text: o.text(seq++) }));
      const body = metaBody(tenant, messages);
      (context as { wamids?: string[] }).wamids = messages.map((m) => m.wamid);
      return {
        ...req,
        path: `/webhook/meta/${tenant.id}`,
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMeta(tenant.appSecret, body), 'user-agent': 'facebookexternalua' },
        body,
      };
    },
  };
  if (o.onAccepted) {
    const accepted = o.onAccepted;
    request.onResponse = (status, _body, context) => {
      if (status === 200) accepted((context as { wamids: string[] }).wamids, Date.now());
    };
  }
  return request;
}

/**
 * Agent replies as the Genesys simulator's agentReply sends them (same body, base64 HMAC with
 * the tenant's webhook secret) to /webhook/genesys/<tenant>; reports when each 200 arrives, by text.
 */
function genesysReplyRequest(o: { conversations: (n: number) => Conversation; text: (seq: number) => string; onAccepted: (text: string, at: number) => void }): autocannon.Request {
  let n = 0;
  return {
    method: 'POST',
    setupRequest: (req, context) => {
      const seq = n++;
      const c = o.conversations(seq);
      const id = randomBytes(16).toString('hex');
      const text = o.text(seq);
      const body = JSON.stringify({
        id,
        channel: {
          id: c.tenant.integrationId,
          platform: 'Open',
          type: 'Private',
          to: { id: c.waId },
          from: { nickname: 'Acme Support', id: c.tenant.integrationId, idType: 'Opaque' },
          time: new Date().toISOString(),
          messageId: id,
        },
        type: 'Text',
        text,
        originatingEntity: 'Human',
        direction: 'Outbound',
      });
      (context as { text?: string }).text = text;
      return {
        ...req,
        path: `/webhook/genesys/${c.tenant.id}`,
        headers: { 'content-type': 'application/json', 'user-agent': 'Genesys-Open-Messaging-Simulator', 'x-hub-signature-256': signGenesys(c.tenant.webhookSecret, body) },
        body,
      };
    },
    onResponse: (status, _body, context) => {
      if (status === 200) o.onAccepted((context as { text: string }).text, Date.now());
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Phases

interface PairedResult {
  direct: LoadRun;
  gateway: LoadRun;
  runs: LoadStats[];
}

/** direct, gateway, direct, gateway…: the same load alternated, each target's runs pooled. */
async function paired(
  name: string,
  make: (t: Target) => { url: string; request: autocannon.Request },
  connections: number,
  seconds: number,
  rounds: number,
): Promise<PairedResult> {
  const runs: Record<Target, LoadRun[]> = { direct: [], gateway: [] };
  for (let r = 0; r < rounds; r++) {
    for (const target of ['direct', 'gateway'] as const) {
      const { url, request } = make(target);
      const run = await runLoad({ label: `${name} ${target} #${r + 1}`, url, connections, seconds, request, probe });
      log(`${run.stats.label} (C=${connections}): ${describe(run.stats)}`);
      runs[target].push(run);
    }
  }
  return {
    direct: mergeRuns(`${name} direct`, runs.direct, false),
    gateway: mergeRuns(`${name} gateway`, runs.gateway, false),
    runs: [...runs.direct, ...runs.gateway].map((r) => r.stats),
  };
}

async function warmUp(label: string, url: string, request: autocannon.Request, connections: number, o: { seconds?: number; amount?: number }) {
  const run = await runLoad({ label, url, connections, seconds: o.seconds, amount: o.amount, request });
  log(`${label} (C=${connections}${o.amount ? `, ${o.amount} requests` : ''}): ${describe(run.stats)}`);
  return run.stats;
}

const keyEntries = (tenants: BenchTenant[], which: (t: BenchTenant) => string[]) =>
  tenants.flatMap((t) => which(t).map((key) => ({ tenantId: t.id, key })));

interface Phase1 {
  throughput: PairedResult;
  latency: PairedResult;
  health: Record<string, LoadStats>;
}

async function phase1(svc: Services, internalToken: string, tenants: BenchTenant[], rows: Row[]): Promise<Phase1> {
  const entries = keyEntries(tenants, (t) => [t.keys[0]]);
  const make = (target: Target) => ({ url: target === 'gateway' ? svc.gateway : svc.state, request: statsRequest(target, entries, internalToken) });
  // Calibration: what the box does with the shared Express stack alone (request id, pino-http, no DB, no proxy).
  const health: Record<string, LoadStats> = {};
  for (const [name, url] of [
    ['state-manager', svc.state],
    ['gateway', svc.gateway],
  ] as const) {
    const r = await runLoad({ label: `calibration ${name} GET /health`, url, connections: cfg.connections, seconds: cfg.warmupSeconds, request: { method: 'GET', path: '/health' }, probe });
    log(`${r.stats.label} (C=${cfg.connections}): ${describe(r.stats)}; CPU/request ${cpuLine(r.stats.cpu)}`);
    health[name] = r.stats;
  }
  await warmUp('warm-up direct', svc.state, make('direct').request, cfg.connections, { seconds: cfg.warmupSeconds });
  // Every key once (the gateway's first use of a key reads PostgreSQL), then the JIT warm-up.
  await warmUp('warm-up gateway, every key', svc.gateway, make('gateway').request, cfg.connections, { amount: entries.length });
  await warmUp('warm-up gateway', svc.gateway, make('gateway').request, cfg.connections, { seconds: cfg.warmupSeconds });
  const throughput = await paired('stats', make, cfg.connections, cfg.seconds, 2);
  const latency = await paired('stats', make, 1, cfg.latencySeconds, 2);

  const P = '1 gateway cost';
  const d = throughput.direct.stats;
  const g = throughput.gateway.stats;
  const ratio = g.okPerSecond / d.okPerSecond;
  const c = cfg.connections;
  rows.push(
    {
      phase: P,
      metric: `calibration: GET /health req/s, state-manager / gateway (no DB, no proxy)`,
      value: `${Math.round(health['state-manager'].okPerSecond)} / ${Math.round(health.gateway.okPerSecond)}`,
      unit: 'req/s',
    },
    { phase: P, metric: `direct req/s (state-manager, C=${c}, ${cfg.tenants} tenants)`, value: d.okPerSecond, unit: 'req/s' },
    { phase: P, metric: `gateway req/s (X-API-Key, C=${c}, ${cfg.tenants} keys)`, value: g.okPerSecond, unit: 'req/s' },
    { phase: P, metric: 'gateway / direct throughput', value: round(ratio, 3), goal: '≥ 0.60', met: ratio >= 0.6 },
    { phase: P, metric: 'CPU per request, direct', value: cpuLine(d.cpu) },
    { phase: P, metric: 'CPU per request, via gateway', value: cpuLine(g.cpu) },
    { phase: P, metric: `added p50 at C=${c} (queueing included)`, value: round(g.latencyMs.p50 - d.latencyMs.p50, 2), unit: 'ms' },
    { phase: P, metric: `added p99 at C=${c}`, value: round(g.latencyMs.p99 - d.latencyMs.p99, 2), unit: 'ms' },
  );
  const dl = latency.direct.stats.latencyMs;
  const gl = latency.gateway.stats.latencyMs;
  rows.push(
    { phase: P, metric: 'p50 direct / gateway at C=1', value: `${dl.p50.toFixed(2)} / ${gl.p50.toFixed(2)}`, unit: 'ms' },
    { phase: P, metric: 'added p50 at C=1 (per-request cost)', value: round(gl.p50 - dl.p50, 2), unit: 'ms', goal: '≤ 1 ms', met: gl.p50 - dl.p50 <= 1 },
    { phase: P, metric: 'added p99 at C=1', value: round(gl.p99 - dl.p99, 2), unit: 'ms' },
    {
      phase: P,
      metric: 'non-2xx / errors (all runs)',
      value: `${[...throughput.runs, ...latency.runs].reduce((s, r) => s + r.non2xx, 0)} / ${[...throughput.runs, ...latency.runs].reduce((s, r) => s + r.errors, 0)}`,
    },
  );
  return { throughput, latency, health };
}

async function phase4(
  svc: Services,
  internalToken: string,
  ownerUrl: string,
  encryptionKey: string,
  tenants: BenchTenant[],
  p1: Phase1 | undefined,
  rows: Row[],
) {
  const keysPerTenant = Math.max(1, Math.round(cfg.scaleKeys / cfg.scaleTenants));
  const started = performance.now();
  const added: BenchTenant[] = [];
  for (let i = tenants.length + 1; i <= cfg.scaleTenants; i++) added.push(makeTenant(i));
  const before = tenants.map((t) => t.keys.length);
  await addKeys(ownerUrl, tenants, keysPerTenant - 1);
  for (let i = 0; i < added.length; i += 5000) await seedTenants(ownerUrl, encryptionKey, added.slice(i, i + 5000), keysPerTenant);
  const seedSeconds = (performance.now() - started) / 1000;
  tenants.push(...added);
  const all = tenants;
  const totalKeys = all.reduce((s, t) => s + t.keys.length, 0);
  log(`seeded ${added.length.toLocaleString('en-US')} more tenants and keys: ${all.length.toLocaleString('en-US')} tenants, ${totalKeys.toLocaleString('en-US')} keys (${seedSeconds.toFixed(1)} s)`);

  // Cold: keys never used before, each at most once (for BENCH_COLD_SECONDS or until all are used).
  const fresh = all.flatMap((t, i) => (i < before.length ? t.keys.slice(before[i]) : t.keys).map((key) => ({ tenantId: t.id, key })));
  const coldRequest = statsRequest('gateway', fresh, internalToken);
  const cold = await runLoad({ label: 'scale gateway cold', url: svc.gateway, connections: cfg.connections, seconds: cfg.coldSeconds, maxRequests: fresh.length, request: coldRequest, probe });
  const coldUsed = cold.stats.responses + cold.stats.errors;
  log(`scale gateway cold (C=${cfg.connections}, ${coldUsed.toLocaleString('en-US')} of ${fresh.length.toLocaleString('en-US')} first-use keys): ${describe(cold.stats)}; CPU/request ${cpuLine(cold.stats.cpu)}`);
  // Warm every key before the warm runs: the first-use keys the cold run did not reach, and the
  // keys phase 1 used (they may have left the 60 s cache). Through the gateway's resolver to a
  // path state-manager answers 404 without touching the database, which is quicker than stats.
  const old = all.flatMap((t, i) => (i < before.length ? t.keys.slice(0, before[i]) : []).map((key) => ({ tenantId: t.id, key })));
  const rest = [...fresh.slice(Math.min(fresh.length, Math.max(0, coldUsed - cfg.connections))), ...old];
  if (rest.length) {
    const touch = await runLoad({
      label: 'touch',
      url: svc.gateway,
      connections: cfg.connections,
      amount: rest.length,
      request: statsRequest('gateway', rest, internalToken, '/state/bench-warm-up'),
    });
    const unexpected = Object.entries(touch.stats.statusCodes).filter(([c]) => c !== '404');
    log(`warmed the other ${rest.length.toLocaleString('en-US')} keys in ${touch.stats.seconds.toFixed(1)} s${unexpected.length ? ` (unexpected answers: ${JSON.stringify(Object.fromEntries(unexpected))})` : ''}`);
  }

  const entries = keyEntries(all, (t) => t.keys);
  const make = (target: Target) => ({ url: target === 'gateway' ? svc.gateway : svc.state, request: statsRequest(target, entries, internalToken) });
  const warm = await paired('scale', make, cfg.connections, cfg.seconds, 2);

  const P = '4 tenant scale';
  const g = warm.gateway.stats;
  rows.push(
    { phase: P, metric: `seeded tenants / API keys (${seedSeconds.toFixed(1)} s)`, value: `${all.length.toLocaleString('en-US')} / ${totalKeys.toLocaleString('en-US')}` },
    { phase: P, metric: `gateway cold: req/s, ${coldUsed.toLocaleString('en-US')} first-use keys`, value: cold.stats.okPerSecond, unit: 'req/s' },
    { phase: P, metric: 'gateway cold: CPU per request', value: cpuLine(cold.stats.cpu) },
    { phase: P, metric: 'gateway cold: p50 / p99', value: `${cold.stats.latencyMs.p50.toFixed(2)} / ${cold.stats.latencyMs.p99.toFixed(2)}`, unit: 'ms' },
    { phase: P, metric: `gateway warm: req/s over ${totalKeys.toLocaleString('en-US')} keys`, value: g.okPerSecond, unit: 'req/s' },
    { phase: P, metric: 'gateway warm: p50 / p99', value: `${g.latencyMs.p50.toFixed(2)} / ${g.latencyMs.p99.toFixed(2)}`, unit: 'ms' },
    { phase: P, metric: 'gateway warm: CPU per request', value: cpuLine(g.cpu) },
  );
  let vsPhase1: number | undefined;
  if (p1) {
    const base = p1.throughput.gateway.stats.okPerSecond;
    vsPhase1 = g.okPerSecond / base;
    const pairedNow = g.okPerSecond / warm.direct.stats.okPerSecond;
    const pairedThen = base / p1.throughput.direct.stats.okPerSecond;
    rows.push(
      { phase: P, metric: `warm req/s ÷ phase 1 gateway req/s (${Math.round(base)})`, value: round(vsPhase1, 3), goal: '≥ 0.90', met: vsPhase1 >= 0.9 },
      { phase: P, metric: 'gateway/direct ratio: 10k tenants vs 1k', value: `${pairedNow.toFixed(3)} vs ${pairedThen.toFixed(3)}` },
      {
        phase: P,
        metric: 'same, normalized by the paired direct runs (less noisy)',
        value: round(pairedNow / pairedThen, 3),
        goal: '≥ 0.90',
        met: pairedNow / pairedThen >= 0.9,
      },
    );
  }
  rows.push({ phase: P, metric: 'non-2xx / errors', value: `${cold.stats.non2xx + g.non2xx + warm.direct.stats.non2xx} / ${cold.stats.errors + g.errors + warm.direct.stats.errors}` });
  return { seedSeconds, tenants: all.length, keys: totalKeys, cold: cold.stats, warm: { direct: warm.direct.stats, gateway: g, runs: warm.runs }, vsPhase1 };
}

async function phase2(svc: Services, tenants: BenchTenant[], ownerUrl: string, rows: Row[]) {
  const P = '2 webhook ingest';
  const customers = cfg.customersPerTenant;
  const conv = (t: BenchTenant, k: number): Conversation => ({ tenant: t, waId: customerWaId('1555', t, k % customers) });
  const shapes = [
    { name: 'single', perRequest: 1, connections: cfg.connections, conversations: (n: number) => [conv(tenants[n % tenants.length], Math.floor(n / tenants.length))] },
    {
      name: `batch of ${cfg.batchSize}`,
      perRequest: cfg.batchSize,
      connections: cfg.batchConnections,
      conversations: (n: number) => Array.from({ length: cfg.batchSize }, (_, k) => conv(tenants[n % tenants.length], k)),
    },
  ];
  const text = (seq: number) => `Hello from the bench, message ${seq}`;
  const urlOf = (t: Target) => (t === 'gateway' ? svc.gateway : svc.webhook);
  // Fills webhook-service's caches (credentials from tenant-service, number → tenant) for every tenant.
  await warmUp('warm-up webhooks', svc.gateway, metaRequest({ conversations: shapes[0].conversations, perRequest: 1, text }), cfg.connections, {
    amount: 2 * tenants.length,
  });
  const results: Record<string, Record<string, LoadStats>> = {};
  for (const shape of shapes) {
    const res: Record<string, LoadStats> = {};
    results[shape.name] = res;
    for (const target of ['direct', 'gateway'] as const) {
      const run = await runLoad({
        label: `${shape.name} ${target} saturation`,
        url: urlOf(target),
        connections: shape.connections,
        seconds: cfg.seconds,
        request: metaRequest({ conversations: shape.conversations, perRequest: shape.perRequest, text }),
        probe,
      });
      log(`webhooks ${run.stats.label} (C=${shape.connections}): ${describe(run.stats, shape.perRequest)}; CPU/msg ${cpuLine(run.stats.cpu, shape.perRequest)}`);
      res[`${target} saturation`] = run.stats;
    }
    for (const target of ['direct', 'gateway'] as const) {
      const rate = Math.max(1, Math.round(cfg.fixedRate / shape.perRequest));
      const run = await runPaced({
        label: `${shape.name} ${target} at ${cfg.fixedRate} msg/s`,
        url: urlOf(target),
        connections: shape.perRequest > 1 ? 10 : cfg.connections,
        seconds: cfg.seconds,
        rate,
        request: metaRequest({ conversations: shape.conversations, perRequest: shape.perRequest, text }),
        probe,
      });
      log(`webhooks ${run.stats.label}: ${describe(run.stats, shape.perRequest)}`);
      res[`${target} fixed`] = run.stats;
    }
    const mps = (s: LoadStats) => Math.round(s.okPerSecond * shape.perRequest);
    for (const target of ['gateway', 'direct'] as const) {
      const sat = res[`${target} saturation`];
      const fixed = res[`${target} fixed`];
      const goal = target === 'gateway';
      const label = `${shape.name}, ${target === 'gateway' ? 'via gateway' : 'direct to webhook-service'}`;
      rows.push(
        {
          phase: P,
          metric: `${label}: accepted msg/s at saturation (C=${shape.connections})`,
          value: mps(sat),
          unit: 'msg/s',
          goal: goal ? '≥ 3,000' : undefined,
          met: goal ? mps(sat) >= 3000 : undefined,
        },
        {
          phase: P,
          metric: `${label}: p50 / p99 time to 200 at saturation`,
          value: `${sat.latencyMs.p50.toFixed(1)} / ${sat.latencyMs.p99.toFixed(1)}`,
          unit: 'ms',
          goal: goal ? 'p99 ≤ 250' : undefined,
          met: goal ? sat.latencyMs.p99 <= 250 : undefined,
        },
        {
          phase: P,
          metric: `${label}: at ${cfg.fixedRate.toLocaleString('en-US')} msg/s: achieved, p50 / p99`,
          value: `${mps(fixed).toLocaleString('en-US')} msg/s, ${fixed.latencyMs.p50.toFixed(1)} / ${fixed.latencyMs.p99.toFixed(1)} ms`,
          goal: goal ? 'p99 ≤ 250' : undefined,
          met: goal ? fixed.latencyMs.p99 <= 250 : undefined,
        },
        { phase: P, metric: `${label}: CPU per message at saturation`, value: cpuLine(sat.cpu, shape.perRequest) },
        { phase: P, metric: `${label}: non-2xx / errors`, value: `${sat.non2xx + fixed.non2xx} / ${sat.errors + fixed.errors}` },
      );
    }
  }
  const backlog = await ownerScalar<{ n: string }>(ownerUrl, 'SELECT count(*)::text AS n FROM outbox');
  rows.push({ phase: P, metric: 'deliveries queued (connector not running)', value: Number(backlog.n) });
  return { results, outboxBacklog: Number(backlog.n) };
}

interface E2EDirection {
  /** PostgreSQL transactions (commits and rollbacks, bench database) per delivered message. */
  transactionsPerMessage: number;
  /** Conversations where messages arrived out of order (of `checked` messages). */
  outOfOrder: { conversations: number; checked: number };
  /** CPU from the start of the load until the last delivery, per delivered message. */
  cpu?: RunCpu;
  accepted: number;
  delivered: number;
  missing: number;
  latencyMs: Percentiles;
  webhook: LoadStats | Percentiles;
  nonOk: Record<string, number>;
}

/** Waits until every key in `accepted` has an arrival time, or the deadline. */
async function drain(accepted: Map<string, number>, arrivals: () => Map<string, number>, seconds: number): Promise<Map<string, number>> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const arrived = arrivals();
    let missing = 0;
    for (const k of accepted.keys()) if (!arrived.has(k)) missing++;
    if (missing === 0 || Date.now() > end) return arrived;
    await sleep(100);
  }
}

/** Conversations in which a later message arrived before an earlier one (the lanes must keep order). */
function outOfOrder(items: Array<{ conversation: string; seq: number }>): { conversations: number; checked: number } {
  const last = new Map<string, number>();
  const bad = new Set<string>();
  for (const { conversation, seq } of items) {
    if ((last.get(conversation) ?? -1) > seq) bad.add(conversation);
    last.set(conversation, seq);
  }
  return { conversations: bad.size, checked: items.length };
}

function e2eLatencies(accepted: Map<string, number>, arrived: Map<string, number>) {
  const lat: number[] = [];
  for (const [k, at] of accepted) {
    const t = arrived.get(k);
    if (t !== undefined) lat.push(t - at);
  }
  return { lat, missing: accepted.size - lat.length };
}

async function phase3(
  svc: Services,
  tenants: BenchTenant[],
  genesys: GenesysSimulator,
  meta: MetaSimulator,
  rate: number,
  commits: () => Promise<number>,
  rows: Row[],
): Promise<{ rate: number; inbound: E2EDirection; outbound: E2EDirection }> {
  const P = '3 end to end';
  const e2eTenants = tenants.slice(0, Math.min(cfg.e2eTenants, tenants.length));
  const perTenant = Math.max(1, Math.ceil(cfg.e2eConversations / e2eTenants.length));
  const convs: Conversation[] = [];
  for (let k = 0; k < perTenant; k++) for (const t of e2eTenants) if (convs.length < cfg.e2eConversations) convs.push({ tenant: t, waId: customerWaId('1777', t, k) });
  rows.push({ phase: P, metric: 'load (each direction, one after the other)', value: `${rate} msg/s × ${cfg.e2eSeconds} s over ${convs.length} conversations of ${e2eTenants.length} tenants` });

  // Genesys arrivals by wamid (channel.messageId), Meta sends by the reply text.
  let gIndex = genesys.received.length;
  const atGenesys = new Map<string, number>();
  const genesysArrivals = () => {
    for (; gIndex < genesys.received.length; gIndex++) {
      const r = genesys.received[gIndex];
      if (r.kind === 'message' && r.body.channel.messageId) atGenesys.set(r.body.channel.messageId, r.time.getTime());
    }
    return atGenesys;
  };
  let mIndex = meta.sent.length;
  const atMeta = new Map<string, number>();
  const metaArrivals = () => {
    for (; mIndex < meta.sent.length; mIndex++) {
      const s = meta.sent[mIndex];
      const text = (s.body as { text?: { body?: string } }).text?.body;
      if (text) atMeta.set(text, s.time.getTime());
    }
    return atMeta;
  };

  const inbound = (accepted: Map<string, number>) =>
    metaRequest({
      conversations: (n) => [convs[n % convs.length]],
      perRequest: 1,
      text: (seq) => `e2e message ${seq}`,
      onAccepted: (wamids, at) => {
        for (const w of wamids) accepted.set(w, at);
      },
    });

  let replySeq = 0;
  /** Agent replies through the Genesys simulator, open loop at `rate`/s; the time each 200 came back, by text. */
  async function replies(rate: number, count: number) {
    const accepted = new Map<string, number>();
    const codes: Record<string, number> = {};
    const webhookMs: number[] = [];
    const inflight = new Set<Promise<void>>();
    const start = performance.now();
    let sent = 0;
    while (sent < count) {
      const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      for (; sent < due; sent++) {
        const c = convs[sent % convs.length];
        const text = `agent reply ${replySeq++}`;
        const p = genesys
          .agentReply({
            webhookUrl: `${svc.gateway}/webhook/genesys/${c.tenant.id}`,
            secret: c.tenant.webhookSecret,
            integrationId: c.tenant.integrationId,
            to: c.waId,
            text,
            maxRetries: 0,
            timeoutMs: 10_000,
          })
          .then(
            (r) => {
              const status = String(r.statuses[0] ?? 'error');
              codes[status] = (codes[status] ?? 0) + 1;
              if (r.statuses[0] === 200) {
                accepted.set(text, Date.now());
                webhookMs.push(r.attempts[0].durationMs);
              }
            },
            () => {
              codes.error = (codes.error ?? 0) + 1;
            },
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await sleep(2);
    }
    await Promise.all([...inflight]);
    return { accepted, codes, webhookMs, seconds: (performance.now() - start) / 1000 };
  }

  // Warm-up: one message and one reply per conversation (tokens, credentials, mappings).
  const warmAccepted = new Map<string, number>();
  await runLoad({ label: 'e2e warm-up', url: svc.gateway, connections: 10, amount: convs.length, request: inbound(warmAccepted) });
  await drain(warmAccepted, genesysArrivals, cfg.e2eDrainSeconds);
  const warmReplies = await replies(200, convs.length);
  await drain(warmReplies.accepted, metaArrivals, cfg.e2eDrainSeconds);
  log(`e2e warm-up: ${genesysArrivals().size}/${warmAccepted.size} at Genesys, ${metaArrivals().size}/${warmReplies.accepted.size} at Meta`);

  // Inbound: webhook accepted (200 back at autocannon) → message at the Genesys simulator.
  const accepted = new Map<string, number>();
  const gStart = genesys.received.length;
  const cpuIn0 = probe?.();
  const commitsIn0 = await commits();
  const run = await runPaced({ label: 'e2e inbound', url: svc.gateway, connections: 20, seconds: cfg.e2eSeconds, rate: rate, request: inbound(accepted), probe });
  const arrived = await drain(accepted, genesysArrivals, cfg.e2eDrainSeconds);
  const inLat = e2eLatencies(accepted, arrived);
  const cpuIn = cpuIn0 && probe ? runCpu(cpuIn0, probe(), inLat.lat.length) : undefined;
  // PostgreSQL publishes a backend's counters when it goes idle, at most once a second.
  await sleep(1100);
  const commitsIn = ((await commits()) - commitsIn0) / Math.max(1, inLat.lat.length);
  const inOrder = outOfOrder(
    genesys.received.slice(gStart).flatMap((r) => {
      if (r.kind !== 'message') return [];
      const m = /^e2e message (\d+)$/.exec(r.body.text ?? '');
      return m ? [{ conversation: `${r.integrationId}/${r.body.channel.from.id}`, seq: Number(m[1]) }] : [];
    }),
  );
  const inbound3: E2EDirection = {
    accepted: accepted.size,
    delivered: inLat.lat.length,
    missing: inLat.missing,
    latencyMs: percentiles(inLat.lat),
    outOfOrder: inOrder,
    transactionsPerMessage: round(commitsIn, 2),
    cpu: cpuIn,
    webhook: run.stats,
    nonOk: Object.fromEntries(Object.entries(run.stats.statusCodes).filter(([c]) => c !== '200')),
  };
  log(
    `e2e inbound ${rate} msg/s × ${cfg.e2eSeconds} s over ${convs.length} conversations: ${inbound3.delivered}/${inbound3.accepted} at Genesys, ` +
      `p50 ${ms(inbound3.latencyMs.p50)}, p95 ${ms(inbound3.latencyMs.p95)}, p99 ${ms(inbound3.latencyMs.p99)} (webhook ${describe(run.stats)})`,
  );

  // Outbound: agent reply accepted by our webhook → send at the Meta simulator.
  const cpuOut0 = probe?.();
  const commitsOut0 = await commits();
  const mStart = meta.sent.length;
  let rep: { accepted: Map<string, number>; codes: Record<string, number>; webhookMs: number[]; seconds: number };
  if (cfg.replyDriver === 'simulator') {
    rep = await replies(rate, rate * cfg.e2eSeconds);
  } else {
    const replyAccepted = new Map<string, number>();
    const base = replySeq;
    const r = await runPaced({
      label: 'e2e outbound',
      url: svc.gateway,
      connections: 20,
      seconds: cfg.e2eSeconds,
      rate: rate,
      request: genesysReplyRequest({ conversations: (n) => convs[n % convs.length], text: (n) => `agent reply ${base}-${n}`, onAccepted: (text, at) => replyAccepted.set(text, at) }),
      probe,
    });
    rep = { accepted: replyAccepted, codes: r.stats.statusCodes, webhookMs: r.latencies, seconds: r.stats.seconds };
    if (r.stats.errors) rep.codes.error = r.stats.errors;
  }
  const sentAt = await drain(rep.accepted, metaArrivals, cfg.e2eDrainSeconds);
  const outLat = e2eLatencies(rep.accepted, sentAt);
  const cpuOut = cpuOut0 && probe ? runCpu(cpuOut0, probe(), outLat.lat.length) : undefined;
  await sleep(1100);
  const commitsOut = ((await commits()) - commitsOut0) / Math.max(1, outLat.lat.length);
  const outOrder = outOfOrder(
    meta.sent.slice(mStart).flatMap((x) => {
      const m = /^agent reply (?:\d+-)?(\d+)$/.exec((x.body as { text?: { body?: string } }).text?.body ?? '');
      return m ? [{ conversation: `${x.phoneNumberId}/${x.body.to}`, seq: Number(m[1]) }] : [];
    }),
  );
  const outbound3: E2EDirection = {
    accepted: rep.accepted.size,
    delivered: outLat.lat.length,
    missing: outLat.missing,
    latencyMs: percentiles(outLat.lat),
    outOfOrder: outOrder,
    transactionsPerMessage: round(commitsOut, 2),
    cpu: cpuOut,
    webhook: percentiles(rep.webhookMs),
    nonOk: Object.fromEntries(Object.entries(rep.codes).filter(([c]) => c !== '200')),
  };
  log(
    `e2e outbound ${rate} replies/s × ${cfg.e2eSeconds} s (${cfg.replyDriver}, sent in ${rep.seconds.toFixed(1)} s): ${outbound3.delivered}/${outbound3.accepted} at Meta, ` +
      `p50 ${ms(outbound3.latencyMs.p50)}, p95 ${ms(outbound3.latencyMs.p95)}, p99 ${ms(outbound3.latencyMs.p99)} ` +
      `(webhook p50 ${ms((outbound3.webhook as Percentiles).p50)}, p99 ${ms((outbound3.webhook as Percentiles).p99)})`,
  );

  for (const [name, d] of [
    ['WhatsApp → Genesys (webhook 200 → Genesys sim)', inbound3],
    ['Genesys → WhatsApp (agent reply 200 → Meta sim)', outbound3],
  ] as const) {
    rows.push(
      { phase: P, metric: `${name}: p50 / p95`, value: `${d.latencyMs.p50.toFixed(1)} / ${d.latencyMs.p95.toFixed(1)}`, unit: 'ms' },
      { phase: P, metric: `${name}: p99`, value: d.latencyMs.p99, unit: 'ms', goal: '≤ 100 ms', met: d.latencyMs.p99 <= 100 },
      {
        phase: P,
        metric: `${name}: delivered / accepted (non-200)`,
        value: `${d.delivered} / ${d.accepted}${Object.keys(d.nonOk).length ? ` (${JSON.stringify(d.nonOk)})` : ''}`,
        goal: 'all',
        met: d.missing === 0 && Object.keys(d.nonOk).length === 0,
      },
      {
        phase: P,
        metric: `${name}: conversations delivered out of order (${d.outOfOrder.checked} messages checked)`,
        value: d.outOfOrder.conversations,
        goal: '0',
        met: d.outOfOrder.checked > 0 && d.outOfOrder.conversations === 0,
      },
      { phase: P, metric: `${name}: CPU per message, webhook to delivery`, value: cpuLine(d.cpu) },
      { phase: P, metric: `${name}: PostgreSQL transactions per message`, value: d.transactionsPerMessage },
    );
  }
  const wl = inbound3.webhook as LoadStats;
  rows.push(
    { phase: P, metric: `inbound webhook through gateway at ${rate} msg/s: p50 / p99`, value: `${wl.latencyMs.p50.toFixed(1)} / ${wl.latencyMs.p99.toFixed(1)}`, unit: 'ms' },
    {
      phase: P,
      metric: `agent-reply webhook through gateway: p50 / p99`,
      value: `${(outbound3.webhook as Percentiles).p50.toFixed(1)} / ${(outbound3.webhook as Percentiles).p99.toFixed(1)}`,
      unit: 'ms',
    },
  );
  return { rate, inbound: inbound3, outbound: outbound3 };
}

// ---------------------------------------------------------------------------------------------
// Orchestration

async function prepare(run: Run): Promise<PreparedDatabase> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (env.DATABASE_URL) {
    // Never touch an existing database: a fresh one on the same server, dropped at the end.
    const name = `bridge_bench_${process.pid}`;
    const serverUrl = withDatabase(env.DATABASE_URL, 'postgres');
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    run.benchDatabase = { serverUrl, name };
    env.DATABASE_URL = withDatabase(env.DATABASE_URL, name);
  }
  return prepareDatabase(env, run.dataDir, (line) => log(line));
}

async function cleanup(run: Run): Promise<void> {
  if (run.sampler) clearInterval(run.sampler);
  for (const close of run.closers) await close().catch(() => undefined);
  for (const c of [...run.clusters].reverse()) await c.stop().catch(() => undefined);
  await Promise.allSettled([run.meta?.close(), run.genesys?.close()]);
  await run.prepared?.stopPostgres();
  if (run.benchDatabase) {
    const admin = new Client({ connectionString: run.benchDatabase.serverUrl });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${run.benchDatabase.name} WITH (FORCE)`);
    } catch (err) {
      process.stderr.write(`Could not drop ${run.benchDatabase.name}: ${(err as Error).message}\n`);
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
  rmSync(run.dataDir, { recursive: true, force: true });
}

function servicePids(clusters: Cluster[]): Record<string, number | undefined> {
  const pids: Record<string, number | undefined> = {};
  for (const s of SERVICES) for (const c of clusters) pids[s.name] ??= c.pid(s.name);
  return pids;
}

async function main(): Promise<number> {
  const startedAt = new Date();
  // What was built and is being measured (other work may commit while the bench runs).
  const commit = gitCommit(ROOT);
  const stamp = startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bridge-bench-'));
  // As root, the embedded PostgreSQL runs as `postgres`, which must be able to reach its folder.
  chmodSync(dataDir, 0o755);
  const run: Run = { dataDir, clusters: [], closers: [] };
  let cleaned: Promise<void> | undefined;
  const doCleanup = () => (cleaned ??= cleanup(run));
  process.once('SIGINT', () => {
    process.stderr.write('\nInterrupted: stopping everything…\n');
    void doCleanup().finally(() => process.exit(130));
  });

  const rows: Row[] = [];
  const cpu: Record<string, CpuUse> = {};
  const pgWaits: Record<string, Array<{ state: string; sessions: number }>> = {};
  const results: Record<string, unknown> = {};
  const notes: string[] = [];
  const profiles: ProfileSummary[] = [];
  const profileFiles: Array<{ service: ServiceName; file: string }> = [];
  let memory: Record<string, { peakMb: number; restarts: number }> = {};
  const redisUrl = process.env.REDIS_URL;

  out(`Bridge benchmark — ${startedAt.toISOString()}`);
  out(
    `  PostgreSQL: ${process.env.DATABASE_URL ? 'DATABASE_URL (a fresh database on that server, dropped at the end)' : 'embedded'}; ` +
      `Redis: ${redisUrl ? 'REDIS_URL' : 'none (each service caches in its own process)'}; phases ${cfg.phases.join(', ')}; ` +
      `${cfg.seconds} s per run${cfg.cpuProf ? '; CPU profiles of gateway and webhook-service' : ''}`,
  );
  out();
  try {
    const prepared = await prepare(run);
    run.prepared = prepared;
    const { ownerUrl, secrets } = prepared;
    const pgVersion = (await ownerScalar<{ v: string }>(ownerUrl, "SELECT current_setting('server_version') AS v")).v;

    const meta = await startMetaSimulator();
    run.meta = meta;
    const genesys = await startGenesysSimulator({ retryDelayMs: 50 });
    run.genesys = genesys;

    const tenants: BenchTenant[] = [];
    for (let i = 1; i <= cfg.tenants; i++) tenants.push(makeTenant(i));
    let t0 = performance.now();
    await seedTenants(ownerUrl, secrets.CREDENTIALS_ENCRYPTION_KEY, tenants, 1);
    log(`seeded ${tenants.length.toLocaleString('en-US')} tenants (1 API key, Meta and Genesys credentials each, rate limit ${BENCH_RATE_LIMIT.toLocaleString('en-US')}/min) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const t of tenants.slice(0, cfg.e2eTenants)) {
      meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: t.accessToken, displayPhoneNumber: t.displayPhoneNumber, wabaId: t.wabaId });
      genesys.addOrg({ clientId: t.clientId, clientSecret: t.clientSecret, integrationId: t.integrationId });
    }

    const baseEnv: NodeJS.ProcessEnv = {
      ...prepared.serviceEnv,
      LOG_LEVEL: 'warn',
      // As deployed; prepareDatabase provides the secrets production insists on.
      NODE_ENV: 'production',
      META_GRAPH_URL: meta.graphUrl,
      GENESYS_API_URL: genesys.url,
      GENESYS_LOGIN_URL: genesys.url,
    };
    delete baseEnv.NODE_OPTIONS;
    t0 = performance.now();
    const back = await Cluster.start(baseEnv, ['tenant-service', 'auth-service', 'state-manager']);
    run.clusters.push(back);
    const profEnv = (service: ServiceName): NodeJS.ProcessEnv => {
      if (!cfg.cpuProf) return {};
      // Node 20 refuses --cpu-prof in NODE_OPTIONS; a preloaded module runs V8's profiler instead.
      const file = path.join(RESULTS_DIR, `${stamp}-${service}.cpuprofile.json`);
      profileFiles.push({ service, file });
      return { NODE_OPTIONS: `--require=${path.join(__dirname, 'bench-cpuprof.js')}`, BENCH_CPU_PROF_FILE: file };
    };
    if (cfg.cpuProf) mkdirSync(RESULTS_DIR, { recursive: true });
    const webhookCluster = await Cluster.start({ ...back.serviceEnv, ...profEnv('webhook-service') }, ['webhook-service']);
    run.clusters.push(webhookCluster);
    const gatewayCluster = await Cluster.start(
      { ...back.serviceEnv, WEBHOOK_SERVICE_URL: webhookCluster.url('webhook-service'), ...profEnv('gateway') },
      ['gateway'],
    );
    run.clusters.push(gatewayCluster);
    log(`started tenant-service, auth-service, state-manager, webhook-service, gateway (one process each) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    run.sampler = setInterval(() => {
      for (const c of run.clusters) c.sample();
    }, 1000);
    run.sampler.unref();

    const pgScope: PostgresScope = run.benchDatabase ? { database: run.benchDatabase.name } : { embeddedDataDir: path.join(dataDir, 'postgres') };
    probe = () => cpuSnapshot(servicePids(run.clusters), pgScope, !!redisUrl);
    const svc: Services = { gateway: gatewayCluster.url('gateway'), state: back.url('state-manager'), webhook: webhookCluster.url('webhook-service') };
    const internalToken = secrets.INTERNAL_SERVICE_TOKEN;
    const waitClient = new Client({ connectionString: ownerUrl, application_name: 'bench-wait-sampler' });
    await waitClient.connect();
    run.closers.push(() => waitClient.end());
    const waits = new PgWaitSampler(waitClient);
    const measure = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      out();
      out(`Phase ${name}`);
      const a: CpuSnapshot = probe!();
      waits.start();
      const result = await fn();
      cpu[name] = cpuBetween(a, probe!());
      pgWaits[name] = waits.stop();
      return result;
    };

    let p1: Phase1 | undefined;
    if (cfg.phases.includes('1')) {
      p1 = await measure('1 gateway cost', () => phase1(svc, internalToken, tenants, rows));
      results.gatewayCost = {
        throughput: { direct: p1.throughput.direct.stats, gateway: p1.throughput.gateway.stats, runs: p1.throughput.runs },
        latencyAtC1: { direct: p1.latency.direct.stats, gateway: p1.latency.gateway.stats, runs: p1.latency.runs },
      };
    }
    if (cfg.phases.includes('4')) {
      results.tenantScale = await measure('4 tenant scale', () => phase4(svc, internalToken, ownerUrl, secrets.CREDENTIALS_ENCRYPTION_KEY, tenants, p1, rows));
    }
    const ingestTenants = tenants.slice(0, cfg.tenants);
    if (cfg.phases.includes('2')) {
      out();
      out('  (genesys-connector is NOT running in phase 2: the figures are the ingestion path only, webhook → PostgreSQL → 200)');
      results.webhookIngestion = await measure('2 webhook ingest', () => phase2(svc, ingestTenants, ownerUrl, rows));
    }
    if (cfg.phases.includes('3')) {
      // Every tenant of phase 2 can now be delivered to (its queue is the backlog below).
      for (const t of ingestTenants.slice(cfg.e2eTenants)) {
        meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: t.accessToken, displayPhoneNumber: t.displayPhoneNumber, wabaId: t.wabaId });
        genesys.addOrg({ clientId: t.clientId, clientSecret: t.clientSecret, integrationId: t.integrationId });
      }
      t0 = performance.now();
      const connector = await Cluster.start(back.serviceEnv, ['genesys-connector']);
      run.clusters.push(connector);
      log(`started genesys-connector in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      if (cfg.drainSeconds > 0 && cfg.phases.includes('2')) {
        results.backlogDrain = await measure('3a backlog drain', async () => {
          // Phase 2's queue, as after an outage: how fast the connector works it off (first
          // deliveries of each tenant included: Genesys tokens and credentials are cold).
          const queued = Number((await ownerScalar<{ n: string }>(ownerUrl, 'SELECT count(*)::text AS n FROM outbox')).n);
          const g0 = genesys.received.length;
          const a = probe!();
          await sleep(cfg.drainSeconds * 1000);
          const delivered = genesys.received.length - g0;
          const cpu = runCpu(a, probe!(), delivered);
          const left = Number((await ownerScalar<{ n: string }>(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state = 'pending'")).n);
          const failed = Number((await ownerScalar<{ n: string }>(ownerUrl, "SELECT count(*)::text AS n FROM outbox WHERE state <> 'pending' OR attempts > 1")).n);
          const perSecond = round(delivered / cfg.drainSeconds, 1);
          log(`backlog drain: ${delivered.toLocaleString('en-US')} of ${queued.toLocaleString('en-US')} queued deliveries in ${cfg.drainSeconds} s (${perSecond}/s); CPU/delivery ${cpuLine(cpu)}`);
          const P = '3 end to end';
          rows.push(
            { phase: P, metric: `backlog drain: deliveries/s, ${queued.toLocaleString('en-US')} queued for ${cfg.tenants} tenants (tokens cold)`, value: perSecond, unit: 'msg/s' },
            { phase: P, metric: 'backlog drain: CPU per delivery', value: cpuLine(cpu) },
            { phase: P, metric: 'backlog drain: jobs retried or failed so far', value: failed },
          );
          return { queued, delivered, seconds: cfg.drainSeconds, perSecond, left, retriedOrFailed: failed, cpu };
        });
      }
      const cleared = await ownerExec(ownerUrl, 'DELETE FROM outbox');
      await ownerExec(ownerUrl, 'VACUUM ANALYZE outbox');
      log(`cleared the rest of the delivery queue (${cleared.toLocaleString('en-US')} rows), so that phase 3 measures steady state`);
      const single = (results.webhookIngestion as { results: Record<string, Record<string, LoadStats>> } | undefined)?.results.single?.['gateway saturation'];
      let rate = cfg.e2eRate || 500;
      // Each message costs its webhook and then its delivery, on the same CPUs: well under half of
      // the ingestion capacity, or phase 3 measures a growing queue instead of steady state.
      if (!cfg.e2eRate && single && single.okPerSecond * 0.3 < rate) {
        rate = Math.max(10, Math.floor((single.okPerSecond * 0.3) / 10) * 10);
        log(`phase 3 at ${rate} msg/s: 30% of what phase 2 measured through the gateway (${Math.round(single.okPerSecond)} msg/s), so that it measures steady state, not overload (BENCH_E2E_RATE overrides)`);
      }
      const commits = async () =>
        Number((await waitClient.query<{ n: string }>('SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n);
      results.endToEnd = await measure('3 end to end', () => phase3(svc, ingestTenants, genesys, meta, rate, commits, rows));
    }

    // 5. Memory, then stop (profiles are written when the services exit).
    for (const c of run.clusters) c.sample();
    for (const c of run.clusters) memory = { ...memory, ...c.peakRss() };
    for (const [name, m] of Object.entries(memory)) rows.push({ phase: '5 memory', metric: `peak RSS ${name}`, value: m.peakMb, unit: 'MB' });
    rows.push({ phase: '5 memory', metric: 'peak RSS bench process (load generator + simulators)', value: Math.round(process.resourceUsage().maxRSS / 102.4) / 10, unit: 'MB' });
    clearInterval(run.sampler);
    for (const c of [...run.clusters].reverse()) await c.stop();
    run.clusters.length = 0;
    for (const p of profileFiles) {
      if (existsSync(p.file)) profiles.push(summarizeProfile(p.file, p.service, ROOT));
      else notes.push(`no CPU profile was written for ${p.service} (${path.basename(p.file)})`);
    }

    notes.push(
      'Absolute figures on a shared 2-core machine are noisy (load generator, simulators, six services, PostgreSQL and Redis share the CPU, and other work on the machine competes): compare the ratios and the paired, alternated runs rather than absolute numbers between runs.',
      'Latencies are taken per response from autocannon (hrtime, 2xx only); percentiles are nearest-rank over all responses of the pooled runs.',
      'Fixed-rate runs use 10 staggered autocannon instances (one instance releases each second\'s quota at once).',
      'Phase 2 runs without genesys-connector: the figure is ingestion (verify signature, store, queue, 200), not delivery.',
      'Phase 3a lets the connector work on phase 2\'s queue for BENCH_DRAIN_SECONDS (as after an outage; each tenant\'s first delivery fetches its Genesys token), then the rest is deleted so that phase 3 measures steady state. Phase 3 runs at BENCH_E2E_RATE, by default 500 msg/s or 30% of the single-message ingestion capacity, whichever is lower (each message costs its webhook and its delivery on the same CPUs).',
      'CPU per request/message: CPU seconds of each process over the run divided by the 2xx responses; "load gen+sims" is this process (autocannon and both simulators).',
    );

    const finishedAt = new Date();
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      machine: machineInfo(),
      versions: {
        commit,
        node: process.version,
        postgres: pgVersion,
        redis: redisUrl ? ((await redisVersion(redisUrl)) ?? 'unknown') : null,
        autocannon: (JSON.parse(readFileSync(require.resolve('autocannon/package.json'), 'utf8')) as { version: string }).version,
      },
      settings: {
        ...cfg,
        database: process.env.DATABASE_URL ? 'external (fresh database on DATABASE_URL server)' : 'embedded',
        redis: !!redisUrl,
        logLevel: 'warn',
        tenantRateLimitPerMinute: BENCH_RATE_LIMIT,
      },
      table: rows,
      results,
      cpu,
      postgresSessions: pgWaits,
      memory,
      profiles,
      notes,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${stamp}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

    out();
    out('Results');
    out();
    out(renderRows(rows));
    out();
    out(`CPU, cores used on average per phase (/proc/<pid>/stat; ${describeScope(pgScope)}${redisUrl ? '; redis-server is shared with the rest of the machine' : ''})`);
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
    out(`Written to ${path.relative(ROOT, file)}`);
    const missed = rows.filter((r) => r.met === false);
    if (missed.length) out(`Goals not met: ${missed.map((r) => `${r.phase} — ${r.metric}`).join('; ')}`);
    return 0;
  } finally {
    await doCleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`Bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
