import { MemoryCache, TenantDirectory, createLogger } from '@bridge/shared';
import { batch, buildStatus, buildTextMessage, metaSerialize, signMeta } from '@bridge/simulators';
import { ownerQuery } from '../../test/support/db';
import { uniqueNumericId } from '../../test/support/ids';
import type { IngestDeps } from '../src/ingest/deps';
import { ingestMetaWebhook } from '../src/ingest/meta';
import { createProvisioner } from '../src/ingest/provision';
import { replayHeldChanges } from '../src/ingest/held';
import { newBridgeTenant } from '../../scripts/src/bridge-tenant';
import { WebhookTenants } from '../src/tenants';
import { startWebhookTestBed, type WebhookTestBed } from './support/test-bed';

/** AUTO_PROVISION at the ingest: when it creates a tenant, and when it does not (off, or not the platform's signature). */
let bed: WebhookTestBed;
let off: IngestDeps;
let on: IngestDeps;
const PLATFORM_SECRET = 'platform-app-secret-for-provision-tests';

beforeAll(async () => {
  bed = await startWebhookTestBed();
  off = { db: bed.db, tenants: bed.tenants, notifier: { touch: () => undefined }, platformAppSecret: PLATFORM_SECRET };
  const provision = createProvisioner({ db: bed.db, cache: bed.cache, logger: createLogger({ name: 'test', level: 'silent' }), directory: new TenantDirectory(bed.db, bed.cache) });
  on = { ...off, provision };
});
afterAll(() => bed.stop());

function signed(payload: unknown, secret: string) {
  const raw = Buffer.from(metaSerialize(payload as never));
  return { raw, signature: signMeta(secret, raw) };
}
const sql = <T extends object>(text: string, values: unknown[] = []) => ownerQuery<T>(bed.sys.tdb, text, values);
const provisioned = (pnid: string) => sql<{ tenant_id: string; status: string }>('SELECT tenant_id, status FROM tenants WHERE provisioned_phone_number_id = $1', [pnid]);

it('off (the default): a platform-signed message for a new number is held and creates nothing', async () => {
  const pnid = uniqueNumericId();
  const result = await ingestMetaWebhook(off, signed(buildTextMessage({ phoneNumberId: pnid, body: 'hi' }), PLATFORM_SECRET));
  expect(result).toMatchObject({ tenants: 0, held: 1 });
  expect(await provisioned(pnid)).toEqual([]);
});

it('on: twenty concurrent webhooks for one new number make one pending tenant and one audit event', async () => {
  const pnid = uniqueNumericId();
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => ingestMetaWebhook(on, signed(buildTextMessage({ phoneNumberId: pnid, body: `m${i}` }), PLATFORM_SECRET))),
  );
  expect(results.every((r) => r.held === 1)).toBe(true);
  expect(await provisioned(pnid)).toEqual([{ tenant_id: `wa-${pnid}`, status: 'pending' }]);
  expect(await sql(`SELECT actor, action FROM audit_events WHERE tenant_id = $1`, [`wa-${pnid}`])).toEqual([{ actor: 'platform:auto-provision', action: 'tenant.provisioned' }]);
  expect(await sql<{ n: string }>('SELECT count(*)::text AS n FROM unclaimed_webhook_changes WHERE phone_number_id = $1', [pnid])).toEqual([{ n: '20' }]);
});

it('on: nothing is created for a payload a tenant’s own secret signed, nor for statuses alone', async () => {
  const owner = await bed.onboard('prov');
  const pnid = uniqueNumericId();
  // One Meta app for both numbers (the owner's secret): authentic, but only the platform's signature may create a tenant.
  const result = await ingestMetaWebhook(on, signed(batch([buildTextMessage({ phoneNumberId: owner.phoneNumberId, body: 'a' }), buildTextMessage({ phoneNumberId: pnid, body: 'b' })]), owner.appSecret));
  expect(result).toMatchObject({ tenants: 1, held: 1 });
  expect(await provisioned(pnid)).toEqual([]);
  const other = uniqueNumericId();
  await ingestMetaWebhook(on, signed(buildStatus({ phoneNumberId: other, wamid: 'wamid.x', status: 'delivered', recipientId: '16505550000' }), PLATFORM_SECRET));
  expect(await provisioned(other)).toEqual([]);
});

it('on activation, a new message from a customer whose older ones are held is queued after them (the held ones are replayed first)', async () => {
  const pnid = uniqueNumericId();
  const tenantId = `wa-${pnid}`;
  const from = '16505550991';
  const t0 = Math.floor(Date.now() / 1000) - 60;
  const older = buildTextMessage({ phoneNumberId: pnid, from, body: 'older, held while pending', timestamp: t0 });
  expect(await ingestMetaWebhook(on, signed(older, PLATFORM_SECRET))).toMatchObject({ held: 1 });
  expect(await provisioned(pnid)).toEqual([{ tenant_id: tenantId, status: 'pending' }]);
  const t = newBridgeTenant(tenantId, pnid);
  const genesys = await bed.sys.admin('post', `/tenants/${tenantId}/credentials`).send({
    type: 'genesys',
    credentials: { clientId: t.clientId, clientSecret: t.clientSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret },
  });
  expect(genesys.status).toBe(201);
  expect((await bed.sys.admin('patch', `/tenants/${tenantId}`).send({ status: 'active' })).status).toBe(200);
  // This replica sees the activation at once; its replay sweep has not run yet (no tenant event reached it).
  const cache = new MemoryCache();
  const tenants = new WebhookTenants({ db: bed.db, cache, credentials: bed.credentials, directory: new TenantDirectory(bed.db, cache) });
  await tenants.start();
  try {
    const newer = buildTextMessage({ phoneNumberId: pnid, from, body: 'newer, after activation', timestamp: t0 + 1 });
    expect(await ingestMetaWebhook({ ...on, tenants }, signed(newer, PLATFORM_SECRET))).toMatchObject({ tenants: 1, held: 0 });
    const jobs = await sql<{ body: string }>(
      `SELECT m.payload->'message'->'text'->>'body' AS body FROM outbox o JOIN message_tracking m ON m.tenant_id = o.tenant_id AND m.id = o.message_id
        WHERE o.tenant_id = $1 AND o.kind = 'to_genesys_message' ORDER BY o.id`,
      [tenantId],
    );
    expect(jobs.map((j) => j.body)).toEqual(['older, held while pending', 'newer, after activation']);
    expect(await sql('SELECT id FROM unclaimed_webhook_changes WHERE phone_number_id = $1', [pnid])).toEqual([]);
  } finally {
    await tenants.close();
  }
});

it('on activation, concurrent new messages and a replay sweep store every held change once, all ahead of the new ones', async () => {
  const pnid = uniqueNumericId();
  const tenantId = `wa-${pnid}`;
  const from = '16505550992';
  const t0 = Math.floor(Date.now() / 1000) - 60;
  for (let i = 0; i < 3; i++) {
    await ingestMetaWebhook(on, signed(buildTextMessage({ phoneNumberId: pnid, from, body: `held ${i}`, timestamp: t0 + i }), PLATFORM_SECRET));
  }
  const t = newBridgeTenant(tenantId, pnid);
  expect(
    (
      await bed.sys.admin('post', `/tenants/${tenantId}/credentials`).send({
        type: 'genesys',
        credentials: { clientId: t.clientId, clientSecret: t.clientSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret },
      })
    ).status,
  ).toBe(201);
  expect((await bed.sys.admin('patch', `/tenants/${tenantId}`).send({ status: 'active' })).status).toBe(200);
  const cache = new MemoryCache();
  const tenants = new WebhookTenants({ db: bed.db, cache, credentials: bed.credentials, directory: new TenantDirectory(bed.db, cache) });
  await tenants.start();
  try {
    const deps = { ...on, tenants };
    await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => ingestMetaWebhook(deps, signed(buildTextMessage({ phoneNumberId: pnid, from, body: `new ${i}`, timestamp: t0 + 10 + i }), PLATFORM_SECRET))),
      replayHeldChanges(deps, tenantId),
      replayHeldChanges(deps, tenantId),
    ]);
    const jobs = await sql<{ body: string }>(
      `SELECT m.payload->'message'->'text'->>'body' AS body FROM outbox o JOIN message_tracking m ON m.tenant_id = o.tenant_id AND m.id = o.message_id
        WHERE o.tenant_id = $1 AND o.kind = 'to_genesys_message' ORDER BY o.id`,
      [tenantId],
    );
    const bodies = jobs.map((j) => j.body);
    expect(bodies.slice(0, 3)).toEqual(['held 0', 'held 1', 'held 2']);
    expect(bodies.slice(3).sort()).toEqual(['new 0', 'new 1', 'new 2', 'new 3', 'new 4']);
    expect(await sql('SELECT id FROM unclaimed_webhook_changes WHERE phone_number_id = $1', [pnid])).toEqual([]);
  } finally {
    await tenants.close();
  }
});
