import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { RunningService } from '@bridge/shared';
import { start as startGateway } from '../gateway/src/server';
import { startTestSystem, type TestSystem } from './support/system';
import { describeWithRedis } from './support/env';
import { eventually } from './support/eventually';
import { uniqueTenantId } from './support/ids';

/** Two gateway replicas sharing one Redis: limits, revocations and suspensions hold across both. */
describeWithRedis('two gateways, one Redis', () => {
  let sys: TestSystem;
  let second: RunningService;
  let gateways: string[];

  beforeAll(async () => {
    sys = await startTestSystem({ redis: true });
    second = await startGateway({ ...sys.serviceEnv, PORT: '0' });
    gateways = [sys.urls.gateway, `http://127.0.0.1:${second.port}`];
  });

  afterAll(async () => {
    await second.close();
    await sys.stop();
  });

  const stats = (i: number, apiKey: string) => request(gateways[i % 2]).get('/state/stats').set('X-API-Key', apiKey);
  const withToken = (i: number, token: string) => request(gateways[i % 2]).get('/state/stats').set('Authorization', `Bearer ${token}`);
  const mint = async (i: number, apiKey: string) => (await request(gateways[i % 2]).post('/auth/token').set('X-API-Key', apiKey).expect(200)).body.token as string;

  it('answers /ready with Redis checked', async () => {
    const res = await request(sys.urls.gateway).get('/ready');
    expect(res.status).toBe(200);
    expect(res.body.checks).toEqual({ postgres: 'ok', redis: 'ok' });
  });

  it('shares the per-tenant limit across replicas', async () => {
    const t = await sys.createTenant({ rateLimit: 4 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await stats(i, t.apiKey)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const other = await sys.createTenant({ rateLimit: 4 });
    expect((await stats(0, other.apiKey)).status).toBe(200);
  });

  it('refuses a revoked key on the next request at either replica, both caches warm', async () => {
    const t = await sys.createTenant();
    const key = await sys.admin('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'to-revoke' });
    for (let i = 0; i < 4; i++) expect((await stats(i, key.body.apiKey)).status).toBe(200);
    await sys.admin('delete', `/tenants/${t.tenantId}/api-keys/${key.body.id}`).expect(204);
    expect((await stats(0, key.body.apiKey)).status).toBe(401);
    expect((await stats(1, key.body.apiKey)).status).toBe(401);
    expect((await stats(1, t.apiKey)).status).toBe(200);
  });

  it('suspends and reactivates on both replicas at once', async () => {
    const t = await sys.createTenant();
    expect((await stats(0, t.apiKey)).status).toBe(200);
    expect((await stats(1, t.apiKey)).status).toBe(200);
    await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended', reason: 'Unpaid invoice' }).expect(200);
    expect((await stats(0, t.apiKey)).status).toBe(423);
    expect((await stats(1, t.apiKey)).status).toBe(423);
    await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'active' }).expect(200);
    expect((await stats(0, t.apiKey)).status).toBe(200);
    expect((await stats(1, t.apiKey)).status).toBe(200);
  });

  describe('tokens end with what issued them, on every gateway', () => {
    it('revoking the key ends its tokens at both replicas, both caches warm', async () => {
      const t = await sys.createTenant();
      const key = await sys.admin('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'to-revoke' });
      const token = await mint(0, key.body.apiKey);
      for (let i = 0; i < 4; i++) expect((await withToken(i, token)).status).toBe(200);
      await sys.admin('delete', `/tenants/${t.tenantId}/api-keys/${key.body.id}`).expect(204);
      for (let i = 0; i < 2; i++) {
        const res = await withToken(i, token);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('TOKEN_REVOKED');
      }
    });

    it('suspending the tenant ends its tokens at both replicas, and reactivating brings them back', async () => {
      const t = await sys.createTenant();
      const token = await mint(1, t.apiKey);
      for (let i = 0; i < 2; i++) expect((await withToken(i, token)).status).toBe(200);
      await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended', reason: 'Unpaid invoice' }).expect(200);
      for (let i = 0; i < 2; i++) expect((await withToken(i, token)).status).toBe(423);
      await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'active' }).expect(200);
      for (let i = 0; i < 2; i++) expect((await withToken(i, token)).status).toBe(200);
    });

    it('deleting the tenant ends its tokens at both replicas, and a new tenant of the same id does not take them', async () => {
      const tenantId = uniqueTenantId('reborn');
      const before = await sys.createTenant({ tenantId });
      const token = await mint(0, before.apiKey);
      for (let i = 0; i < 2; i++) expect((await withToken(i, token)).status).toBe(200);
      await sys.admin('delete', `/tenants/${tenantId}`).expect(204);
      for (let i = 0; i < 2; i++) expect((await withToken(i, token)).status).toBe(404);
      // Its rows are purged in the background; its id can be taken again once that is done.
      await eventually(async () => (await sys.admin('get', `/tenants/${tenantId}/deletion`)).body.state === 'done', 30_000, 'the purge');
      const after = await sys.createTenant({ tenantId });
      for (let i = 0; i < 2; i++) {
        const res = await withToken(i, token);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('TOKEN_REVOKED');
      }
      expect((await stats(1, after.apiKey)).status).toBe(200);
    });

    it('holds a key and its tokens to the key’s own limit, across replicas', async () => {
      const t = await sys.createTenant({ rateLimit: 100 });
      const key = await sys.admin('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'tight', rateLimit: 2 });
      const token = await mint(0, key.body.apiKey);
      expect((await withToken(1, token)).status).toBe(200);
      expect((await withToken(0, token)).status).toBe(429);
      expect((await stats(1, key.body.apiKey)).status).toBe(429);
      expect((await stats(1, t.apiKey)).status).toBe(200);
    });
  });

  describe('budgets per client address, shared by the replicas', () => {
    let budgeted: RunningService[];
    const at = (i: number) => request(`http://127.0.0.1:${budgeted[i % 2].port}`);
    /** A client address of this run only (the buckets live in the shared Redis): a /56 of its own. */
    const newClient = () => `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(1).toString('hex')}00::1`;
    const randomKey = () => `sk_${randomBytes(32).toString('base64url')}`;

    beforeAll(async () => {
      const env = { ...sys.serviceEnv, PORT: '0', TRUST_PROXY_HOPS: '1', AUTH_FAILURE_IP_BURST: '10', WEBHOOK_IP_BURST: '4', WEBHOOK_IP_PER_MINUTE: '60' };
      budgeted = [await startGateway(env), await startGateway(env)];
    });
    afterAll(async () => {
      for (const g of budgeted) await g.close();
    });

    it('counts failed authentications at either replica against one budget', async () => {
      const client = newClient();
      const t = await sys.createTenant();
      for (let i = 0; i < 10; i++) expect((await at(i).get('/state/stats').set({ 'X-Forwarded-For': client, 'X-API-Key': randomKey() })).status).toBe(401);
      for (let i = 0; i < 2; i++) {
        const res = await at(i).get('/state/stats').set({ 'X-Forwarded-For': client, 'X-API-Key': t.apiKey });
        expect(res.status).toBe(429);
        expect(res.body.error.code).toBe('TOO_MANY_AUTH_FAILURES');
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      expect((await at(0).get('/state/stats').set({ 'X-Forwarded-For': newClient(), 'X-API-Key': t.apiKey })).status).toBe(200);
    });

    it('counts webhook requests at either replica against one budget', async () => {
      const client = newClient();
      const handshake = (i: number) => at(i).get('/webhook/meta?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1').set('X-Forwarded-For', client);
      for (let i = 0; i < 4; i++) expect((await handshake(i)).status).not.toBe(429);
      for (let i = 0; i < 2; i++) {
        const res = await handshake(i);
        expect(res.status).toBe(429);
        expect(res.body.error.code).toBe('CLIENT_RATE_LIMITED');
        expect(res.headers['retry-after']).toBe('1');
      }
    });
  });
});
