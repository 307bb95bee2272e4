/**
 * `npm run soak`: a chaos run of a set length (SOAK_SECONDS, default 300; settings in config.ts,
 * also as options: `npm run soak -- --replicas 2`). Steady two-way traffic for several tenants
 * while two genesys-connector processes drain the one queue, either connector (for a moment, or
 * past its leases so the other takes them over) and webhook-service are SIGKILLed and restarted,
 * Redis is restarted and, once, down for longer than Genesys retries a webhook (when the run is
 * at least 38 s), and Genesys fails or throttles for spells; webhooks are duplicated and statuses
 * sent out of order. With SOAK_REPLICAS ≥ 2, every service runs as that many processes behind
 * round-robin TCP fronts (front.ts; the simulators' webhooks reach the gateways through theirs),
 * and chaos also SIGKILLs and SIGTERMs replicas of every service in turn, while the other replica
 * serves. Then a ledger of everything the simulators sent is checked against everything
 * delivered: lost, duplicated, reordered within a conversation (whichever connector delivered
 * it), and cross-tenant must all be 0, and every webhook acknowledged; an API key revoked
 * mid-run must be refused by every gateway within REVOCATION_BOUND_MS (also during the Redis
 * outage), and a tenant's rate limit, hit through every gateway in turn, must not be exceeded
 * (counted in the shared Redis); or the run exits 1. Traffic runs SOAK_SECONDS, and longer when a
 * loaded machine has not fitted every kind of chaos event and check in by then. Loopback only;
 * bounded; stops by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { parseEnv } from '@bridge/shared';
import { buildStatus, buildTextMessage, startGenesysSimulator, startMetaSimulator, wamidOf } from '@bridge/simulators';
import { newBridgeTenant, onboardBridgeTenant, type BridgeTenant } from './bridge-tenant';
import { Cluster, GRACE_MS, servicePort, type InstanceName } from './cluster';
import { soakArgs, soakConfigSchema, type SoakConfig } from './config';
import { withDatabase } from './postgres';
import { redisAnswers } from './redis-ping';
import { prepareDatabase, SERVICES, type ServiceName } from './system';

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

/**
 * The longest a gateway may go on accepting an API key after its revocation was answered 204:
 * the shared cache is overwritten right after the commit (tenant-directory.ts), and with Redis
 * down every gateway reads PostgreSQL, so the key should be refused by the very next request; the
 * bound leaves room for a loaded machine, and is far below the cache's 60 s TTL (what a replica
 * that missed the change would fall back on).
 */
const REVOCATION_BOUND_MS = 5_000;

/** The rate limit (requests per minute) of the tenant the rate-limit check uses, and how many requests it sends at least. */
const CHECK_RATE_LIMIT = 20;
const CHECK_REQUESTS = 3 * CHECK_RATE_LIMIT;

/** Services whose replicas chaos SIGKILLs in turn (a random replica each time; the connectors have their own kills). */
const KILL_TURNS: ServiceName[] = ['webhook-service', 'gateway', 'tenant-service', 'state-manager', 'auth-service'];
/** Services whose replicas chaos SIGTERMs in turn. */
const TERM_TURNS: ServiceName[] = ['gateway', 'genesys-connector', 'webhook-service', 'auth-service', 'state-manager', 'tenant-service'];

/** Polls `condition` every `everyMs` until it holds; throws naming `what` after `ms`. */
async function until(what: string, condition: () => Promise<boolean> | boolean, ms = 60_000, everyMs = 100): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * A plain HTTP proxy to a simulator's API, one per connector process (its GENESYS_API_URL and
 * META_GRAPH_URL), counting the POSTs each one makes and handing their bodies to `onPost`: how
 * the soak knows that both connectors delivered from the one queue, and which delivered what.
 */
async function countingProxy(target: string, onPost: (body: Buffer) => void): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const to = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const counter = { requests: 0 };
  const server = http.createServer((req, res) => {
    const post = req.method === 'POST';
    if (post) counter.requests++;
    const up = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      if (post) chunks.push(d);
      up.write(d);
    });
    req.on('end', () => {
      up.end();
      if (post) onPost(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    // The target's path too (the Graph API's version).
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}${to.pathname.replace(/\/$/, '')}`,
    get requests() {
      return counter.requests;
    },
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A private Redis the soak may restart, when the machine has redis-server. */
async function startPrivateRedis(): Promise<{ url: string; restart(): Promise<void>; outage(ms: number): Promise<void>; readonly down: boolean; stop(): void } | undefined> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  // Restarted on the same port: one outside the ephemeral range (see servicePort).
  const port = await servicePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until('redis-server to answer', () => redisAnswers(`redis://127.0.0.1:${port}`), 30_000, 50);
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
    get down() {
      return down;
    },
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
  const { SOAK_SECONDS: seconds, SOAK_TENANTS: TENANTS, SOAK_CONVERSATIONS: CONVERSATIONS, SOAK_REPLICAS: REPLICAS } = config;
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
  const taps = new Map<InstanceName, { genesys: Awaited<ReturnType<typeof countingProxy>>; meta: Awaited<ReturnType<typeof countingProxy>> }>();
  /** What each connector posted: wamids to Genesys, agent reply texts to Meta (resolved to conversations in the ledger). */
  const postedBy: Array<{ connector: InstanceName; wamid?: string; text?: string }> = [];
  const parse = (body: Buffer): Record<string, unknown> => {
    try {
      return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
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
        // A SIGTERMed replica's grace for what it has in flight, short like the lease: chaos waits for it.
        SHUTDOWN_GRACE_MS: '3000',
        DELIVERY_POLL_MS: '100',
        BREAKER_RESET_MS: '1000',
        HTTP_TIMEOUT_MS: '10000',
      },
      dataDir,
    );
    stopPostgres = prepared.stopPostgres;
    // Every service REPLICAS times (the connector at least CONNECTORS times); each connector
    // reaches the Genesys and Meta APIs through counting proxies of its own.
    const replicas: Partial<Record<ServiceName, number>> = Object.fromEntries(SERVICES.map((s) => [s.name, REPLICAS]));
    replicas['genesys-connector'] = Math.max(CONNECTORS, REPLICAS);
    for (let n = 1; n <= replicas['genesys-connector']; n++) {
      const connector: InstanceName = n === 1 ? 'genesys-connector' : `genesys-connector-${n}`;
      taps.set(connector, {
        genesys: await countingProxy(genesys.url, (body) => {
          const wamid = (parse(body).channel as { messageId?: string } | undefined)?.messageId;
          if (wamid) postedBy.push({ connector, wamid });
        }),
        meta: await countingProxy(meta.graphUrl, (body) => {
          const text = (parse(body).text as { body?: string } | undefined)?.body;
          if (text) postedBy.push({ connector, text });
        }),
      });
    }
    cluster = await Cluster.start(prepared.serviceEnv, undefined, replicas, (name) => {
      const tap = taps.get(name);
      return tap ? { GENESYS_API_URL: tap.genesys.url, META_GRAPH_URL: tap.meta.url } : {};
    });
    const connectors = cluster.instances('genesys-connector');
    const gateways = cluster.instances('gateway');
    // The simulators and the admin reach the platform as clients would: through the fronts.
    const gateway = cluster.serviceUrl('gateway');
    const adminUrl = cluster.serviceUrl('tenant-service');
    const adminKey = prepared.secrets.ADMIN_API_KEY;
    log(
      `platform up (${prepared.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'}, ${redis ? 'private Redis (restarted during the run)' : redisUrl ? 'REDIS_URL (not restarted)' : 'no Redis'}); ` +
        `${TENANTS} tenants × ${CONVERSATIONS} conversations for ${seconds} s; ${connectors.length} connector processes (${connectors.join(', ')})` +
        (REPLICAS > 1 ? `; ${REPLICAS} processes of every other service, each behind a round-robin TCP front` : ''),
    );

    const tenants: BridgeTenant[] = [];
    for (let i = 0; i < TENANTS; i++) {
      const tenant = newBridgeTenant(`soak-${i}-${randomBytes(2).toString('hex')}`, `10654035224${String(1000 + i)}`);
      await onboardBridgeTenant({ adminUrl, adminKey, meta, genesys, tenant });
      tenants.push(tenant);
    }
    // The rate-limit check's own tenant: nothing but a low limit and a key that may read its stats.
    const limited = newBridgeTenant(`soak-limit-${randomBytes(2).toString('hex')}`, '106540352249999');
    const { apiKey: limitedKey } = await onboardBridgeTenant({ adminUrl, adminKey, meta, genesys, tenant: limited, tenantFields: { rateLimit: CHECK_RATE_LIMIT } });

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
    /** Redis restarts wait while a check counts in Redis (the rate-limit check). */
    let redisHolds = 0;
    // Which connector the next kill takes: in turn, so each one is killed and each one, in turn,
    // keeps working alone.
    let nextConnector = 0;
    let killTurn = 0;
    let termTurn = 0;
    const randomInstance = (service: ServiceName) => {
      const list = cluster!.instances(service);
      return list[Math.floor(Math.random() * list.length)];
    };
    const othersOf = (name: InstanceName) => {
      const service = SERVICES.find((x) => name === x.name || name.startsWith(`${x.name}-`))!.name;
      return cluster!.instances(service).filter((n) => n !== name);
    };
    /** Restarts a stopped process, again if it does not come up (a loaded machine). */
    async function restart(name: InstanceName) {
      for (let attempt = 1; ; attempt++) {
        try {
          await cluster!.restart(name);
          return;
        } catch (err) {
          log(`       ${name} did not start (attempt ${attempt}): ${(err as Error).message.split('\n')[0]}`);
          if (attempt >= 3) throw err;
        }
      }
    }
    async function chaos(cycleDone: () => void) {
      /** SIGKILL one connector, and restart it after `downMs` (the other keeps draining meanwhile). */
      const killConnector = (downMs: () => number) => async () => {
        const name = connectors[nextConnector++ % connectors.length];
        log(`       ${name} killed (pid ${cluster!.pid(name)}); still running: ${connectors.filter((c) => c !== name).join(', ')}`);
        await cluster!.kill(name);
        await sleep(downMs());
        await restart(name);
      };
      /** SIGKILL a random replica of the next service in KILL_TURNS; restart it (its other replica serves meanwhile). */
      const killReplica = async () => {
        const name = randomInstance(KILL_TURNS[killTurn++ % KILL_TURNS.length]);
        log(`       ${name} killed (pid ${cluster!.pid(name)}); still running: ${othersOf(name).join(', ')}`);
        await cluster!.kill(name);
        await sleep(jitter(500, 2_000));
        await restart(name);
      };
      /** SIGTERM a random replica of the next service in TERM_TURNS (SIGKILL if it has not exited after GRACE_MS); restart it. */
      const terminateReplica = async () => {
        const name = randomInstance(TERM_TURNS[termTurn++ % TERM_TURNS.length]);
        log(`       ${name} sent SIGTERM (pid ${cluster!.pid(name)}); still running: ${othersOf(name).join(', ')}`);
        const stopped = await cluster!.kill(name, 'SIGTERM');
        log(`       ${name} ${stopped.forced ? `had not exited ${GRACE_MS / 1000} s after SIGTERM: SIGKILLed` : `exited ${stopped.ms} ms after SIGTERM`}`);
        await sleep(jitter(500, 1_500));
        await restart(name);
      };
      const connectorKill: [string, () => Promise<void>] = ['SIGKILL a genesys-connector, restart', killConnector(() => jitter(500, 2_000))];
      // Down past the lease: its claimed jobs are re-claimed by the other connector.
      const leaseKill: [string, () => Promise<void>] = [
        `SIGKILL a genesys-connector, the other takes over its leases (down ${(LEASE_MS + 1_500) / 1000} s)`,
        killConnector(() => LEASE_MS + 1_500),
      ];
      const genesys500: [string, () => Promise<void>] = [
        'Genesys answers 500 for 3 s (one tenant)',
        async () => {
          const t = tenants[Math.floor(Math.random() * tenants.length)];
          genesys.failNext(1_000_000, { status: 500, integrationId: t.integrationId });
          await sleep(3_000);
          genesys.clearFaults();
        },
      ];
      const genesys429: [string, () => Promise<void>] = [
        'Genesys throttles (429, Retry-After 1) for 3 s',
        async () => {
          genesys.failNext(1_000_000, { status: 429, retryAfterSeconds: 1 });
          await sleep(3_000);
          genesys.clearFaults();
        },
      ];
      const redisRestart: Array<[string, () => Promise<void>]> = redis
        ? [
            [
              'restart Redis',
              async () => {
                await until('the rate-limit check to finish counting in Redis', () => redisHolds === 0, 120_000);
                await redis.restart();
              },
            ],
          ]
        : [];
      const actions: Array<[string, () => Promise<void>]> =
        REPLICAS > 1
          ? [
              connectorKill,
              ['SIGKILL a replica (webhook-service, gateway, tenant-service, state-manager, auth-service in turn), restart', killReplica],
              leaseKill,
              genesys500,
              ['SIGTERM a replica (gateway, genesys-connector, webhook-service, auth-service, state-manager, tenant-service in turn), restart', terminateReplica],
              genesys429,
              ...redisRestart,
            ]
          : [
              connectorKill,
              [
                'SIGKILL webhook-service, restart',
                async () => {
                  await cluster!.kill('webhook-service');
                  await sleep(jitter(500, 2_000));
                  await restart('webhook-service');
                },
              ],
              leaseKill,
              genesys500,
              genesys429,
              ...redisRestart,
            ];
      let i = 0;
      await sleep(3_000);
      while (trafficOn) {
        const [name, act] = actions[i++ % actions.length];
        log(`chaos: ${name}`);
        events.push(name);
        await act();
        cluster!.sample();
        if (i === actions.length) cycleDone();
        // A short run (the 40 s one in npm test) packs its events closer.
        await sleep(seconds < 60 ? jitter(1_000, 2_500) : jitter(2_000, 5_000));
      }
    }

    /** Once per run, when it fits before the traffic stops: Redis down for LONG_REDIS_OUTAGE_MS. */
    let outageStarted = () => undefined as void;
    const outageStart = new Promise<void>((r) => (outageStarted = r));
    async function longRedisOutage() {
      if (!redis || seconds * 1000 < LONG_REDIS_OUTAGE_MS + 6_000) return;
      // Early in a short run (over by 36 s of a 40 s one), a third of the way into a long one.
      await sleep(Math.max(4_000, (seconds * 1000 - LONG_REDIS_OUTAGE_MS) / 3));
      const name = `Redis down ${LONG_REDIS_OUTAGE_MS / 1000} s (longer than Genesys's webhook retries)`;
      log(`chaos: ${name}`);
      events.push(name);
      const outage = redis.outage(LONG_REDIS_OUTAGE_MS);
      outageStarted();
      await outage;
      log('chaos: Redis back');
    }

    // ---- checks across gateways ----
    /** Why the last statsStatus call got no answer, by gateway process. */
    const noAnswer = new Map<InstanceName, string>();
    /** GET /state/stats with `key` from one gateway process: its status, or undefined when it did not answer (down, restarting). */
    async function statsStatus(name: InstanceName, key: string): Promise<number | undefined> {
      try {
        const res = await fetch(`${cluster!.url(name)}/state/stats`, { headers: { 'X-API-Key': key }, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        return res.status;
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        noAnswer.set(name, e.cause?.code ?? e.name);
        return undefined;
      }
    }
    /** An admin API call through tenant-service's front, again while no replica answers it (chaos). */
    async function admin(method: string, route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
      const end = Date.now() + 60_000;
      // A DELETE whose earlier attempt was cut may have deleted already: its 404 is a success.
      let cut = false;
      for (;;) {
        try {
          const res = await fetch(`${adminUrl}${route}`, {
            method,
            headers: { Authorization: `Bearer ${adminKey}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
            body: body ? JSON.stringify(body) : undefined,
            signal: AbortSignal.timeout(10_000),
          });
          const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
          if (res.status === 404 && method === 'DELETE' && cut) return { status: 204, json };
          if (res.status < 500) return { status: res.status, json };
          if (Date.now() > end) throw new Error(`${method} ${route} → ${res.status} ${JSON.stringify(json)}`);
        } catch (err) {
          if (Date.now() > end) throw err;
        }
        cut = true;
        await sleep(250);
      }
    }

    const revocation = { checks: 0, duringOutage: 0, slowestMs: 0, breaches: 0, unverified: 0 };
    /**
     * An API key every gateway has just served (so each holds it in its caches), revoked; then each
     * gateway process asked with it until it refuses (401). A 200 to a request sent more than
     * REVOCATION_BOUND_MS after the revocation's 204 is a breach, as is a 200 after a refusal; a
     * gateway that does not answer for 60 s (chaos) leaves the check unverified.
     */
    async function revocationCheck(label: string) {
      const t = tenants[0];
      const created = await admin('POST', `/tenants/${t.tenantId}/api-keys`, { name: `soak revocation ${label}`, scopes: ['stats:read'] });
      if (created.status !== 201) throw new Error(`creating the revocation check's key → ${created.status} ${JSON.stringify(created.json)}`);
      const key = created.json.apiKey as string;
      for (const g of gateways) await until(`${g} to serve a new API key`, async () => (await statsStatus(g, key)) === 200, 60_000, 200);
      const during = !!redis?.down;
      const revoked = await admin('DELETE', `/tenants/${t.tenantId}/api-keys/${created.json.id as string}`);
      if (revoked.status !== 204) throw new Error(`revoking the check's key → ${revoked.status}`);
      const at = Date.now();
      const refusedAfter: string[] = [];
      for (const g of gateways) {
        const end = at + 60_000;
        let refused: number | undefined;
        while (refused === undefined && Date.now() < end) {
          const sent = Date.now();
          const status = await statsStatus(g, key);
          if (status === 401) refused = Date.now() - at;
          else {
            if (status === 200 && sent - at > REVOCATION_BOUND_MS) revocation.breaches++;
            await sleep(100);
          }
        }
        if (refused === undefined) {
          revocation.unverified++;
          continue;
        }
        revocation.slowestMs = Math.max(revocation.slowestMs, refused);
        refusedAfter.push(`${g} ${refused} ms`);
      }
      // And it stays refused (a gateway must not put the revoked key back in the cache).
      await sleep(1_000);
      for (const g of gateways) if ((await statsStatus(g, key)) === 200) revocation.breaches++;
      revocation.checks++;
      if (during) revocation.duringOutage++;
      log(`check: API key revoked ${during ? 'during the Redis outage' : 'with Redis up'}: refused by ${refusedAfter.join(', ') || 'no gateway'} after the 204`);
    }

    const rateCheck = { ran: false, accepted: 0, byGateway: {} as Record<string, { ok: number; limited: number; other: number }>, otherStatuses: [] as string[], spanMs: 0, sent: 0 };
    /**
     * A tenant limited to CHECK_RATE_LIMIT requests a minute asked CHECK_REQUESTS times or more, from every
     * gateway process in turn, with Redis up and every gateway counting in it (each one's /ready
     * says redis ok) and Redis left alone meanwhile: at most the limit may be accepted over all of
     * them (each counting on its own would accept the limit each), and each must refuse some.
     */
    async function rateLimitCheck() {
      if (!redisUrl) {
        log('check: rate limit across gateways skipped: no Redis (each gateway counts in its own process)');
        return;
      }
      redisHolds++;
      try {
        log('check: rate limit across gateways: waiting for Redis and for every gateway to count in it');
        await until('Redis to be up', async () => !redis?.down, 120_000, 200);
        for (const g of gateways) {
          await until(
            `${g} to count in Redis again`,
            async () => {
              try {
                const res = await fetch(`${cluster!.url(g)}/ready`, { signal: AbortSignal.timeout(5_000) });
                return ((await res.json()) as { checks?: { redis?: string } }).checks?.redis === 'ok';
              } catch {
                return false;
              }
            },
            120_000,
            200,
          );
        }
        for (const g of gateways) rateCheck.byGateway[g] = { ok: 0, limited: 0, other: 0 };
        // Six at a time (three per gateway with two): CHECK_REQUESTS, and more while a gateway has
        // not refused one yet (it may have been down: chaos goes on), but all within 50 s of the
        // first, inside the limit's one-minute window (a new window would rightly accept more).
        const began = Date.now();
        const refusedByEach = () => Object.values(rateCheck.byGateway).every((t) => t.limited > 0);
        for (let i = 0; (i < CHECK_REQUESTS || !refusedByEach()) && Date.now() - began < 50_000; i += 6) {
          await Promise.all(
            Array.from({ length: 6 }, async (_, k) => {
              const g = gateways[(i + k) % gateways.length];
              const status = await statsStatus(g, limitedKey);
              const tally = rateCheck.byGateway[g];
              if (status === 200) tally.ok++;
              else if (status === 429) tally.limited++;
              else {
                tally.other++;
                rateCheck.otherStatuses.push(`${g} ${status ?? `no answer (${noAnswer.get(g)})`}`);
              }
            }),
          );
        }
        rateCheck.spanMs = Date.now() - began;
        rateCheck.accepted = Object.values(rateCheck.byGateway).reduce((sum, t) => sum + t.ok, 0);
        rateCheck.ran = true;
        rateCheck.sent = Object.values(rateCheck.byGateway).reduce((sum, t) => sum + t.ok + t.limited + t.other, 0);
        log(`check: rate limit ${CHECK_RATE_LIMIT}/min across ${gateways.join(', ')}: ${rateCheck.accepted} of ${rateCheck.sent} accepted in ${(rateCheck.spanMs / 1000).toFixed(1)} s (${Object.entries(rateCheck.byGateway).map(([g, t]) => `${g} ${t.ok} ok, ${t.limited} refused${t.other ? `, ${t.other} other` : ''}`).join('; ')})${rateCheck.otherStatuses.length ? `; other answers: ${[...new Set(rateCheck.otherStatuses)].join(', ')}` : ''}`);
      } finally {
        redisHolds--;
      }
    }

    /** The checks: a revocation during the long Redis outage (when there is one), then one with Redis up, then the rate limit. */
    async function checks() {
      if (redis && seconds * 1000 >= LONG_REDIS_OUTAGE_MS + 6_000) {
        await outageStart;
        await sleep(3_000);
        if (redis.down) await revocationCheck('during the outage');
        await until('Redis to be back', async () => !redis.down, 120_000, 200);
      } else {
        await sleep((seconds * 1000) / 3);
      }
      await revocationCheck('with Redis up');
      await rateLimitCheck();
    }

    const trafficStart = Date.now();
    const workers: Array<Promise<void>> = [];
    for (const t of tenants) {
      for (let c = 0; c < CONVERSATIONS; c++) {
        const waId = `1650555${String(tenants.indexOf(t)).padStart(2, '0')}${String(c).padStart(2, '0')}`;
        workers.push(customer(t, waId), agent(t, waId));
      }
    }
    workers.push(statuses());
    let cycleDone = () => undefined as void;
    const firstCycle = new Promise<void>((r) => (cycleDone = r));
    const chaosDone = Promise.all([chaos(cycleDone), longRedisOutage()]);
    const checksDone = checks();
    // Neither may end the run early: a failure is reported once the traffic has stopped.
    chaosDone.catch(() => undefined);
    checksDone.catch(() => undefined);
    // A process that exits on its own (a crash) is reported and restarted, as Kubernetes restarts a pod's container.
    let crashesSeen = 0;
    const sampler = setInterval(() => {
      cluster!.sample();
      for (const crash of cluster!.crashes.slice(crashesSeen)) {
        crashesSeen++;
        log(`       ${crash.name} EXITED ON ITS OWN (${crash.signal ?? `code ${crash.code}`}): ${crash.stderr.trim().split('\n').slice(-3).join(' | ') || 'no stderr'}; restarting it`);
        void restart(crash.name).catch((err: Error) => log(`       ${crash.name} could not be restarted: ${err.message.split('\n')[0]}`));
      }
    }, 1_000);
    // SOAK_SECONDS, and longer on a machine too loaded to fit one round of every chaos event and the checks in.
    await Promise.all([sleep(seconds * 1000), Promise.race([firstCycle, chaosDone]), checksDone]);
    const trafficSeconds = (Date.now() - trafficStart) / 1000;
    trafficOn = false;
    log('traffic stopped; waiting for the last acknowledgements');
    await chaosDone;
    await checksDone;
    genesys.clearFaults();
    meta.clearFaults();
    await Promise.all(workers);
    clearInterval(sampler);

    // ---- drain ----
    log(`draining: ${inbound.size} customer messages and ${outbound.size} agent replies acknowledged`);
    /** How many acknowledged messages have not arrived yet. */
    const undelivered = () => {
      const atGenesys = new Set(genesys.messages().map((m) => m.body.channel.messageId));
      const atMeta = new Set(meta.sent.map((s) => (s.body as { text?: { body?: string } }).text?.body));
      return [...inbound.keys()].filter((w) => !atGenesys.has(w)).length + [...outbound.keys()].filter((t) => !atMeta.has(t)).length;
    };
    // Until everything has arrived, as long as deliveries keep arriving (a loaded machine drains
    // slowly): given up after 60 s without one, or 5 minutes in all.
    const drainEnd = Date.now() + 300_000;
    let left = undelivered();
    let progressAt = Date.now();
    while (left > 0 && Date.now() < drainEnd && Date.now() - progressAt < 60_000) {
      await sleep(250);
      const now = undelivered();
      if (now < left) progressAt = Date.now();
      left = now;
    }
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
    out(
      `Soak: ${seconds} s (traffic ${trafficSeconds.toFixed(0)} s), ${tenants.length} tenants, ${tenants.length * CONVERSATIONS} conversations, ` +
        `${connectors.length} connector processes, ${REPLICAS} of every other service, ${events.length} chaos events (${[...new Set(events)].join('; ')})`,
    );
    out(`  customer messages acknowledged  ${inbound.size}   (duplicate webhooks sent: ${stats.duplicatesSent}; webhook retries: ${stats.webhookRetries}; never acknowledged: ${unacknowledged.inbound})`);
    out(`  agent replies acknowledged      ${outbound.size}   (never acknowledged: ${unacknowledged.outbound})`);
    out(`  statuses sent (shuffled)        ${stats.statusesSent};  receipts at Genesys: ${receipts}`);
    out(`  peak RSS (MB)                   ${Object.entries(cluster.peakRss()).map(([n, v]) => `${n} ${v.peakMb}${v.restarts ? ` (${v.restarts} restarts)` : ''}`).join(', ')}`);
    // Both connectors worked the one queue: the requests each one made, and the conversations
    // both delivered into (where "reordered" compares deliveries of competing workers).
    out(`  API requests by connector       ${[...taps].map(([n, t]) => `${n} ${t.genesys.requests} to Genesys, ${t.meta.requests} to Meta`).join('; ')}`);
    const deliverers = new Map<string, Set<InstanceName>>();
    for (const p of postedBy) {
      const sent = p.wamid ? inbound.get(p.wamid) : p.text ? outbound.get(p.text) : undefined;
      if (!sent) continue;
      const conversation = `${p.wamid ? 'in' : 'out'} ${sent.tenant}/${sent.waId}`;
      const set = deliverers.get(conversation) ?? new Set<InstanceName>();
      set.add(p.connector);
      deliverers.set(conversation, set);
    }
    const shared = [...deliverers.values()].filter((set) => set.size > 1).length;
    out(`  conversations (each direction) delivered into by more than one connector  ${shared} of ${deliverers.size}`);
    out(`  processes that exited on their own  ${cluster.crashes.length}${cluster.crashes.length ? ` (${cluster.crashes.map((c) => `${c.name}: ${c.signal ?? `code ${c.code}`}`).join(', ')})` : ''}`);
    if (REPLICAS > 1) {
      const counts = (f: { piped: number[]; refused: number }) => `${f.piped.join('/')}${f.refused ? ` (${f.refused} refused: no replica up)` : ''}`;
      const fronts = SERVICES.flatMap((x) => {
        const f = cluster!.frontsOf(x.name);
        return f ? [`${x.name} ${counts(f.front)}${f.internal ? `, internal ${counts(f.internal)}` : ''}`] : [];
      });
      // Connections, not requests: a keep-alive connection stays on the replica it was opened to, as behind a Kubernetes Service.
      out(`  connections per replica (fronts)  ${fronts.join('; ')}`);
    }
    out(
      `  revocation across gateways      ${revocation.checks} checks (${revocation.duringOutage} during the Redis outage): every gateway refused the revoked key ` +
        `${revocation.slowestMs} ms after the 204 at the latest (bound ${REVOCATION_BOUND_MS / 1000} s); unverified: ${revocation.unverified}`,
    );
    const rateExcess = rateCheck.ran ? Math.max(0, rateCheck.accepted - CHECK_RATE_LIMIT) : 0;
    const rateUnrefused = rateCheck.ran ? Object.values(rateCheck.byGateway).filter((t) => t.limited === 0).length : 0;
    out(
      rateCheck.ran
        ? `  rate limit across gateways      ${rateCheck.accepted} of ${rateCheck.sent} requests accepted at ${CHECK_RATE_LIMIT}/min over ${gateways.length} gateways (${Object.entries(rateCheck.byGateway).map(([g, t]) => `${g} ${t.ok}/${t.limited}`).join(', ')} accepted/refused)`
        : '  rate limit across gateways      not checked (no Redis: each gateway counts on its own)',
    );
    out('');
    out(`  lost           ${ledger.lost}`);
    out(`  duplicated     ${ledger.duplicated}`);
    out(`  reordered      ${ledger.reordered}`);
    out(`  cross-tenant   ${ledger.crossTenant}`);
    out(`  revoked key accepted late (across gateways)   ${revocation.breaches}`);
    out(`  accepted beyond the rate limit (across gateways)   ${rateExcess}`);
    out(`  (plus ${ledger.duplicatedInDoubt} extra copies of the ${uncertain.size} messages the bridge itself flagged uncertain_attempts > 0: attempts cut off by`);
    out('   SIGKILL or a timeout after the provider may have accepted them — at-least-once without idempotency keys, see README)');
    for (const line of detail.slice(0, 20)) out(`    ${line}`);
    // An agent reply Genesys gave up on is lost for good: every one must be acknowledged.
    // So must every check have been made: a gateway that never answered it, or one never refusing past the limit, fails the run.
    const failed =
      ledger.lost + ledger.duplicated + ledger.reordered + ledger.crossTenant + unacknowledged.inbound + unacknowledged.outbound > 0 ||
      inbound.size === 0 ||
      outbound.size === 0 ||
      revocation.breaches + revocation.unverified + rateExcess + rateUnrefused > 0 ||
      revocation.checks === 0 ||
      (!!redisUrl && (!rateCheck.ran || rateCheck.accepted === 0));
    out('');
    out(failed ? 'SOAK FAILED' : 'SOAK PASSED');
    return failed ? 1 : 0;
  } finally {
    await cluster?.stop().catch(() => undefined);
    await Promise.allSettled([...taps.values()].flatMap((t) => [t.genesys.close(), t.meta.close()]));
    await stopPostgres();
    await Promise.allSettled([meta.close(), genesys.close()]);
    redis?.stop();
    await db?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function run(): Promise<number> {
  const config = parseEnv(soakConfigSchema, { ...process.env, ...soakArgs(process.argv.slice(2)) });
  // A hard stop, whatever happens: the run is bounded (traffic may outlast SOAK_SECONDS on a loaded machine, drains wait for progress).
  setTimeout(() => {
    process.stderr.write('soak: hard time limit reached\n');
    process.exit(2);
  }, (config.SOAK_SECONDS + 600) * 1000).unref();
  return main(config);
}

run().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`Soak failed to run: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);


