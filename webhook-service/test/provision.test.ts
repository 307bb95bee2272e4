import { TenantDirectory, createLogger } from '@bridge/shared';
import { batch, buildStatus, buildTextMessage, metaSerialize, signMeta } from '@bridge/simulators';
import { ownerQuery } from '../../test/support/db';
import { uniqueNumericId } from '../../test/support/ids';
import type { IngestDeps } from '../src/ingest/deps';
import { ingestMetaWebhook } from '../src/ingest/meta';
import { createProvisioner } from '../src/ingest/provision';
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
