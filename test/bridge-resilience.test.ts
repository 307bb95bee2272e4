import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { buildTextMessage, type MetaWebhookPayload } from '@bridge/simulators';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';
import { ownerQuery, serverQuery } from './support/db';

/**
 * What happens when things break: Genesys down or throttling during a burst, the connector
 * killed mid-delivery, every Meta message type from real-world fixtures.
 */
let bridge: Bridge;
let gateway: string;
let connector: ChildProcess | undefined;

/** The connector as a separate process, started exactly as in production, so it can be SIGKILLed. */
async function startConnector(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'genesys-connector', 'dist', 'server.js')], {
    env: { ...bridge.sys.serviceEnv, PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
  await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`connector exited ${code}: ${stderr}`)));
    setTimeout(resolve, 1500);
  });
  child.removeAllListeners('exit');
  // A connector that dies on its own (not by the test's SIGKILL) is a failure worth seeing.
  child.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL') process.stderr.write(`genesys-connector exited (${code ?? signal}):\n${stderr}\n`);
  });
  return child;
}

beforeAll(async () => {
  bridge = await startBridge({ only: ['tenant-service', 'auth-service', 'state-manager', 'webhook-service', 'gateway'] });
  gateway = bridge.sys.urls.gateway;
  connector = await startConnector();
}, 30_000);

afterAll(async () => {
  connector?.kill('SIGKILL');
  await bridge.stop();
});

const send = (t: BridgeTenant, payload: MetaWebhookPayload) =>
  bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1 });

/** Sends `n` numbered texts in one conversation, one webhook each, as a customer typing fast. */
async function burst(t: BridgeTenant, waId: string, n: number, label: string): Promise<string[]> {
  const texts = Array.from({ length: n }, (_, i) => `${label} ${String(i + 1).padStart(2, '0')}`);
  for (const body of texts) expect((await send(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body }))).statuses).toEqual([200]);
  return texts;
}

const arrived = (t: BridgeTenant, waId: string) => bridge.genesys.messages(t.integrationId).filter((m) => m.body.channel.from.id === waId).map((m) => m.body.text);

describe('Genesys failing during a burst', () => {
  it('delivers all 50 messages once each, in order, after an outage of 500s', async () => {
    const t = await bridge.onboard();
    bridge.genesys.failNext(1_000_000, { status: 500, integrationId: t.integrationId });
    const texts = await burst(t, '16505557001', 50, 'outage');
    await eventually(() => bridge.genesys.calls.filter((c) => c.integrationId === t.integrationId).length >= 3, 5_000, 'attempts while down');
    expect(arrived(t, '16505557001')).toEqual([]);
    bridge.genesys.clearFaults();
    const got = await eventually(() => (arrived(t, '16505557001').length >= 50 ? arrived(t, '16505557001') : undefined), 30_000, '50 messages');
    await new Promise((r) => setTimeout(r, 200));
    expect(arrived(t, '16505557001')).toEqual(texts);
    expect(got).toEqual(texts);
  }, 60_000);

  it('honours 429 Retry-After and still delivers in order', async () => {
    const t = await bridge.onboard();
    bridge.genesys.failNext(3, { status: 429, retryAfterSeconds: 1, integrationId: t.integrationId });
    const started = Date.now();
    const texts = await burst(t, '16505557002', 50, 'throttled');
    await eventually(() => arrived(t, '16505557002').length >= 50, 30_000, '50 messages');
    expect(arrived(t, '16505557002')).toEqual(texts);
    // Retry-After: 1 s was honoured before the first message could go.
    const first = bridge.genesys.messages(t.integrationId)[0];
    expect(Date.parse(first.time as unknown as string) - started).toBeGreaterThanOrEqual(900);
  }, 60_000);

  it('keeps other tenants flowing while one tenant’s Genesys is down, and stops hammering it', async () => {
    const down = await bridge.onboard();
    const fine = await bridge.onboard();
    bridge.genesys.setOutage(true, { integrationId: down.integrationId });
    await burst(down, '16505557003', 10, 'down');
    await new Promise((r) => setTimeout(r, 1_000));
    const callsInASecond = bridge.genesys.calls.filter((c) => c.integrationId === down.integrationId).length;
    const started = Date.now();
    await burst(fine, '16505557004', 3, 'fine');
    await eventually(() => arrived(fine, '16505557004').length === 3, 5_000, 'the other tenant');
    expect(Date.now() - started).toBeLessThan(2_000);
    // One lane in flight at a time and the breaker open: a handful of calls, not a storm.
    expect(callsInASecond).toBeLessThan(30);
    bridge.genesys.setOutage(false, { integrationId: down.integrationId });
    await eventually(() => arrived(down, '16505557003').length === 10, 20_000, 'recovery');
  }, 60_000);
});

describe('PostgreSQL unavailable', () => {
  it('answers webhooks 5xx while nothing can be committed, so the sender retries; nothing is lost or doubled', async () => {
    const t = await bridge.onboard();
    const waId = '16505557101';
    // Warm the webhook path's caches (credentials, tenant) so the failure is the write itself.
    await send(t, buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'before' }));
    await eventually(() => arrived(t, waId).length === 1);

    const name = bridge.sys.tdb.name;
    await serverQuery(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await serverQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
    const payload = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body: 'during' });
    const refused = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 1 });
    expect(refused.statuses[0]).toBe(503);

    await serverQuery(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    // Meta's retry of the same bytes is accepted now, and delivered once.
    const retried = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload, appSecret: t.appSecret, maxAttempts: 20, retryDelayMs: 100 });
    expect(retried.delivered).toBe(true);
    await eventually(() => arrived(t, waId).length === 2, 20_000, 'the retried message');
    await new Promise((r) => setTimeout(r, 300));
    expect(arrived(t, waId)).toEqual(['before', 'during']);
  }, 60_000);
});

describe('the connector killed mid-delivery', () => {
  it('loses nothing and doubles nothing once restarted', async () => {
    const t = await bridge.onboard();
    bridge.genesys.failNext(1_000_000, { status: 503, integrationId: t.integrationId });
    const conversations = ['16505558001', '16505558002', '16505558003'];
    const sent: Record<string, string[]> = {};
    for (const waId of conversations) sent[waId] = await burst(t, waId, 8, `kill ${waId}`);
    await eventually(() => bridge.genesys.calls.filter((c) => c.integrationId === t.integrationId).length >= 3, 5_000, 'deliveries under way');
    connector!.kill('SIGKILL');
    await new Promise((r) => connector!.once('exit', r));
    bridge.genesys.clearFaults();
    // Messages keep arriving while the connector is down: acknowledged and stored.
    for (const waId of conversations) sent[waId].push(...(await burst(t, waId, 2, `after ${waId}`)));
    connector = await startConnector();
    for (const waId of conversations) {
      await eventually(() => arrived(t, waId).length >= 10, 30_000, `conversation ${waId}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const waId of conversations) expect(arrived(t, waId)).toEqual(sent[waId]);
    const [{ n }] = await ownerQuery<{ n: string }>(bridge.sys.tdb, `SELECT count(*) AS n FROM outbox WHERE tenant_id = $1`, [t.tenantId]);
    expect(Number(n)).toBe(0);
  }, 60_000);
});

describe('every Meta message type, from real-world payloads', () => {
  const fixtures = path.join(__dirname, 'fixtures');
  const load = (file: string) => JSON.parse(readFileSync(path.join(fixtures, file), 'utf8')) as Record<string, MetaWebhookPayload>;

  it('accepts, stores and bridges every message case, and records every status case', async () => {
    const t = await bridge.onboard();
    let counter = 0;
    const cases: Array<[string, MetaWebhookPayload]> = [];
    const files = ['message.json', 'callback_button.json', 'callback_selection.json', 'message_status.json'].map((f) => `meta-pywa/${f}`);
    // Customers without a phone number: username-only messages and statuses (fixtures/README.md).
    files.push('meta-bsuid/message.json', 'meta-bsuid/message_status.json');
    for (const file of files) {
      for (const [name, payload] of Object.entries(load(file))) {
        // The fixtures share ids: give each case its own, and route it to this tenant.
        const text = JSON.stringify(payload)
          .replaceAll('"1122334455667"', `"${t.phoneNumberId}"`)
          .replaceAll('"<BUSINESS_PHONE_NUMBER_ID>"', `"${t.phoneNumberId}"`)
          .replace(/"id":"wamid\.[^"]*"/g, () => `"id":"wamid.fixture-${++counter}"`);
        cases.push([`${file}:${name}`, JSON.parse(text)]);
      }
    }
    let messages = 0;
    for (const [name, payload] of cases) {
      const res = await send(t, payload);
      expect({ name, statuses: res.statuses }).toEqual({ name, statuses: [200] });
      for (const entry of payload.entry) for (const change of entry.changes) messages += change.value.messages?.length ?? 0;
    }
    expect(messages).toBeGreaterThan(25);
    await eventually(() => bridge.genesys.messages(t.integrationId).length >= messages, 30_000, 'every message at Genesys');
    // Genesys records a message a moment before the connector commits it as delivered.
    const stored = () =>
      ownerQuery<{ undelivered: string; statuses: string }>(
        bridge.sys.tdb,
        `SELECT (SELECT count(*) FROM message_tracking WHERE tenant_id = $1 AND status <> 'delivered') AS undelivered,
                (SELECT count(*) FROM message_events WHERE tenant_id = $1 AND source = 'meta') AS statuses`,
        [t.tenantId],
      ).then((rows) => rows[0]);
    await eventually(async () => Number((await stored()).undelivered) === 0, 5_000, 'every message recorded as delivered');
    const row = await stored();
    expect(Number(row.undelivered)).toBe(0);
    expect(Number(row.statuses)).toBeGreaterThanOrEqual(7);
    const stats = await request(gateway).get('/state/stats').set('X-API-Key', t.apiKey);
    expect(stats.body.totalMessages).toBe(messages);
  }, 60_000);
});
