import request from 'supertest';
import type { RunningService } from '@bridge/shared';
import { start as startGateway } from '../gateway/src/server';
import { startTestSystem, type TestSystem } from './support/system';
import { describeWithRedis } from './support/env';

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
    await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended' }).expect(200);
    expect((await stats(0, t.apiKey)).status).toBe(423);
    expect((await stats(1, t.apiKey)).status).toBe(423);
    await sys.admin('patch', `/tenants/${t.tenantId}`).send({ status: 'active' }).expect(200);
    expect((await stats(0, t.apiKey)).status).toBe(200);
    expect((await stats(1, t.apiKey)).status).toBe(200);
  });
});
