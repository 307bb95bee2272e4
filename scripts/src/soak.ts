/**
 * `npm run soak`: a chaos run of a set length (SOAK_SECONDS, default 300; settings in config.ts). Steady two-way traffic
 * for several tenants while two genesys-connector processes drain the one queue, either connector
 * (for a moment, or past its leases so the other takes them over) and webhook-service are SIGKILLed and restarted, Redis
 * is restarted and, once, down for longer than Genesys retries a webhook (when the run is at
 * least 38 s), and Genesys fails or throttles for spells; webhooks are duplicated and statuses
 * sent out of order. Then a ledger of everything the simulators sent is checked against
 * everything delivered: lost, duplicated, reordered within a conversation, and cross-tenant must
 * all be 0, and every webhook acknowledged, or the run exits 1. Loopback only; bounded; stops by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { parseEnv } from '@bridge/shared';
import { buildStatus, buildTextMessage, startGenesysSimulator, startMetaSimulator, wamidOf } from '@bridge/simulators';
import { newBridgeTenant, onboardBridgeTenant, type BridgeTenant } from './bridge-tenant';
import { Cluster } from './cluster';
import { soakConfigSchema, type SoakConfig } from './config';
import { freePort, withDatabase } from './postgres';
import { prepareDatabase } from './system';

const out = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (min: number, max: number) => min + Math.random() * (max - min);
const since = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;

/** What the senders got acknowledged: the ledger's left side. */
interface Sent {
  tenant: string;
  waId: string;
  seq: number;
  /** Agent replies: the Genesys message id. */
  genesysId?: string;
}

/**
 * How long Redis stays down once per run: longer than Genesys's retry window for a webhook (5
 * retries, 5 s apart), so an agent reply accepted only once Redis is back would be lost.
 */
const LONG_REDIS_OUTAGE_MS = 32_000;

/**
 * genesys-connector processes draining the same outbox, as replicas in production would: the case
 * the outbox's fencing (attempt-fenced writes, LeaseLost) protects, since a killed one's claimed
 * jobs are re-claimed by the other once their lease (DELIVERY_LEASE_MS) runs out.
 */
const CONNECTORS = 2;
const LEASE_MS = 3_000;

/** A private Redis the soak may restart, when the machine has redis-server. */
async function startPrivateRedis(): Promise<{ url: string; restart(): Promise<void>; outage(ms: number): Promise<void>; stop(): void } | undefined> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await sleep(300);
  };
  await launch();
  let down = false;
  const downFor = async (ms: number) => {
    // A restart during the long outage would end it early: it is skipped.
    if (down) return;
    down = true;
    const c = child!;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
    await sleep(ms);
    await launch();
    down = false;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    restart: () => downFor(1_000),
    outage: downFor,
    stop() {
      child?.kill('SIGKILL');
    },
  };
}

async function freshDatabase(serverUrl: string, name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: withDatabase(serverUrl, name),
    async drop() {
      const c = new Client({ connectionString: withDatabase(serverUrl, 'postgres') });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function main(config: SoakConfig): Promise<number> {
  const { SOAK_SECONDS: seconds, SOAK_TENANTS: TENANTS, SOAK_CONVERSATIONS: CONVERSATIONS } = config;
  const t0 = Date.now();
  const log = (line: string) => out(`${since(t0)}  ${line}`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bridge-soak-'));
  chmodSync(dataDir, 0o755);
  const db = config.DATABASE_URL ? await freshDatabase(config.DATABASE_URL, `bridge_soak_${process.pid}`) : undefined;
  const redis = await startPrivateRedis();
  const redisUrl = redis?.url ?? config.REDIS_URL;
  const meta = await startMetaSimulator({ retryDelayMs: 100 });
  const genesys = await startGenesysSimulator({ retryDelayMs: 1_000 });
  let cluster: Cluster | undefined;
  let stopPostgres = async () => undefined as void;
  try {
    const prepared = await prepareDatabase(
      // The services' environment.
      {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        ...(db ? { DATABASE_URL: db.url } : {}),
        // The application role is cluster-wide: reuse its password when one is given.
        ...(config.DB_APP_PASSWORD ? { DB_APP_PASSWORD: config.DB_APP_PASSWORD } : {}),
        ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
        META_GRAPH_URL: meta.graphUrl,
        GENESYS_API_URL: genesys.url,
        GENESYS_LOGIN_URL: genesys.url,
        DELIVERY_RETRY_BASE_MS: '50',
        DELIVERY_RETRY_MAX_MS: '1000',
        DELIVERY_LEASE_MS: String(LEASE_MS),
        DELIVERY_POLL_MS: '100',
        BREAKER_RESET_MS: '1000',
        HTTP_TIMEOUT_MS: '10000',
      },
      dataDir,
    );
    stopPostgres = prepared.stopPostgres;
    cluster = await Cluster.start(prepared.serviceEnv, undefined, { 'genesys-connector': CONNECTORS });
    const connectors = cluster.instances('genesys-connector');
    const gateway = cluster.url('gateway');
    const adminUrl = cluster.url('tenant-service');
    log(`platform up (${prepared.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'}, ${redis ? 'private Redis (restarted during the run)' : redisUrl ? 'REDIS_URL (not restarted)' : 'no Redis'}); ${TENANTS} tenants × ${CONVERSATIONS} conversations for ${seconds} s; ${connectors.length} connector processes (${connectors.join(', ')})`);

    const tenants: BridgeTenant[] = [];
    for (let i = 0; i < TENANTS; i++) {
      const tenant = newBridgeTenant(`soak-${i}-${randomBytes(2).toString('hex')}`, `10654035224${String(1000 + i)}`);
      await onboardBridgeTenant({ adminUrl, adminKey: prepared.secrets.ADMIN_API_KEY, meta, genesys, tenant });
      tenants.push(tenant);
    }

    // ---- traffic ----
    const inbound = new Map<string, Sent>(); // wamid → what the customer sent (acknowledged)
    const outbound = new Map<string, Sent>(); // "agent <tenant> <waId> <seq>" → acknowledged agent reply
    const unacknowledged = { inbound: 0, outbound: 0 };
    const stats = { duplicatesSent: 0, statusesSent: 0, webhookRetries: 0 };
    let trafficOn = true;

    /** Meta's behaviour: retry a webhook with backoff until it is answered 200 (for days; here, until the run ends + 60 s). */
    async function deliverAsMeta(t: BridgeTenant, payload: object, duplicate = false): Promise<boolean> {
      const deadline = Date.now() + (seconds + 60) * 1000;
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        const res = await meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1, duplicate, timeoutMs: 5_000 });
        if (res.delivered) return true;
        stats.webhookRetries++;
        await sleep(Math.min(2_000, 100 * 2 ** attempt));
      }
      return false;
    }

    /** Conversations (`<tenant> <waId>`) whose customer has written: the agent answers only then (the 24-hour window). */
    const written = new Set<string>();

    async function customer(t: BridgeTenant, waId: string) {
      for (let seq = 1; trafficOn; seq++) {
        const payload = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, profileName: `Customer ${waId.slice(-3)}`, body: `customer ${t.tenantId} ${waId} ${seq}` });
        const duplicate = Math.random() < 0.1;
        if (duplicate) stats.duplicatesSent++;
        if (await deliverAsMeta(t, payload, duplicate)) {
          inbound.set(wamidOf(payload), { tenant: t.tenantId, waId, seq });
          written.add(`${t.tenantId} ${waId}`);
        } else unacknowledged.inbound++;
        await sleep(jitter(100, 400));
      }
    }

    async function agent(t: BridgeTenant, waId: string) {
      await sleep(jitter(200, 800));
      // The customer writes first: a free-form reply outside their 24-hour window would be refused.
      while (trafficOn && !written.has(`${t.tenantId} ${waId}`)) await sleep(50);
      for (let seq = 1; trafficOn; seq++) {
        const text = `agent ${t.tenantId} ${waId} ${seq}`;
        // Genesys retries 5 times; here with a longer spacing so a 2 s restart is survivable.
        const reply = await genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to: waId, text, retryDelayMs: 1_000, maxRetries: 8, duplicate: Math.random() < 0.1 });
        if (reply.delivered) outbound.set(text, { tenant: t.tenantId, waId, seq, genesysId: reply.id });
        else unacknowledged.outbound++;
        await sleep(jitter(300, 900));
      }
    }

    /** Meta's statuses for what was sent, out of order and sometimes twice. */
    async function statuses() {
      let done = 0;
      while (trafficOn) {
        const sends = meta.sent.slice(done);
        done += sends.length;
        for (const s of sends) {
          const t = tenants.find((x) => x.phoneNumberId === s.phoneNumberId);
          if (!t) continue;
          const order = Math.random() < 0.5 ? (['read', 'delivered'] as const) : (['delivered', 'read'] as const);
          for (const status of order) {
            stats.statusesSent++;
            void deliverAsMeta(t, buildStatus({ phoneNumberId: t.phoneNumberId, wamid: s.wamid, status, recipientId: s.body.to }), Math.random() < 0.1);
          }
        }
        await sleep(500);
      }
    }

    // ---- chaos ----
    const events: string[] = [];
    // Which connector the next kill takes: in turn, so each one is killed and each one, in turn,
    // keeps working alone.
    let nextConnector = 0;
    async function chaos() {
      /** SIGKILL one connector, and restart it after `downMs` (the other keeps draining meanwhile). */
      const killConnector = (downMs: () => number) => async () => {
        const name = connectors[nextConnector++ % connectors.length];
        log(`       ${name} killed (pid ${cluster!.pid(name)}); still running: ${connectors.filter((c) => c !== name).join(', ')}`);
        await cluster!.kill(name);
        await sleep(downMs());
        await cluster!.restart(name);
      };
      const actions: Array<[string, () => Promise<void>]> = [
        ['SIGKILL a genesys-connector, restart', killConnector(() => jitter(500, 2_000))],
        ['SIGKILL webhook-service, restart', async () => {
          await cluster!.kill('webhook-service');
          await sleep(jitter(500, 2_000));
          await cluster!.restart('webhook-service');
        }],
        // Down past the lease: its claimed jobs are re-claimed by the other connector.
        [`SIGKILL a genesys-connector, the other takes over its leases (down ${(LEASE_MS + 1_500) / 1000} s)`, killConnector(() => LEASE_MS + 1_500)],
        ['Genesys answers 500 for 3 s (one tenant)', async () => {
          const t = tenants[Math.floor(Math.random() * tenants.length)];
          genesys.failNext(1_000_000, { status: 500, integrationId: t.integrationId });
          await sleep(3_000);
          genesys.clearFaults();
        }],
        ['Genesys throttles (429, Retry-After 1) for 3 s', async () => {
          genesys.failNext(1_000_000, { status: 429, retryAfterSeconds: 1 });
          await sleep(3_000);
          genesys.clearFaults();
        }],
        ...(redis
          ? ([['restart Redis', async () => {
              await redis.restart();
            }]] as Array<[string, () => Promise<void>]>)
          : []),
      ];
      let i = 0;
      await sleep(3_000);
      while (trafficOn) {
        const [name, act] = actions[i++ % actions.length];
        log(`chaos: ${name}`);
        events.push(name);
        await act();
        cluster!.sample();
        // A short run (the 40 s one in npm test) packs its events closer, so every kind of event,
        // both connectors' kills included, happens before the traffic stops even on a loaded machine.
        await sleep(seconds < 60 ? jitter(1_000, 2_500) : jitter(2_000, 5_000));
      }
    }

    /** Once per run, when it fits before the traffic stops: Redis down for LONG_REDIS_OUTAGE_MS. */
    async function longRedisOutage() {
      if (!redis || seconds * 1000 < LONG_REDIS_OUTAGE_MS + 6_000) return;
      // Early in a short run (over by 36 s of a 40 s one), a third of the way into a long one.
      await sleep(Math.max(4_000, (seconds * 1000 - LONG_REDIS_OUTAGE_MS) / 3));
      const name = `Redis down ${LONG_REDIS_OUTAGE_MS / 1000} s (longer than Genesys's webhook retries)`;
      log(`chaos: ${name}`);
      events.push(name);
      await redis.outage(LONG_REDIS_OUTAGE_MS);
      log('chaos: Redis back');
    }

    const workers: Array<Promise<void>> = [];
    for (const t of tenants) {
      for (let c = 0; c < CONVERSATIONS; c++) {
        const waId = `1650555${String(tenants.indexOf(t)).padStart(2, '0')}${String(c).padStart(2, '0')}`;
        workers.push(customer(t, waId), agent(t, waId));
      }
    }
    workers.push(statuses());
    const chaosDone = Promise.all([chaos(), longRedisOutage()]);
    const sampler = setInterval(() => cluster!.sample(), 1_000);
    await sleep(seconds * 1000);
    trafficOn = false;
    log('traffic stopped; waiting for the last acknowledgements');
    await chaosDone;
    genesys.clearFaults();
    meta.clearFaults();
    await Promise.all(workers);
    clearInterval(sampler);

    // ---- drain ----
    log(`draining: ${inbound.size} customer messages and ${outbound.size} agent replies acknowledged`);
    const delivered = () => {
      const atGenesys = new Set(genesys.messages().map((m) => m.body.channel.messageId));
      const atMeta = new Set(meta.sent.map((s) => (s.body as { text?: { body?: string } }).text?.body));
      return [...inbound.keys()].every((w) => atGenesys.has(w)) && [...outbound.keys()].every((t) => atMeta.has(t));
    };
    const drainEnd = Date.now() + 90_000;
    while (!delivered() && Date.now() < drainEnd) await sleep(250);
    await sleep(1_000); // late duplicates, if any, would arrive now

    // ---- ledger ----
    // Messages the bridge itself marked as attempted again after an attempt with an unknown
    // outcome (a SIGKILL between a provider accepting it and the commit, or a timeout): the only
    // ones allowed to arrive twice, since neither API takes an idempotency key.
    const uncertain = await (async () => {
      const c = new Client({ connectionString: prepared.ownerUrl });
      await c.connect();
      try {
        const { rows } = await c.query<{ wamid: string | null; genesys_message_id: string | null }>(
          'SELECT wamid, genesys_message_id FROM message_tracking WHERE uncertain_attempts > 0',
        );
        return new Set(rows.flatMap((r) => [r.wamid, r.genesys_message_id].filter((x): x is string => !!x)));
      } finally {
        await c.end();
      }
    })();
    const tenantOfIntegration = new Map(tenants.map((t) => [t.integrationId, t.tenantId]));
    const tenantOfNumber = new Map(tenants.map((t) => [t.phoneNumberId, t]));
    const ledger = { lost: 0, duplicated: 0, duplicatedInDoubt: 0, reordered: 0, crossTenant: 0 };
    const detail: string[] = [];

    /**
     * One direction of the ledger: every acknowledged message (`key` → what was sent) against the
     * copies that arrived, checked for loss, misrouting, duplicates (apart from those the bridge
     * flagged uncertain) and order within its conversation (by first arrival).
     */
    function tally<C extends { time: number }>(
      who: string,
      sentMessages: Map<string, Sent>,
      arrivedByKey: Map<string, C[]>,
      misrouted: (s: Sent, copy: C) => boolean,
      flaggedUncertain: (key: string, s: Sent) => boolean,
    ) {
      const lastSeq = new Map<string, number>();
      const arrivals = [...sentMessages.entries()]
        .map(([key, s]) => ({ key, s, copies: arrivedByKey.get(key) ?? [] }))
        .sort((a, b) => (a.copies[0]?.time ?? Infinity) - (b.copies[0]?.time ?? Infinity));
      for (const { key, s, copies } of arrivals) {
        const label = `${who} ${s.tenant} ${s.waId} #${s.seq}`;
        if (copies.length === 0) {
          ledger.lost++;
          detail.push(`lost: ${label}`);
          continue;
        }
        if (copies.some((c) => misrouted(s, c))) {
          ledger.crossTenant++;
          detail.push(`cross-tenant: ${label}`);
        }
        if (copies.length > 1) {
          if (flaggedUncertain(key, s)) ledger.duplicatedInDoubt += copies.length - 1;
          else {
            ledger.duplicated += copies.length - 1;
            detail.push(`duplicated ×${copies.length}: ${label}`);
          }
        }
        const conversation = `${s.tenant}/${s.waId}`;
        if ((lastSeq.get(conversation) ?? 0) > s.seq) {
          ledger.reordered++;
          detail.push(`reordered: ${label} after #${lastSeq.get(conversation)}`);
        }
        lastSeq.set(conversation, Math.max(lastSeq.get(conversation) ?? 0, s.seq));
      }
    }

    const group = <C>(items: Array<[string | undefined, C]>) => {
      const map = new Map<string, C[]>();
      for (const [key, item] of items) {
        if (!key) continue;
        const list = map.get(key);
        if (list) list.push(item);
        else map.set(key, [item]);
      }
      return map;
    };

    // Customer → Genesys, by wamid.
    tally(
      'customer',
      inbound,
      group(genesys.messages().map((m) => [m.body.channel.messageId, { integrationId: m.integrationId, time: new Date(m.time).getTime() }])),
      (s, c) => tenantOfIntegration.get(c.integrationId) !== s.tenant,
      (wamid) => uncertain.has(wamid),
    );
    // Agent → WhatsApp, by text (the right number, with the tenant's own token, to the right customer).
    tally(
      'agent',
      outbound,
      group(
        meta.sent.map((send) => [
          (send.body as { text?: { body?: string } }).text?.body,
          { phoneNumberId: send.phoneNumberId, token: send.token, to: send.body.to, time: new Date(send.time).getTime() },
        ]),
      ),
      (s, c) => tenantOfNumber.get(c.phoneNumberId)?.tenantId !== s.tenant || tenantOfNumber.get(c.phoneNumberId)?.accessToken !== c.token || c.to !== s.waId,
      (_text, s) => !!s.genesysId && uncertain.has(s.genesysId),
    );

    const receipts = genesys.receipts().length;
    out('');
    out(`Soak: ${seconds} s, ${tenants.length} tenants, ${tenants.length * CONVERSATIONS} conversations, ${connectors.length} connector processes, ${events.length} chaos events (${[...new Set(events)].join('; ')})`);
    out(`  customer messages acknowledged  ${inbound.size}   (duplicate webhooks sent: ${stats.duplicatesSent}; webhook retries: ${stats.webhookRetries}; never acknowledged: ${unacknowledged.inbound})`);
    out(`  agent replies acknowledged      ${outbound.size}   (never acknowledged: ${unacknowledged.outbound})`);
    out(`  statuses sent (shuffled)        ${stats.statusesSent};  receipts at Genesys: ${receipts}`);
    out(`  peak RSS (MB)                   ${Object.entries(cluster.peakRss()).map(([n, v]) => `${n} ${v.peakMb}${v.restarts ? ` (${v.restarts} restarts)` : ''}`).join(', ')}`);
    out('');
    out(`  lost           ${ledger.lost}`);
    out(`  duplicated     ${ledger.duplicated}`);
    out(`  reordered      ${ledger.reordered}`);
    out(`  cross-tenant   ${ledger.crossTenant}`);
    out(`  (plus ${ledger.duplicatedInDoubt} extra copies of the ${uncertain.size} messages the bridge itself flagged uncertain_attempts > 0: attempts cut off by`);
    out('   SIGKILL or a timeout after the provider may have accepted them — at-least-once without idempotency keys, see README)');
    for (const line of detail.slice(0, 20)) out(`    ${line}`);
    // An agent reply Genesys gave up on is lost for good: every one must be acknowledged.
    const failed =
      ledger.lost + ledger.duplicated + ledger.reordered + ledger.crossTenant + unacknowledged.inbound + unacknowledged.outbound > 0 || inbound.size === 0 || outbound.size === 0;
    out('');
    out(failed ? 'SOAK FAILED' : 'SOAK PASSED');
    return failed ? 1 : 0;
  } finally {
    await cluster?.stop().catch(() => undefined);
    await stopPostgres();
    await Promise.allSettled([meta.close(), genesys.close()]);
    redis?.stop();
    await db?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function run(): Promise<number> {
  const config = parseEnv(soakConfigSchema);
  // A hard stop, whatever happens: the run is bounded.
  setTimeout(() => {
    process.stderr.write('soak: hard time limit reached\n');
    process.exit(2);
  }, (config.SOAK_SECONDS + 240) * 1000).unref();
  return main(config);
}

run().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`Soak failed to run: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);


