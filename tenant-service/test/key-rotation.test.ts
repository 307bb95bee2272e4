/**
 * Rotating CREDENTIALS_ENCRYPTION_KEY end to end, as the README tells an operator to: tenants
 * stored under key A (one row still in the format from before key ids), tenant-service restarted
 * with the keyring `B,A`, the rotation command run as the application role while tenant-service
 * serves, then tenant-service with B alone. Every read goes through the internal credentials
 * route the other services use; every blob is checked in the database.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import {
  CredentialCipher,
  Database,
  INTERNAL_TOKEN_HEADER,
  MemoryCache,
  createLogger,
  credentialKeyId,
  encryptionKeyId,
  generateEncryptionKey,
  type RunningService,
} from '@bridge/shared';
import { start } from '../src/server';
import { main as rotateMain, rotateCredentials } from '../src/rotate-credentials';
import { createTenantUseCases } from '../src/tenants';
import { legacyCredentialBlob } from '../../test/support/credentials';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { serviceEnv, testSecrets } from '../../test/support/env';
import { uniqueNumericId, uniqueTenantId } from '../../test/support/ids';

const ROOT = path.resolve(__dirname, '..', '..');
const A = generateEncryptionKey();
const B = generateEncryptionKey();

let tdb: TestDatabase;
const running: RunningService[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.close().catch(() => undefined)));
  await tdb?.drop();
});

type Keys = { CREDENTIALS_ENCRYPTION_KEY: string } | { CREDENTIALS_ENCRYPTION_KEYS: string };

/** The environment of tenant-service (and of the rotation command) in production, with these keys only. */
function envWith(keys: Keys, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return serviceEnv(tdb.appUrl, { NODE_ENV: 'production', PORT: '0', INTERNAL_PORT: '0', CREDENTIALS_ENCRYPTION_KEY: undefined, ...keys, ...extra });
}

async function startTenantService(keys: Keys): Promise<{ url: string; internalUrl: string; stop: () => Promise<void> }> {
  const service = await start(envWith(keys));
  running.push(service);
  return { url: `http://127.0.0.1:${service.port}`, internalUrl: `http://127.0.0.1:${service.internalPort}`, stop: () => service.close() };
}

const admin = (url: string) => ({
  post: (p: string) => request(url).post(p).set('Authorization', `Bearer ${testSecrets.ADMIN_API_KEY}`),
  get: (p: string) => request(url).get(p).set('Authorization', `Bearer ${testSecrets.ADMIN_API_KEY}`),
});

/** What the other services call (genesys-connector reads both types): GET /internal/tenants/:id/credentials/:type on the internal listener. */
const readInternal = (internalUrl: string, tenantId: string, type: string) =>
  request(internalUrl).get(`/internal/tenants/${tenantId}/credentials/${type}`).set(INTERNAL_TOKEN_HEADER, testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN);

const meta = () => ({
  appSecret: 'meta-app-secret-1234',
  verifyToken: 'verify-token-5678',
  accessToken: `EAAG-access-token-${uniqueNumericId()}`,
  phoneNumberId: uniqueNumericId(),
});
const genesys = () => ({
  clientId: '5f1a7c1e-1111-2222-3333-444455556666',
  clientSecret: `genesys-client-secret-${uniqueNumericId()}`,
  region: 'mypurecloud.ie',
  integrationId: '8a6e4b2c-aaaa-bbbb-cccc-ddddeeeeffff',
  webhookSecret: 'genesys-webhook-secret-wxyz',
});

/** Every credentials row, as the owner sees them (row-level security does not hide them). */
async function blobs(): Promise<Array<{ tenant_id: string; type: string; encrypted: Buffer }>> {
  return ownerQuery(tdb, 'SELECT tenant_id, type, encrypted FROM tenant_credentials ORDER BY tenant_id, type');
}

/** Runs the command exactly as the README says (`node tenant-service/dist/rotate-credentials.js`). */
function runRotationCommand(keys: Keys): Promise<{ code: number | null; summary: Record<string, unknown>; stderr: string }> {
  const env = Object.fromEntries(Object.entries(envWith(keys, { LOG_LEVEL: 'info' })).filter(([, v]) => v !== undefined));
  const child = spawn(process.execPath, ['tenant-service/dist/rotate-credentials.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, summary: lines[lines.length - 1] ?? {}, stderr });
    }),
  );
}

describe('rotating the credentials encryption key', () => {
  it('A → keyring B,A → rotation while serving → B alone: every credential stays readable and ends under B', async () => {
    const expected = new Map<string, Record<string, string>>();
    const stored = (tenantId: string, type: string) => expected.get(`${tenantId}/${type}`)!;

    // 1. Today: one key. Two tenants stored through the admin API, one with a row from before key ids.
    let ts = await startTenantService({ CREDENTIALS_ENCRYPTION_KEY: A });
    const [t1, t2, t3, t4] = [uniqueTenantId('rot'), uniqueTenantId('rot'), uniqueTenantId('rot'), uniqueTenantId('rot')];
    for (const [tenantId, creds] of [
      [t1, { meta: meta(), genesys: genesys() }],
      [t2, { meta: meta() }],
      [t3, { genesys: genesys() }],
    ] as const) {
      await admin(ts.url).post('/tenants').send({ tenantId, name: tenantId }).expect(201);
      for (const [type, credentials] of Object.entries(creds)) {
        await admin(ts.url).post(`/tenants/${tenantId}/credentials`).send({ type, credentials }).expect(201);
        expected.set(`${tenantId}/${type}`, credentials);
      }
    }
    await ownerQuery(tdb, "UPDATE tenant_credentials SET encrypted = $2 WHERE tenant_id = $1 AND type = 'genesys'", [
      t3,
      legacyCredentialBlob(A, t3, 'genesys', stored(t3, 'genesys')),
    ]);
    const before = (await blobs()).map((r) => [`${r.tenant_id}/${r.type}`, credentialKeyId(r.encrypted)]);
    expect(Object.fromEntries(before)).toEqual({
      [`${t1}/genesys`]: encryptionKeyId(A),
      [`${t1}/meta`]: encryptionKeyId(A),
      [`${t2}/meta`]: encryptionKeyId(A),
      [`${t3}/genesys`]: undefined,
    });
    await ts.stop();

    // 2. The keyring B,A: everything stored under A (and before key ids) still reads; new credentials go under B.
    ts = await startTenantService({ CREDENTIALS_ENCRYPTION_KEYS: `${B},${A}` });
    for (const [key, credentials] of expected) {
      const [tenantId, type] = key.split('/');
      const res = await readInternal(ts.internalUrl, tenantId, type);
      expect({ key, status: res.status, credentials: res.body.credentials }).toEqual({ key, status: 200, credentials });
    }
    await admin(ts.url).post('/tenants').send({ tenantId: t4, name: t4 }).expect(201);
    const t4meta = meta();
    await admin(ts.url).post(`/tenants/${t4}/credentials`).send({ type: 'meta', credentials: t4meta }).expect(201);
    expected.set(`${t4}/meta`, t4meta);
    const [t4row] = (await blobs()).filter((r) => r.tenant_id === t4);
    expect(credentialKeyId(t4row.encrypted)).toBe(encryptionKeyId(B));

    // 3. The rotation command, as the application role, while tenant-service keeps answering.
    let reading = true;
    const statuses: number[] = [];
    const reader = (async () => {
      while (reading) {
        for (const key of expected.keys()) {
          const [tenantId, type] = key.split('/');
          statuses.push((await readInternal(ts.internalUrl, tenantId, type)).status);
        }
      }
    })();
    const first = await runRotationCommand({ CREDENTIALS_ENCRYPTION_KEYS: `${B},${A}` });
    reading = false;
    await reader;
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(first.summary).toMatchObject({ keyId: encryptionKeyId(B), reencrypted: 4, current: 1, unreadable: 0 });
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    const rotated = await blobs();
    expect(rotated).toHaveLength(5);
    expect(rotated.map((r) => credentialKeyId(r.encrypted))).toEqual(rotated.map(() => encryptionKeyId(B)));
    // The blobs opened by B alone hold exactly what was stored.
    const onlyB = new CredentialCipher(B);
    for (const r of rotated) expect(onlyB.decrypt(r.tenant_id, r.type, r.encrypted)).toEqual(stored(r.tenant_id, r.type));

    // Safe to run twice: nothing left to do, nothing rewritten.
    const second = await runRotationCommand({ CREDENTIALS_ENCRYPTION_KEYS: `${B},${A}` });
    expect(second.code).toBe(0);
    expect(second.summary).toMatchObject({ reencrypted: 0, current: 5, unreadable: 0 });
    expect((await blobs()).map((r) => r.encrypted.toString('hex'))).toEqual(rotated.map((r) => r.encrypted.toString('hex')));
    await ts.stop();

    // 4. B alone reads everything, on the internal route and in the admin API's masked view.
    ts = await startTenantService({ CREDENTIALS_ENCRYPTION_KEYS: B });
    for (const [key, credentials] of expected) {
      const [tenantId, type] = key.split('/');
      const res = await readInternal(ts.internalUrl, tenantId, type);
      expect({ key, status: res.status, credentials: res.body.credentials }).toEqual({ key, status: 200, credentials });
    }
    const masked = await admin(ts.url).get(`/tenants/${t1}/credentials`).expect(200);
    expect(masked.body.map((c: { type: string }) => c.type)).toEqual(['genesys', 'meta']);
    await ts.stop();

    // And the retired key really is retired: A alone reads nothing, and says which key is needed.
    ts = await startTenantService({ CREDENTIALS_ENCRYPTION_KEY: A });
    const refused = await readInternal(ts.internalUrl, t2, 'meta');
    expect(refused.status).toBe(500);
    expect(refused.body.error).toMatchObject({ code: 'CREDENTIALS_UNREADABLE', message: expect.stringContaining(encryptionKeyId(B)) });
    expect(JSON.stringify(refused.body)).not.toContain(stored(t2, 'meta').accessToken);
    await ts.stop();
  }, 60_000);

  it('reports a row no key of the ring opens, re-encrypts the rest page by page, and exits 1', async () => {
    await ownerQuery(tdb, 'DELETE FROM tenants');
    const C = generateEncryptionKey();
    const D = generateEncryptionKey();
    const ts = await startTenantService({ CREDENTIALS_ENCRYPTION_KEY: C });
    const tenants = [uniqueTenantId('lost'), uniqueTenantId('lost'), uniqueTenantId('lost')];
    for (const tenantId of tenants) {
      await admin(ts.url).post('/tenants').send({ tenantId, name: tenantId }).expect(201);
      await admin(ts.url).post(`/tenants/${tenantId}/credentials`).send({ type: 'genesys', credentials: genesys() }).expect(201);
    }
    await ts.stop();
    // One row under a key the operator has lost.
    const lost = new CredentialCipher(generateEncryptionKey());
    await ownerQuery(tdb, "UPDATE tenant_credentials SET encrypted = $2 WHERE tenant_id = $1 AND type = 'genesys'", [
      tenants[1],
      lost.encrypt(tenants[1], 'genesys', genesys()),
    ]);

    const db = new Database({ connectionString: tdb.appUrl });
    const cache = new MemoryCache();
    const logger = createLogger({ name: 'test', level: 'silent' });
    const cipher = new CredentialCipher([D, C]);
    try {
      // Two tenants a page, so the walk has to turn a page.
      const summary = await rotateCredentials(createTenantUseCases({ db, cache, cipher, logger }), cipher.keyId, logger, 2);
      expect(summary).toEqual({
        keyId: encryptionKeyId(D),
        tenants: 3,
        reencrypted: 2,
        current: 0,
        unreadable: [{ tenantId: tenants[1], type: 'genesys', reason: expect.stringContaining(`encrypted with key ${lost.keyId}, which is not in the keyring`) }],
      });
    } finally {
      await db.close();
      await cache.close();
    }
    const rows = new Map((await blobs()).map((r) => [r.tenant_id, credentialKeyId(r.encrypted)]));
    expect(tenants.map((t) => rows.get(t))).toEqual([encryptionKeyId(D), lost.keyId, encryptionKeyId(D)]);
    // The command's exit status says the rotation is incomplete.
    expect(await rotateMain(envWith({ CREDENTIALS_ENCRYPTION_KEYS: `${D},${C}` }, { LOG_LEVEL: 'silent' }))).toBe(1);
  }, 30_000);

  it('refuses to start with a malformed keyring, naming the variable and never the key', async () => {
    const keyring = `k2:${B},k1:${A}`;
    await expect(start(envWith({ CREDENTIALS_ENCRYPTION_KEYS: keyring }))).rejects.toThrow(/CREDENTIALS_ENCRYPTION_KEYS: key 1 of 2 is not 32 bytes/);
    await expect(rotateMain(envWith({ CREDENTIALS_ENCRYPTION_KEYS: keyring }))).rejects.toThrow(/CREDENTIALS_ENCRYPTION_KEYS/);
    await expect(start(envWith({ CREDENTIALS_ENCRYPTION_KEYS: `${B},${A}` }, { CREDENTIALS_ENCRYPTION_KEY: A }))).rejects.toThrow(/not both/);
    const message = await start(envWith({ CREDENTIALS_ENCRYPTION_KEYS: keyring })).catch((err: Error) => err.message);
    expect(message).not.toContain(B.slice(0, 12));
  });
});
