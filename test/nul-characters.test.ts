import request from 'supertest';
import { startBridge, type Bridge } from './support/bridge';
import { ownerQuery } from './support/db';

/**
 * A NUL character (U+0000) in any string of a JSON body: PostgreSQL's text and jsonb cannot hold
 * one, so it is refused as bad input (400 naming the field) before anything is stored, never a
 * 500, on the admin API and the tenant API alike.
 */
let bridge: Bridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(() => bridge.stop());

it('is a 400 naming the field on every route that takes a body, and changes nothing', async () => {
  const a = bridge.sys.admin;
  const t = await bridge.onboard();
  const before = await a('get', `/tenants/${t.tenantId}`).expect(200);
  const auditBefore = await ownerQuery<{ n: string }>(bridge.sys.tdb, 'SELECT count(*)::text AS n FROM audit_events', []);
  const cases: Array<[string, request.Test, RegExp]> = [
    ['plan description', a('post', '/plans').send({ name: 'nul-plan', description: 'a\u0000b', apiRequestsPerMinute: 10 }), /^description/],
    ['tenant name', a('patch', `/tenants/${t.tenantId}`).send({ name: 'x\u0000y' }), /^name/],
    ['suspension reason', a('patch', `/tenants/${t.tenantId}`).send({ status: 'suspended', reason: 'unpaid\u0000' }), /^reason/],
    ['metadata value', a('patch', `/tenants/${t.tenantId}`).send({ metadata: { k: 'v\u0000' } }), /^metadata\.k/],
    ['metadata key', a('patch', `/tenants/${t.tenantId}`).send({ metadata: { 'k\u0000': 'v' } }), /^metadata/],
    ['notification url', a('patch', `/tenants/${t.tenantId}`).send({ notificationWebhook: { url: 'https://hooks.example.com/x\u0000', secret: 'abcdefghijklmnopq' } }), /^notificationWebhook\.url/],
    ['new tenant name', a('post', '/tenants').send({ tenantId: 'nul-tenant-1', name: 'n\u0000' }), /^name/],
    ['api key name', a('post', `/tenants/${t.tenantId}/api-keys`).send({ name: 'ops\u0000' }), /^name/],
    [
      'proactive text',
      request(bridge.sys.urls.gateway).post('/messages').set('X-API-Key', t.apiKey).send({ to: '16505550100', text: 'hello\u0000' }),
      /^text/,
    ],
  ];
  for (const [label, req, field] of cases) {
    const res = await req;
    expect([label, res.status, res.body.error?.code]).toEqual([label, 400, 'VALIDATION_ERROR']);
    expect([label, res.body.error.message]).toEqual([label, expect.stringMatching(field)]);
  }
  expect((await a('get', `/tenants/${t.tenantId}`).expect(200)).body).toEqual(before.body);
  expect((await a('get', '/plans/nul-plan')).status).toBe(404);
  expect((await a('get', '/tenants/nul-tenant-1')).status).toBe(404);
  expect(await ownerQuery(bridge.sys.tdb, 'SELECT count(*)::text AS n FROM audit_events', [])).toEqual(auditBefore);
});
