/**
 * Phase 3, end to end, connector running: each direction at a fixed rate over
 * BENCH_E2E_CONVERSATIONS conversations. Inbound: from the webhook's 200 at the load generator to
 * the Genesys simulator's record of the message. Outbound: from an agent reply's 200 to the Meta
 * simulator's record of the send. Also checked: every accepted message delivered, none out of
 * order within its conversation, PostgreSQL transactions per message.
 */
import type { GenesysSimulator, MetaSimulator } from '@bridge/simulators';
import { clearQueue } from './backlog-drain';
import type { BenchContext } from './context';
import { runCpu, type RunCpu } from './cpu';
import { percentiles, round, runLoad, runPaced, type LoadStats, type Percentiles } from './load';
import { cpuLine, describe, log, ms, sleep } from './output';
import { customerWaId, genesysReplyRequest, metaRequest, type Conversation } from './requests';
import type { BenchTenant } from './seed';
import type { WebhookIngest } from './webhook-ingest';

export interface E2EDirection {
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

/**
 * The rate of phase 3 when it is set: BENCH_E2E_RATE; else, with BENCH_E2E_CAPACITY_SECONDS 0,
 * 500 msg/s or 30% of phase 2's single-message capacity through the gateway if that is lower;
 * else 0: measured by `endToEnd` (half the end-to-end capacity).
 */
export function endToEndRate(ctx: BenchContext, ingest: WebhookIngest | undefined): number {
  const cfg = ctx.settings;
  if (cfg.e2eRate) return cfg.e2eRate;
  if (cfg.e2eCapacitySeconds > 0) return 0;
  const single = ingest?.results.single?.['gateway saturation'];
  let rate = 500;
  if (single && single.okPerSecond * 0.3 < rate) {
    rate = Math.max(10, Math.floor((single.okPerSecond * 0.3) / 10) * 10);
    log(`phase 3 at ${rate} msg/s: 30% of what phase 2 measured through the gateway (${Math.round(single.okPerSecond)} msg/s), so that it measures steady state, not overload (BENCH_E2E_RATE overrides)`);
  }
  return rate;
}

/** What the bridge delivers per second, both directions together, when offered more than it can take. */
export interface E2ECapacity {
  seconds: number;
  /** Deliveries per second over the window (its first second left out): at Genesys, at Meta, and both. */
  inbound: number;
  outbound: number;
  total: number;
  /** Webhooks accepted per second meanwhile (what was offered and taken in). */
  acceptedInbound: number;
  acceptedOutbound: number;
  cpu?: RunCpu;
}

/** `commits()`: PostgreSQL transactions (commits and rollbacks) of the bench database so far. */
export async function endToEnd(
  ctx: BenchContext,
  tenants: BenchTenant[],
  genesys: GenesysSimulator,
  meta: MetaSimulator,
  requestedRate: number,
  commits: () => Promise<number>,
): Promise<{ rate: number; capacity?: E2ECapacity; inbound: E2EDirection; outbound: E2EDirection }> {
  const { settings: cfg, svc, rows, probe } = ctx;
  const P = '3 end to end';
  const e2eTenants = tenants.slice(0, Math.min(cfg.e2eTenants, tenants.length));
  const perTenant = Math.max(1, Math.ceil(cfg.e2eConversations / e2eTenants.length));
  const convs: Conversation[] = [];
  for (let k = 0; k < perTenant; k++) for (const t of e2eTenants) if (convs.length < cfg.e2eConversations) convs.push({ tenant: t, waId: customerWaId('1777', t, k) });

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

  // Capacity: inbound webhooks and agent replies, each at saturation, at the same time, for
  // BENCH_E2E_CAPACITY_SECONDS; what reaches the simulators per second is the capacity. Then the
  // queue it leaves behind is deleted, and phase 3 runs each direction at half of it.
  let rate = requestedRate;
  let capacity: E2ECapacity | undefined;
  if (!rate) {
    const secs = cfg.e2eCapacitySeconds;
    const g0 = genesys.received.length;
    const m0 = meta.sent.length;
    const a = probe();
    const t0 = Date.now();
    const [inRun, outRun] = await Promise.all([
      runLoad({
        label: 'e2e capacity inbound',
        url: svc.gateway,
        connections: 10,
        seconds: secs,
        request: metaRequest({ conversations: (n) => [convs[n % convs.length]], perRequest: 1, text: (seq) => `e2e capacity ${seq}` }),
      }),
      runLoad({
        label: 'e2e capacity outbound',
        url: svc.gateway,
        connections: 10,
        seconds: secs,
        request: genesysReplyRequest({ conversations: (n) => convs[n % convs.length], text: (n) => `capacity reply ${n}`, onAccepted: () => undefined }),
      }),
    ]);
    const t1 = Date.now();
    const from = t0 + Math.min(1000, (t1 - t0) / 4);
    const window = (t1 - from) / 1000;
    const inCount = genesys.received.slice(g0).filter((r) => r.kind === 'message' && r.time.getTime() >= from && r.time.getTime() <= t1).length;
    const outCount = meta.sent.slice(m0).filter((x) => x.time.getTime() >= from && x.time.getTime() <= t1).length;
    capacity = {
      seconds: secs,
      inbound: round(inCount / window, 1),
      outbound: round(outCount / window, 1),
      total: round((inCount + outCount) / window, 1),
      acceptedInbound: inRun.stats.okPerSecond,
      acceptedOutbound: outRun.stats.okPerSecond,
      cpu: runCpu(a, probe(), inCount + outCount),
    };
    rate = Math.max(1, Math.floor(capacity.total / 2));
    log(
      `e2e capacity (both directions offered at saturation for ${secs} s): ${capacity.total}/s delivered (${capacity.inbound} at Genesys, ${capacity.outbound} at Meta; ` +
        `webhooks accepted ${capacity.acceptedInbound}/s and ${capacity.acceptedOutbound}/s); phase 3 at half of it: ${rate} msg/s each way`,
    );
    await clearQueue(ctx.ownerUrl);
    // What was in flight when the queue was cleared lands now; the measured runs start after it.
    await sleep(2000);
    genesysArrivals();
    metaArrivals();
    rows.push(
      { phase: P, metric: `end-to-end capacity: deliveries/s, both directions at saturation for ${secs} s (at Genesys + at Meta)`, value: `${capacity.total} (${capacity.inbound} + ${capacity.outbound})`, unit: 'msg/s' },
      { phase: P, metric: 'end-to-end capacity: CPU per delivered message', value: cpuLine(capacity.cpu) },
    );
  }
  rows.push({
    phase: P,
    metric: 'load (each direction, one after the other)',
    value: `${rate} msg/s${capacity ? ' (half the capacity)' : ''} × ${cfg.e2eSeconds} s over ${convs.length} conversations of ${e2eTenants.length} tenants`,
  });

  // Inbound: webhook accepted (200 back at autocannon) → message at the Genesys simulator.
  const accepted = new Map<string, number>();
  const gStart = genesys.received.length;
  const cpuIn0 = probe();
  const commitsIn0 = await commits();
  const run = await runPaced({ label: 'e2e inbound', url: svc.gateway, connections: 20, seconds: cfg.e2eSeconds, rate: rate, request: inbound(accepted), probe });
  const arrived = await drain(accepted, genesysArrivals, cfg.e2eDrainSeconds);
  const inLat = e2eLatencies(accepted, arrived);
  const cpuIn = runCpu(cpuIn0, probe(), inLat.lat.length);
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
  const cpuOut0 = probe();
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
  const cpuOut = runCpu(cpuOut0, probe(), outLat.lat.length);
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
  return { rate, capacity, inbound: inbound3, outbound: outbound3 };
}
