import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { buildTextMessage } from '@bridge/simulators';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';
import { ownerQuery } from './support/db';

/**
 * Two genesys-connector replicas (separate processes, as deployed) drain one burst of one
 * conversation through a slow Genesys; the one delivering is sent SIGTERM mid-delivery. Its
 * delivery cannot finish within its grace period, so it hands the lease back, and the other
 * replica carries on at once: the lease is 60 s, so a replica that let its lease run out instead
 * would hold the conversation for a minute. Nothing lost, order kept, a duplicate only where the
 * abandoned attempt is flagged uncertain.
 */
const LEASE_MS = 60_000;
const GRACE_MS = 300;
const GENESYS_LATENCY_MS = 1_200;

interface Replica {
  name: string;
  child: ChildProcess;
  /** Jobs it has claimed and not yet finished (from its debug log). */
  inFlight: Set<string>;
  /** When it logged each claim, by job id (ms since epoch). */
  claims: Map<string, number>;
  lines: string[];
  exited: Promise<number | null>;
}

let bridge: Bridge;
const replicas: Replica[] = [];

async function startReplica(name: string): Promise<Replica> {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'genesys-connector', 'dist', 'server.js')], {
    env: {
      ...bridge.sys.serviceEnv,
      PORT: '0',
      INTERNAL_PORT: '0',
      LOG_LEVEL: 'debug',
      DELIVERY_LEASE_MS: String(LEASE_MS),
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      HTTP_TIMEOUT_MS: '10000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const replica: Replica = { name, child, inFlight: new Set(), claims: new Map(), lines: [], exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  let ready = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    replica.lines.push(line);
    let entry: { msg?: string; jobId?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (entry.msg === 'genesys-connector listening') ready = true;
    if (!entry.jobId) return;
    if (entry.msg === 'claimed') {
      replica.inFlight.add(entry.jobId);
      replica.claims.set(entry.jobId, Date.now());
    } else replica.inFlight.delete(entry.jobId);
  });
  child.stderr!.on('data', (d) => replica.lines.push(String(d)));
  await eventually(() => ready || child.exitCode !== null, 20_000, `${name} listening`);
  if (child.exitCode !== null) throw new Error(`${name} exited:\n${replica.lines.join('\n')}`);
  replicas.push(replica);
  return replica;
}

beforeAll(async () => {
  bridge = await startBridge({ only: ['tenant-service', 'auth-service', 'state-manager', 'webhook-service', 'gateway'] });
}, 30_000);

afterAll(async () => {
  for (const r of replicas) r.child.kill('SIGKILL');
  await bridge.stop();
});

it('SIGTERM on the replica delivering: it hands its lease back and the other replica goes on at once, in order', async () => {
  const t: BridgeTenant = await bridge.onboard();
  const waId = '16505558801';
  const arrived = () => bridge.genesys.messages(t.integrationId).filter((m) => m.body.channel.from.id === waId).map((m) => m.body.text as string);
  const a = await startReplica('connector-a');
  const b = await startReplica('connector-b');
  bridge.genesys.setLatency(GENESYS_LATENCY_MS, { integrationId: t.integrationId });

  const texts = Array.from({ length: 8 }, (_, i) => `drain ${String(i + 1).padStart(2, '0')}`);
  for (const body of texts) {
    const { statuses } = await bridge.meta.deliverWebhook({
      url: `${bridge.sys.urls.gateway}/webhook/meta/${t.tenantId}`,
      payload: buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body }),
      appSecret: t.appSecret,
      maxAttempts: 1,
    });
    expect(statuses).toEqual([200]);
  }

  // Once a couple have gone through, the replica holding the conversation's lease, mid-delivery, is stopped.
  await eventually(() => arrived().length >= 2, 30_000, 'two deliveries');
  // Just after a claim, so that its request is well inside Genesys's latency (it cannot finish within the grace).
  const justClaimed = (r: Replica) => [...r.inFlight].find((id) => Date.now() - (r.claims.get(id) ?? 0) < GENESYS_LATENCY_MS / 3);
  const holder = await eventually(() => replicas.find((r) => justClaimed(r) !== undefined), 20_000, 'a replica starting a delivery');
  const other = holder === a ? b : a;
  const jobId = justClaimed(holder)!;
  const before = arrived().length;
  const sigterm = Date.now();
  holder.child.kill('SIGTERM');
  expect(await holder.exited).toBe(0);
  const exitedAfterMs = Date.now() - sigterm;
  expect(holder.lines.join('\n')).toContain('handed back to the queue for another replica');

  // The other claims the abandoned job itself, long before its 60 s lease would have run out.
  const takenAt = await eventually(() => other.claims.get(jobId), 10_000, `${other.name} claiming job ${jobId}`);
  const nextArrival = await eventually(() => (arrived().length > before ? Date.now() : undefined), 10_000, 'the next delivery');
  const takeoverMs = takenAt - sigterm;
  process.stdout.write(
    `graceful shutdown: ${holder.name} exited ${exitedAfterMs} ms after SIGTERM (grace ${GRACE_MS} ms); ${other.name} claimed its delivery ${takeoverMs} ms after SIGTERM (lease ${LEASE_MS} ms); next arrival at Genesys ${nextArrival - sigterm} ms after (latency ${GENESYS_LATENCY_MS} ms)\n`,
  );
  expect(takeoverMs).toBeLessThan(5_000);

  const unique = await eventually(() => {
    const got = arrived();
    return new Set(got).size === texts.length ? got : undefined;
  }, 30_000, 'every message');
  // Order kept: the first arrival of each is in the customer's order; a repeat only right after itself.
  expect([...new Set(unique)]).toEqual(texts);
  const duplicates = unique.length - texts.length;
  const [{ uncertain }] = await ownerQuery<{ uncertain: number }>(
    bridge.sys.tdb,
    'SELECT coalesce(sum(uncertain_attempts), 0)::int AS uncertain FROM message_tracking WHERE tenant_id = $1',
    [t.tenantId],
  );
  expect(uncertain).toBeGreaterThanOrEqual(1);
  expect(duplicates).toBeLessThanOrEqual(uncertain);
  bridge.genesys.setLatency(0);
}, 120_000);
