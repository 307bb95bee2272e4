import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { Database, createLogger } from '@bridge/shared';
import { LastUsedRecorder } from '../src/last-used';
import { start } from '../src/server';
import { freePort } from '../../scripts/src/postgres';
import { ownerQuery, type TestDatabase } from '../../test/support/db';
import { serviceEnv } from '../../test/support/env';
import { uniqueTenantId } from '../../test/support/ids';
import { startTestSystem, type TestSystem } from '../../test/support/system';

/**
 * API key use is written in batches (LAST_USED_FLUSH_MS); what is pending when the gateway stops
 * is written before its database connections close, however it is stopped.
 */
let sys: TestSystem;
let tdb: TestDatabase;

beforeAll(async () => {
  // The admin API, to issue keys; the gateway under test is started by each test.
  sys = await startTestSystem({ only: ['tenant-service'] });
  tdb = sys.tdb;
});

afterAll(() => sys.stop());

async function newApiKey(): Promise<{ id: string; apiKey: string }> {
  const { tenantId, apiKey } = await sys.createTenant();
  const keys = await sys.admin('get', `/tenants/${tenantId}/api-keys`).expect(200);
  return { id: keys.body[0].id, apiKey };
}

async function lastUsedAt(keyId: string): Promise<Date | null> {
  const [row] = await ownerQuery<{ last_used_at: Date | null }>(tdb, 'SELECT last_used_at FROM tenant_api_keys WHERE id = $1', [keyId]);
  return row.last_used_at;
}

/** The gateway's environment: no periodic write within the test, services nowhere (the key is resolved before forwarding). */
async function gatewayEnv(): Promise<NodeJS.ProcessEnv> {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  return serviceEnv(tdb.appUrl, {
    PORT: String(await freePort()),
    LAST_USED_FLUSH_MS: '600000',
    STATE_MANAGER_URL: nowhere,
    AUTH_SERVICE_URL: nowhere,
    WEBHOOK_SERVICE_URL: nowhere,
  });
}

it('writes a pending use when closed the way npm start and the tests close it', async () => {
  const key = await newApiKey();
  const gateway = await start(await gatewayEnv());
  const res = await request(`http://127.0.0.1:${gateway.port}`).get('/state/stats').set('X-API-Key', key.apiKey);
  expect(res.status).not.toBe(401);
  expect(await lastUsedAt(key.id)).toBeNull();

  await gateway.close();
  expect(await lastUsedAt(key.id)).toBeInstanceOf(Date);
});

it('writes a pending use when `node gateway/dist/server.js` gets SIGTERM, and exits 0', async () => {
  const key = await newApiKey();
  const env = await gatewayEnv();
  const url = `http://127.0.0.1:${env.PORT}`;
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'dist', 'server.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const up = await fetch(`${url}/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gateway did not come up:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await fetch(`${url}/state/stats`, { headers: { 'X-API-Key': key.apiKey } });
    expect(res.status).not.toBe(401);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).not.toContain('could not record');
    expect(await lastUsedAt(key.id)).toBeInstanceOf(Date);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}, 30_000);

it('on close, waits for a write in progress and writes again what that write could not', async () => {
  const first = await newApiKey();
  const second = await newApiKey();
  const applicationName = `last-used-${uniqueTenantId()}`;
  const db = new Database({ connectionString: tdb.appUrl, applicationName });
  const recorder = new LastUsedRecorder(db, createLogger({ name: 'test', level: 'silent' }), 600_000);
  // Hold the first key's row so the periodic write blocks on it.
  const locker = new Client({ connectionString: tdb.ownerUrl });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM tenant_api_keys WHERE id = $1 FOR UPDATE', [first.id]);

    recorder.record(first.id);
    const periodic = recorder.flush();
    // Asked on another connection: inside the locker's transaction pg_stat_activity is a snapshot.
    const waiting = async () =>
      (await ownerQuery<{ pid: number }>(tdb, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [applicationName]))[0]?.pid;
    let blocked: number | undefined;
    for (let i = 0; i < 100 && !blocked; i++) {
      blocked = await waiting();
      if (!blocked) await new Promise((r) => setTimeout(r, 50));
    }
    expect(blocked).toBeDefined();

    // A use arrives, then shutdown begins while the write is still blocked.
    recorder.record(second.id);
    let closed = false;
    const closing = recorder.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 200));
    // The write in progress then fails (its connection is cut): its use must not be lost.
    await locker.query('SELECT pg_terminate_backend($1)', [blocked]);
    await locker.query('COMMIT');
    await periodic;
    await closing;
    expect(closed).toBe(true);
    await db.close();

    expect(await lastUsedAt(second.id)).toBeInstanceOf(Date);
    expect(await lastUsedAt(first.id)).toBeInstanceOf(Date);
  } finally {
    await locker.end();
  }
});

it('two gateways flushing one key’s use from a new address at the same moment record it once (security.key_new_ip)', async () => {
  const key = await newApiKey();
  const db = new Database({ connectionString: tdb.appUrl });
  const logger = createLogger({ name: 'test', level: 'silent' });
  try {
    const recorders = [new LastUsedRecorder(db, logger, 600_000), new LastUsedRecorder(db, logger, 600_000)];
    for (const r of recorders) r.record(key.id, '::ffff:192.0.2.44');
    await Promise.all(recorders.map((r) => r.close()));
    const events = () =>
      ownerQuery<{ ip: string; first_use: boolean; actor: string }>(
        tdb,
        `SELECT after->>'ip' AS ip, (after->>'firstUse')::boolean AS first_use, actor FROM audit_events WHERE action = 'security.key_new_ip' AND target = $1`,
        [`api_key:${key.id}`],
      );
    expect(await events()).toEqual([{ ip: '192.0.2.44', first_use: true, actor: `key:${key.id}` }]);
    // The same address again: no event.
    const again = new LastUsedRecorder(db, logger, 600_000);
    again.record(key.id, '192.0.2.44');
    await again.close();
    expect(await events()).toHaveLength(1);
  } finally {
    await db.close();
  }
});
