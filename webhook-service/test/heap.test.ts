import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { signGenesys, signMeta } from '@bridge/simulators';
import { serviceEnv } from '../../test/support/env';
import { uniqueNumericId, uniqueTenantId } from '../../test/support/ids';
import { startTestSystem, type TestSystem } from '../../test/support/system';

/**
 * Attacker-sized input held in memory (#9, kind 1): thousands of requests with distinct junk
 * identifiers — the 3 MB phone_number_id, tenant ids on both tenant paths, unknown
 * numbers, verify tokens — leave webhook-service's retained heap within a small bound, and every
 * answer is a 4xx. webhook-service runs as built (dist), in a child process started with
 * --expose-gc, so that its heap is measured after full collections and apart from this test's.
 */
let sys: TestSystem;
let child: ChildProcess;
let base: string;
let tenant: { tenantId: string; appSecret: string; webhookSecret: string };

/** The child's next IPC message. */
function next(): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`webhook-service exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as Record<string, unknown>);
    });
  });
}

async function retainedHeap(): Promise<number> {
  const answer = next();
  child.send('heap');
  return (await answer).heapUsed as number;
}

beforeAll(async () => {
  sys = await startTestSystem({ only: ['tenant-service'] });
  tenant = { tenantId: uniqueTenantId('heap'), appSecret: randomBytes(16).toString('hex'), webhookSecret: randomBytes(16).toString('hex') };
  await sys.createTenant({ tenantId: tenant.tenantId });
  const stored = await Promise.all([
    sys.admin('post', `/tenants/${tenant.tenantId}/credentials`).send({
      type: 'meta',
      credentials: { appSecret: tenant.appSecret, verifyToken: randomBytes(16).toString('hex'), accessToken: 'EAAG-heap-test-token', phoneNumberId: uniqueNumericId() },
    }),
    sys.admin('post', `/tenants/${tenant.tenantId}/credentials`).send({
      type: 'genesys',
      credentials: { clientId: 'heap-client', clientSecret: 'heap-client-secret', region: 'mypurecloud.ie', integrationId: 'heap-integration', webhookSecret: tenant.webhookSecret },
    }),
  ]);
  expect(stored.map((r) => r.status)).toEqual([201, 201]);

  child = fork(path.join(__dirname, 'support', 'heap-probe.js'), [], {
    execArgv: ['--expose-gc', '--max-old-space-size=256'],
    env: serviceEnv(sys.tdb.appUrl, { TENANT_SERVICE_INTERNAL_URL: sys.internalUrls['tenant-service']!, PORT: '0', HOST: '127.0.0.1', NODE_OPTIONS: '' }),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const started = await next();
  if (started.error) throw new Error(`webhook-service did not start: ${started.error}`);
  base = `http://127.0.0.1:${started.port}`;
}, 60_000);

afterAll(async () => {
  if (child?.connected) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send('stop');
    await exited;
  }
  await sys?.stop();
});

/** Runs `send` for each item, `concurrency` at a time; returns every answer's status. */
async function flood<T>(items: T[], concurrency: number, send: (item: T) => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) statuses.push(await send(items[i++]));
    }),
  );
  return statuses;
}

async function postStatus(url: string, body: string, signature: string): Promise<number> {
  const res = await fetch(`${base}${url}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature }, body });
  await res.arrayBuffer();
  return res.status;
}

async function getStatus(url: string): Promise<number> {
  const res = await fetch(`${base}${url}`);
  await res.arrayBuffer();
  return res.status;
}

const forNumber = (phoneNumberId: string) =>
  JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { metadata: { phone_number_id: phoneNumberId }, messages: [] } }] }] });
/** Tenant ids of the right shape (each a question for tenant-service) and of the wrong one, long ones included. */
const junkTenantIds = (n: number) =>
  Array.from({ length: n }, (_, i) => (i % 2 ? uniqueTenantId(`junk${i}`) : `${randomBytes(i % 4 === 0 ? 600 : 8).toString('hex')}_X`));

/** Every kind of junk, `scale` times over. */
async function hostileTraffic(scale: number): Promise<number[]> {
  const statuses: number[] = [];
  const genesysBody = JSON.stringify({ id: 'x', type: 'Text', channel: { to: { id: '1' } } });
  const metaBody = forNumber('106540352242922');
  // The example: a 3 MB phone_number_id, with any signature, on the platform route.
  const huge = Array.from({ length: Math.ceil(40 * scale) }, (_, i) => i);
  statuses.push(...(await flood(huge, 4, (i) => postStatus('/webhook/meta', forNumber(`${i}${'9'.repeat(3 * 1024 * 1024)}`), 'sha256=anything'))));
  statuses.push(...(await flood(junkTenantIds(1200 * scale), 16, (t) => postStatus(`/webhook/meta/${encodeURIComponent(t)}`, metaBody, signMeta(tenant.appSecret, metaBody)))));
  statuses.push(...(await flood(junkTenantIds(1200 * scale), 16, (t) => postStatus(`/webhook/genesys/${encodeURIComponent(t)}`, genesysBody, signGenesys(tenant.webhookSecret, genesysBody)))));
  // Numbers of the right shape that nobody owns, signed by a real tenant.
  const numbers = Array.from({ length: 1000 * scale }, () => forNumber(`${uniqueNumericId()}${randomBytes(3).readUIntBE(0, 3)}`.slice(0, 30)));
  statuses.push(...(await flood(numbers, 16, (body) => postStatus('/webhook/meta', body, signMeta(tenant.appSecret, body)))));
  const tokens = Array.from({ length: 300 * scale }, (_, i) => randomBytes(i % 3 === 0 ? 3000 : 16).toString('hex'));
  statuses.push(...(await flood(tokens, 16, (token) => getStatus(`/webhook/meta?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=1`))));
  statuses.push(...(await flood(junkTenantIds(300 * scale), 16, (t) => getStatus(`/webhook/meta/${encodeURIComponent(t)}?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1`))));
  return statuses;
}

it('keeps no junk identifier: thousands of them leave the retained heap within a few MB, every answer a 4xx', async () => {
  // Warm-up: compiled code, prepared statements, pools and caches' fixed parts settle first.
  await hostileTraffic(0.1);
  const before = await retainedHeap();
  const statuses = await hostileTraffic(1);
  const after = await retainedHeap();

  expect(statuses.length).toBeGreaterThan(4_000);
  const unexpected = statuses.filter((s) => s < 400 || s >= 500);
  expect(unexpected).toEqual([]);
  // 40 × 3 MB went in; what is kept is bounded by the caches' limits (a few thousand small entries).
  expect(after - before).toBeLessThan(8 * 1024 * 1024);
}, 240_000);
