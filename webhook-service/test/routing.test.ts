import { randomUUID } from 'node:crypto';
import { batch, buildTemplateStatusUpdate, buildTextMessage, metaSerialize, signGenesys, signMeta, wamidOf } from '@bridge/simulators';
import { ownerQuery } from '../../test/support/db';
import { uniqueNumericId } from '../../test/support/ids';
import type { IngestDeps } from '../src/ingest/deps';
import { ingestGenesysWebhook } from '../src/ingest/genesys';
import { HeldChangesReplayer, replayHeldChanges } from '../src/ingest/held';
import { ingestMetaWebhook } from '../src/ingest/meta';
import { startWebhookTestBed, type WebhookTestBed } from './support/test-bed';

/**
 * Issue #10 kinds 2 and 8: an authentic webhook is acknowledged. Meta's account-level changes are
 * routed by WABA, changes for numbers nobody owns are held and replayed into the tenant that
 * claims the number; Genesys's signed requests get 2xx, what can never be sent a Failed receipt.
 */
let bed: WebhookTestBed;
const notifier = { touch: () => undefined };
let deps: IngestDeps;
const PLATFORM_SECRET = 'platform-app-secret-for-tests';

beforeAll(async () => {
  bed = await startWebhookTestBed();
  deps = { db: bed.db, tenants: bed.tenants, notifier };
});
afterAll(() => bed.stop());

const onboard = (status?: 'suspended') => bed.onboard('route', {}, status);

/** Stores (or replaces) a tenant's Meta credentials through the admin API. */
async function storeMeta(tenantId: string, c: { appSecret: string; phoneNumberId: string; wabaId?: string }) {
  const res = await bed.sys.admin('post', `/tenants/${tenantId}/credentials`).send({
    type: 'meta',
    credentials: { appSecret: c.appSecret, verifyToken: randomUUID(), accessToken: `EAAG${randomUUID()}`, phoneNumberId: c.phoneNumberId, ...(c.wabaId ? { wabaId: c.wabaId } : {}) },
  });
  expect(res.status).toBe(201);
}

function signed(payload: unknown, secret: string) {
  const raw = Buffer.from(metaSerialize(payload as never));
  return { raw, signature: signMeta(secret, raw) };
}

const sql = <T extends object>(text: string, values: unknown[]) => ownerQuery<T>(bed.sys.tdb, text, values);

describe('Meta: account-level changes', () => {
  it('records a signed template status change for the tenant whose WABA it names (was 400 NOT_ROUTABLE)', async () => {
    const t = await onboard();
    const wabaId = uniqueNumericId();
    await storeMeta(t.tenantId, { appSecret: t.appSecret, phoneNumberId: t.phoneNumberId, wabaId });
    const update = buildTemplateStatusUpdate({ wabaId, templateId: 123, name: 'order_update', language: 'en_US', event: 'APPROVED' });

    const result = await ingestMetaWebhook(deps, signed(update, t.appSecret));
    expect(result).toEqual({ tenants: 1, newMessages: 0, newStatuses: 0, accountEvents: 1, held: 0 });
    // A redelivery records nothing new.
    expect((await ingestMetaWebhook(deps, signed(update, t.appSecret))).accountEvents).toBe(0);
    const rows = await sql<{ tenant_id: string; field: string; waba_id: string; event: string }>(
      `SELECT tenant_id, field, waba_id, payload->'change'->'value'->>'event' AS event FROM account_events WHERE waba_id = $1`,
      [wabaId],
    );
    expect(rows).toEqual([{ tenant_id: t.tenantId, field: 'message_template_status_update', waba_id: wabaId, event: 'APPROVED' }]);
  });

  it('refuses a template status change for a WABA nobody owns 401 without the platform secret, and holds it with it', async () => {
    const wabaId = uniqueNumericId();
    const update = buildTemplateStatusUpdate({ wabaId, templateId: 7, name: 'n', language: 'en', event: 'REJECTED' });
    await expect(ingestMetaWebhook(deps, signed(update, PLATFORM_SECRET))).rejects.toMatchObject({ code: 'INVALID_SIGNATURE', status: 401 });
    const result = await ingestMetaWebhook({ ...deps, platformAppSecret: PLATFORM_SECRET }, signed(update, PLATFORM_SECRET));
    expect(result).toMatchObject({ tenants: 0, held: 1 });
    expect(await sql(`SELECT signed_by FROM unclaimed_webhook_changes WHERE waba_id = $1`, [wabaId])).toEqual([{ signed_by: 'platform' }]);
  });
});

describe('Meta: numbers nobody owns yet', () => {
  it('stores the onboarded number’s message, holds the other, lists it to admins and replays it in order to the tenant that claims the number', async () => {
    const a = await onboard();
    const newNumber = uniqueNumericId();
    const forA = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550601', body: 'for A' });
    const early = buildTextMessage({ phoneNumberId: newNumber, from: '16505550602', body: 'first' });
    const later = buildTextMessage({ phoneNumberId: newNumber, from: '16505550602', body: 'second' });

    // One platform app for both numbers: its secret is tenant A's.
    const result = await ingestMetaWebhook(deps, signed(batch([forA, early]), a.appSecret));
    expect(result).toEqual({ tenants: 1, newMessages: 1, newStatuses: 0, accountEvents: 0, held: 1 });
    // A payload naming only numbers nobody owns has no tenant secret to check: it comes with one of A's.
    const alsoForA = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550601', body: 'again for A' });
    expect((await ingestMetaWebhook(deps, signed(batch([alsoForA, later]), a.appSecret))).held).toBe(1);
    const queuedForA = await sql<{ tenant_id: string; kind: string }>(
      `SELECT o.tenant_id, o.kind FROM outbox o JOIN message_tracking m ON m.id = o.message_id WHERE m.wamid = $1`,
      [wamidOf(forA)],
    );
    expect(queuedForA).toEqual([{ tenant_id: a.tenantId, kind: 'to_genesys_message' }]);

    const listed = await bed.sys.admin('get', `/unclaimed-changes?phoneNumberId=${newNumber}&limit=1`);
    expect(listed.status).toBe(200);
    expect(listed.body.changes).toEqual([expect.objectContaining({ phoneNumberId: newNumber, signedBy: 'tenant-app', field: 'messages' })]);
    expect(listed.body.nextAfter).toBe(listed.body.changes[0].id);
    const page2 = await bed.sys.admin('get', `/unclaimed-changes?phoneNumberId=${newNumber}&after=${listed.body.nextAfter}`);
    expect(page2.body.changes).toHaveLength(1);
    expect((await bed.sys.admin('get', '/unclaimed-changes?phoneNumberId=abc')).status).toBe(400);

    // Tenant B of the same Meta app claims the number.
    const b = await onboard();
    await storeMeta(b.tenantId, { appSecret: a.appSecret, phoneNumberId: newNumber });
    expect(await replayHeldChanges(deps, b.tenantId)).toBe(2);
    const replayed = await sql<{ tenant_id: string; wamid: string; kind: string; lane: string }>(
      `SELECT m.tenant_id, m.wamid, o.kind, o.lane FROM message_tracking m JOIN outbox o ON o.message_id = m.id WHERE m.wamid = ANY($1) ORDER BY o.id`,
      [[wamidOf(early), wamidOf(later)]],
    );
    expect(replayed).toEqual([
      { tenant_id: b.tenantId, wamid: wamidOf(early), kind: 'to_genesys_message', lane: 'in:16505550602' },
      { tenant_id: b.tenantId, wamid: wamidOf(later), kind: 'to_genesys_message', lane: 'in:16505550602' },
    ]);
    expect(await sql(`SELECT id FROM unclaimed_webhook_changes WHERE phone_number_id = $1`, [newNumber])).toEqual([]);
    expect(await replayHeldChanges(deps, b.tenantId)).toBe(0);
  });

  it('replays a change vouched for by another app’s secret into nobody; the platform secret’s into any claimant (by the sweep)', async () => {
    const a = await onboard();
    const number = uniqueNumericId();
    const byA = buildTextMessage({ phoneNumberId: number, from: '16505550611', body: 'signed by A' });
    const byPlatform = buildTextMessage({ phoneNumberId: number, from: '16505550611', body: 'signed by the platform' });
    await ingestMetaWebhook(deps, signed(batch([buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550612', body: 'x' }), byA]), a.appSecret));
    // None of its numbers known: only the platform secret can vouch for it.
    expect(await ingestMetaWebhook({ ...deps, platformAppSecret: PLATFORM_SECRET }, signed(byPlatform, PLATFORM_SECRET))).toMatchObject({ tenants: 0, held: 1 });

    const other = await onboard(); // another Meta app
    await storeMeta(other.tenantId, { appSecret: other.appSecret, phoneNumberId: number });
    const logger = { info: jest.fn(), error: jest.fn() };
    const replayer = new HeldChangesReplayer({ ingest: deps, cache: bed.cache, logger: logger as never, sweepMs: 60_000 });
    await replayer.sweep();
    expect(logger.error.mock.calls).toEqual([]);
    const rows = await sql<{ tenant_id: string; wamid: string }>(`SELECT tenant_id, wamid FROM message_tracking WHERE wamid = ANY($1)`, [[wamidOf(byA), wamidOf(byPlatform)]]);
    expect(rows).toEqual([{ tenant_id: other.tenantId, wamid: wamidOf(byPlatform) }]);
    expect(await sql(`SELECT phone_number_id FROM unclaimed_webhook_changes WHERE phone_number_id = $1`, [number])).toEqual([{ phone_number_id: number }]);
    expect(logger.error).not.toHaveBeenCalled();
  });
});

describe('Genesys: a signed request is answered 2xx', () => {
  async function post(t: { tenantId: string; webhookSecret: string }, body: unknown) {
    const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return ingestGenesysWebhook(deps, { tenantId: t.tenantId, raw, signature: signGenesys(t.webhookSecret, raw) });
  }
  const failedReceipts = (tenantId: string) =>
    sql<{ id: string; to: string; status: string }>(
      `SELECT payload->'receipt'->>'id' AS id, payload->'receipt'->'channel'->'to'->>'id' AS to, payload->'receipt'->>'status' AS status
         FROM outbox WHERE tenant_id = $1 AND kind = 'to_genesys_receipt' ORDER BY id`,
      [tenantId],
    );
  const rejected = (tenantId: string) => sql<{ reason: string }>(`SELECT payload->>'reason' AS reason FROM message_events WHERE tenant_id = $1 AND kind = 'rejected' ORDER BY id`, [tenantId]);

  it('records malformed JSON (200, nothing to refer a receipt to)', async () => {
    const t = await onboard();
    expect(await post(t, '{not json')).toBe('rejected');
    expect(await rejected(t.tenantId)).toEqual([{ reason: expect.stringContaining('MALFORMED_JSON') }]);
    expect(await failedReceipts(t.tenantId)).toEqual([]);
  });

  it('records an agent message that fails the schema and queues one Failed receipt, however often it comes', async () => {
    const t = await onboard();
    const body = { id: randomUUID(), type: 'Text', text: 'hi', direction: 'Outbound', channel: { to: { id: '16505550701' }, time: 42 } };
    expect(await post(t, body)).toBe('rejected');
    expect(await post(t, body)).toBe('rejected');
    expect(await failedReceipts(t.tenantId)).toEqual([{ id: body.id, to: '16505550701', status: 'Failed' }]);
  });

  it('records an agent message without channel.to.id (no recipient: no receipt can be built)', async () => {
    const t = await onboard();
    expect(await post(t, { id: randomUUID(), type: 'Text', text: 'hi', direction: 'Outbound', channel: {} })).toBe('rejected');
    expect(await rejected(t.tenantId)).toEqual([{ reason: expect.stringContaining('channel.to.id') }]);
    expect(await failedReceipts(t.tenantId)).toEqual([]);
  });

  it('answers an unknown type with a Failed receipt', async () => {
    const t = await onboard();
    const body = { id: randomUUID(), type: 'Hologram', direction: 'Outbound', channel: { to: { id: '16505550702' } } };
    expect(await post(t, body)).toBe('rejected');
    expect(await failedReceipts(t.tenantId)).toEqual([{ id: body.id, to: '16505550702', status: 'Failed' }]);
  });

  it('answers a suspended tenant’s agent reply with a Failed receipt (was 423), sending nothing', async () => {
    const t = await onboard('suspended');
    const body = { id: randomUUID(), type: 'Text', text: 'hi', direction: 'Outbound', channel: { to: { id: '16505550703' } } };
    expect(await post(t, body)).toBe('rejected');
    expect(await failedReceipts(t.tenantId)).toEqual([{ id: body.id, to: '16505550703', status: 'Failed' }]);
    expect(await rejected(t.tenantId)).toEqual([{ reason: 'TENANT_SUSPENDED: the tenant is suspended (Unpaid invoice 2026-11); nothing is sent to WhatsApp' }]);
    expect(await sql(`SELECT id FROM message_tracking WHERE genesys_message_id = $1`, [body.id])).toEqual([]);
  });
});
