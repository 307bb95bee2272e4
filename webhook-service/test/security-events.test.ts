import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { OutboxNotifier, RedisCache, SecurityEventRecorder, createLogger, tenantKey, type Cache } from '@bridge/shared';
import { buildTextMessage, metaSerialize, signMeta } from '@bridge/simulators';
import type { BridgeTenant } from '../../scripts/src/bridge-tenant';
import { ownerQuery } from '../../test/support/db';
import { TEST_REDIS_URL, describeWithRedis } from '../../test/support/env';
import { eventually } from '../../test/support/eventually';
import { uniqueNumericId } from '../../test/support/ids';
import { createWebhookService } from '../src/app';
import { startWebhookTestBed, type WebhookTestBed } from './support/test-bed';

/**
 * Bad webhook signatures in the audit trail (issue #13): counted per tenant per minute across
 * webhook-service replicas sharing Redis, one audit event per tenant-minute with the count; a
 * forgery naming no tenant goes to the platform's chain; without Redis each replica counts its own.
 */
let bed: WebhookTestBed;
let clock = Date.parse('2026-11-30T10:00:05Z');
const now = () => clock;
const PREFIX = `test-${randomBytes(4).toString('hex')}:`;
const silent = createLogger({ name: 'test', level: 'silent' });

interface Replica {
  app: Express;
  close(): Promise<void>;
  recorder: SecurityEventRecorder;
  cache: Cache;
}
const replicas: Replica[] = [];

function replica(cache: Cache): Replica {
  const recorder = new SecurityEventRecorder({ db: bed.db, cache, logger: silent, now, keyPrefix: PREFIX, tickMs: 3_600_000 });
  const service = createWebhookService({
    db: bed.db,
    cache: bed.cache,
    logger: silent,
    credentials: bed.credentials,
    tenants: bed.tenants,
    notifier: new OutboxNotifier(bed.db),
    graphUrl: 'http://127.0.0.1:9/v23.0',
    mediaSigningSecret: 'media-signing-secret-for-security-tests',
    mediaDownloadHosts: ['127.0.0.1'],
    securityEvents: recorder,
  });
  const r = { ...service, recorder, cache };
  replicas.push(r);
  return r;
}

beforeAll(async () => {
  bed = await startWebhookTestBed();
});
afterAll(async () => {
  for (const r of replicas) {
    await r.close();
    if (r.cache !== bed.cache) await r.cache.close();
  }
  await bed.stop();
});

const sql = <T extends object>(text: string, values: unknown[] = []) => ownerQuery<T>(bed.sys.tdb, text, values);

interface Row {
  tenant_id: string | null;
  actor: string;
  action: string;
  target: string;
  after: { count: number; window: { start: string; seconds: number }; first: Record<string, unknown>; degraded?: boolean; internal?: unknown };
  client_ip: string | null;
  request_id: string | null;
}
const events = (tenantId: string | null) =>
  sql<Row>(
    `SELECT tenant_id, actor, action, target, after, client_ip, request_id FROM audit_events
      WHERE tenant_id IS NOT DISTINCT FROM $1 AND action = 'security.bad_signature' ORDER BY id`,
    [tenantId],
  );

const textFor = (t: BridgeTenant) => metaSerialize(buildTextMessage({ phoneNumberId: t.phoneNumberId, from: '16505550901', body: 'hello' }));
const forged = (app: Express, path: string, body: string) =>
  request(app).post(path).set('Content-Type', 'application/json').set('X-Hub-Signature-256', signMeta('not-the-secret', Buffer.from(body))).set('X-Forwarded-For', '198.51.100.23').send(body);

/** Sends `n` requests, `concurrency` at a time. */
async function flood(n: number, send: (i: number) => Promise<request.Response>, concurrency = 10) {
  for (let i = 0; i < n; i += concurrency) {
    const answers = await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, (_, k) => send(i + k)));
    for (const res of answers) expect(res.status).toBe(401);
  }
}

describeWithRedis('bad signatures across two replicas sharing Redis', () => {
  it('a flood of 200 in a minute at a tenant’s path is one audit event with count 200, written once the minute is over', async () => {
    const [a, b] = [replica(RedisCache.fromUrl(TEST_REDIS_URL!)), replica(RedisCache.fromUrl(TEST_REDIS_URL!))];
    const t = await bed.onboard('secev');
    const body = textFor(t);
    await flood(200, (i) => forged(i % 2 ? a.app : b.app, `/webhook/meta/${t.tenantId}`, body));
    // Every one counted in Redis (the reports run after the answers).
    const key = `${PREFIX}${tenantKey(t.tenantId, 'secev', 'security.bad_signature', 'meta', String(Math.floor(clock / 60_000) * 60))}`;
    await eventually(async () => (await a.cache.get(key)) === '200', 10_000, 'the 200 occurrences counted');

    // Within the minute nothing is written, by either replica.
    await Promise.all([a.recorder.flush(), b.recorder.flush()]);
    expect(await events(t.tenantId)).toEqual([]);

    clock += 60_000;
    await Promise.all([a.recorder.flush(), b.recorder.flush()]);
    const rows = await events(t.tenantId);
    expect(rows).toEqual([
      {
        tenant_id: t.tenantId,
        actor: 'unauthenticated',
        action: 'security.bad_signature',
        target: 'webhook:meta',
        after: {
          count: 200,
          window: { start: '2026-11-30T10:00:00.000Z', seconds: 60 },
          first: { channel: 'meta', reason: 'mismatch', route: 'POST /webhook/meta/:tenantId' },
        },
        client_ip: '198.51.100.23',
        request_id: expect.any(String),
      },
    ]);
    // No secret and no body in it.
    expect(JSON.stringify(rows)).not.toContain(t.appSecret);
    expect(JSON.stringify(rows)).not.toContain('hello');
    // Later flushes write nothing more; the chain still verifies.
    await Promise.all([a.recorder.flush(), b.recorder.flush()]);
    expect(await events(t.tenantId)).toHaveLength(1);
    const verified = await bed.sys.admin('get', `/tenants/${t.tenantId}/audit/verify`).expect(200);
    expect(verified.body.ok).toBe(true);
  });

  it('on the platform route: a forgery naming a tenant’s number goes to that tenant; one naming no tenant (or a missing signature) to the platform’s chain; Genesys’s per tenant too', async () => {
    const [a, b] = replicas;
    const t = await bed.onboard('secev');
    const nobodys = metaSerialize(buildTextMessage({ phoneNumberId: uniqueNumericId(), from: '16505550902', body: 'x' }));
    await Promise.all([forged(a.app, '/webhook/meta', textFor(t)), forged(b.app, '/webhook/meta', textFor(t)), forged(a.app, '/webhook/meta', nobodys)]);
    expect((await request(b.app).post('/webhook/meta').set('Content-Type', 'application/json').send(nobodys)).status).toBe(401);
    expect((await request(a.app).post(`/webhook/genesys/${t.tenantId}`).set('X-Hub-Signature-256', 'AAAA').send('{}')).status).toBe(401);
    // An unknown tenant's path: the platform's chain, not a tenant that does not exist.
    expect((await forged(b.app, '/webhook/meta/no-such-tenant-here', textFor(t))).status).toBe(401);

    const platformBefore = (await events(null)).length;
    await eventually(async () => {
      const counts = await Promise.all(
        [
          tenantKey(t.tenantId, 'secev', 'security.bad_signature', 'meta'),
          tenantKey(t.tenantId, 'secev', 'security.bad_signature', 'genesys'),
          'p:secev:security.bad_signature:meta',
        ].map((k) => a.cache.get(`${PREFIX}${k}:${Math.floor(clock / 60_000) * 60}`)),
      );
      return counts.join(',') === '2,1,3';
    }, 10_000, 'the occurrences counted');
    clock += 60_000;
    await Promise.all([a.recorder.flush(), b.recorder.flush()]);

    const mine = await sql<Row>(`SELECT tenant_id, action, target, after FROM audit_events WHERE tenant_id = $1 AND action LIKE 'security.%' ORDER BY target`, [t.tenantId]);
    expect(mine.map((r) => [r.target, r.after.count, r.after.first.route])).toEqual([
      ['webhook:genesys', 1, 'POST /webhook/genesys/:tenantId'],
      ['webhook:meta', 2, 'POST /webhook/meta'],
    ]);
    const platform = (await events(null)).slice(platformBefore);
    expect(platform).toHaveLength(1);
    expect(platform[0].after).toMatchObject({ count: 3, first: { channel: 'meta' } });
  });
});

describe('without Redis', () => {
  it('each replica counts what it saw and writes its own event for it, marked degraded; nothing is lost', async () => {
    const away = () => Promise.reject(new Error('redis away'));
    const down = { kind: 'redis', incr: away, get: away, del: away, close: async () => undefined } as unknown as Cache;
    const [a, b] = [replica(down), replica(down)];
    const t = await bed.onboard('secev');
    const body = textFor(t);
    await flood(30, (i) => forged(i < 10 ? a.app : b.app, `/webhook/meta/${t.tenantId}`, body));
    clock += 60_000;
    await eventually(async () => {
      await Promise.all([a.recorder.flush(), b.recorder.flush()]);
      const rows = await events(t.tenantId);
      return rows.reduce((n, r) => n + r.after.count, 0) === 30 && rows;
    }, 10_000, 'both replicas’ counts written');
    const rows = await events(t.tenantId);
    expect(rows.map((r) => [r.after.count, r.after.degraded]).sort()).toEqual([
      [10, true],
      [20, true],
    ]);
  });

  it('on close a replica writes what it has counted, however young the window', async () => {
    const a = replica(RedisCache.fromUrl(TEST_REDIS_URL ?? 'redis://127.0.0.1:1'));
    const t = await bed.onboard('secev');
    await flood(3, () => forged(a.app, `/webhook/meta/${t.tenantId}`, textFor(t)), 3);
    await eventually(() => a.recorder.recorded === 3, 10_000, 'the 3 occurrences recorded');
    await a.recorder.close();
    const rows = await eventually(async () => {
      const r = await events(t.tenantId);
      return r.length > 0 && r;
    });
    expect(rows.reduce((n, r) => n + r.after.count, 0)).toBe(3);
  });
});

describe('the application role', () => {
  it('may append security events only through audit_append_security, and nothing else through it', async () => {
    await expect(bed.db.unscoped(`SELECT audit_append_security('[{"tenantId": "t-any", "action": "tenant.updated"}]'::jsonb)`)).rejects.toThrow(/security\.\* events only/);
    await expect(bed.db.unscoped(`SELECT audit_chain_append('t-any', 'admin', 'tenant.updated', NULL, NULL, NULL, NULL, NULL)`)).rejects.toThrow(/permission denied/);
  });
});
