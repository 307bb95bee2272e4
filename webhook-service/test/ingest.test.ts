import { randomUUID } from 'node:crypto';
import { batch, buildStatus, buildTextMessage, metaSerialize, signGenesys, signMeta, wamidOf, type MetaWebhookPayload } from '@bridge/simulators';
import type { BridgeTenant } from '../../scripts/src/bridge-tenant';
import { ownerQuery } from '../../test/support/db';
import { uniqueNumericId, uniqueTenantId } from '../../test/support/ids';
import type { TestSystem } from '../../test/support/system';
import type { IngestDeps } from '../src/ingest/deps';
import { ingestGenesysWebhook } from '../src/ingest/genesys';
import { ingestMetaWebhook } from '../src/ingest/meta';
import { startWebhookTestBed, type WebhookTestBed } from './support/test-bed';

/**
 * The ingest use cases called directly (no HTTP), against real PostgreSQL as the application
 * role, with the tenants' credentials served by a real tenant-service.
 */
let bed: WebhookTestBed;
let sys: TestSystem;
/** Counts wake-ups of the delivery workers. */
const notifier = {
  touches: 0,
  touch() {
    this.touches++;
  },
};
let deps: IngestDeps;

beforeAll(async () => {
  bed = await startWebhookTestBed();
  sys = bed.sys;
  deps = { db: bed.db, tenants: bed.tenants, notifier };
});

afterAll(() => bed.stop());

beforeEach(() => {
  notifier.touches = 0;
});

/** A tenant with Meta and Genesys credentials stored through the admin API. */
const onboard = (overrides: Partial<BridgeTenant> = {}, status?: 'suspended') => bed.onboard('ingest', overrides, status);

/** Meta's bytes for a payload, signed with `secret`. */
function signedMeta(payload: MetaWebhookPayload, secret: string) {
  const raw = Buffer.from(metaSerialize(payload));
  return { raw, signature: signMeta(secret, raw) };
}

/** What is stored for these provider ids: messages and statuses, with their queued deliveries. */
async function stored(ids: string[]) {
  const messages = await ownerQuery<{ tenant_id: string; wamid: string | null; genesys_message_id: string | null; direction: string }>(
    sys.tdb,
    `SELECT tenant_id, wamid, genesys_message_id, direction FROM message_tracking WHERE wamid = ANY($1) OR genesys_message_id = ANY($1) ORDER BY id`,
    [ids],
  );
  const events = await ownerQuery<{ tenant_id: string; kind: string }>(sys.tdb, `SELECT tenant_id, kind FROM message_events WHERE wamid = ANY($1) OR genesys_message_id = ANY($1) ORDER BY id`, [ids]);
  const outbox = await ownerQuery<{ tenant_id: string; kind: string; lane: string }>(
    sys.tdb,
    `SELECT o.tenant_id, o.kind, o.lane FROM outbox o
       LEFT JOIN message_tracking m ON m.id = o.message_id
       LEFT JOIN message_events e ON e.id = o.event_id
      WHERE m.wamid = ANY($1) OR m.genesys_message_id = ANY($1) OR e.wamid = ANY($1) ORDER BY o.id`,
    [ids],
  );
  return { messages, events, outbox };
}

const nothing = { messages: [], events: [], outbox: [] };

describe('ingestMetaWebhook', () => {
  it('splits a platform-wide payload between the tenants owning its numbers, each in its own rows and lanes', async () => {
    const a = await onboard();
    // A platform-wide Meta app has one app secret for all its numbers.
    const c = await onboard({ appSecret: a.appSecret });
    const forA = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550301', body: 'for A' });
    const forC = buildTextMessage({ phoneNumberId: c.phoneNumberId, from: '16505550302', body: 'for C' });
    const statusForC = buildStatus({ phoneNumberId: c.phoneNumberId, wamid: `wamid.${randomUUID()}`, status: 'delivered' });

    const result = await ingestMetaWebhook(deps, signedMeta(batch([forA, forC, statusForC]), a.appSecret));

    expect(result).toEqual({ tenants: 2, newMessages: 2, newStatuses: 1, accountEvents: 0, held: 0 });
    const rows = await stored([wamidOf(forA), wamidOf(forC), wamidOf(statusForC)]);
    expect(rows.messages).toEqual([
      expect.objectContaining({ tenant_id: a.tenantId, wamid: wamidOf(forA), direction: 'inbound' }),
      expect.objectContaining({ tenant_id: c.tenantId, wamid: wamidOf(forC), direction: 'inbound' }),
    ]);
    expect(rows.events).toEqual([{ tenant_id: c.tenantId, kind: 'delivered' }]);
    expect(rows.outbox).toEqual(
      expect.arrayContaining([
        { tenant_id: a.tenantId, kind: 'to_genesys_message', lane: 'in:16505550301' },
        { tenant_id: c.tenantId, kind: 'to_genesys_message', lane: 'in:16505550302' },
        { tenant_id: c.tenantId, kind: 'to_genesys_receipt', lane: `rcpt:${wamidOf(statusForC)}` },
      ]),
    );
    expect(rows.outbox).toHaveLength(3);
    const contacts = await ownerQuery<{ tenant_id: string; wa_id: string }>(sys.tdb, `SELECT tenant_id, wa_id FROM conversation_mappings WHERE tenant_id = ANY($1) ORDER BY wa_id`, [[a.tenantId, c.tenantId]]);
    expect(contacts).toEqual([
      { tenant_id: a.tenantId, wa_id: '16505550301' },
      { tenant_id: c.tenantId, wa_id: '16505550302' },
    ]);
    expect(notifier.touches).toBe(1);
  });

  it('refuses a payload naming another tenant’s number at a tenant’s path, before storing any of it', async () => {
    const a = await onboard();
    const b = await onboard({ appSecret: a.appSecret });
    const forA = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550311', body: 'mine' });
    const forB = buildTextMessage({ phoneNumberId: b.phoneNumberId, from: '16505550312', body: 'not mine' });

    await expect(ingestMetaWebhook(deps, { ...signedMeta(batch([forA, forB]), a.appSecret), pathTenant: a.tenantId })).rejects.toMatchObject({
      code: 'PHONE_NUMBER_NOT_FOUND',
      status: 404,
    });
    expect(await stored([wamidOf(forA), wamidOf(forB)])).toEqual(nothing);
    expect(notifier.touches).toBe(0);
  });

  it('refuses an unknown path tenant like a bad signature, before reading the payload', async () => {
    const parse = jest.spyOn(JSON, 'parse');
    await expect(ingestMetaWebhook(deps, { raw: Buffer.from('not json'), signature: 'sha256=00', pathTenant: uniqueTenantId('nobody') })).rejects.toMatchObject({
      code: 'INVALID_SIGNATURE',
      status: 401,
    });
    expect(parse.mock.calls.some(([text]) => text === 'not json')).toBe(false);
    parse.mockRestore();
  });

  it('stores, on the platform route, the owned number’s message and holds the one for a number nobody owns (was 401 for the whole payload)', async () => {
    const a = await onboard();
    const forA = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550313', body: 'mine' });
    const forNobody = buildTextMessage({ phoneNumberId: uniqueNumericId(), from: '16505550314', body: 'nobody’s' });
    expect(await ingestMetaWebhook(deps, signedMeta(batch([forA, forNobody]), a.appSecret))).toEqual({ tenants: 1, newMessages: 1, newStatuses: 0, accountEvents: 0, held: 1 });
    expect((await stored([wamidOf(forA), wamidOf(forNobody)])).messages).toEqual([expect.objectContaining({ tenant_id: a.tenantId, wamid: wamidOf(forA) })]);
  });

  it('refuses, on the platform route, a payload naming only numbers nobody owns 401 (no secret to check it with)', async () => {
    const a = await onboard();
    const forNobody = buildTextMessage({ phoneNumberId: uniqueNumericId(), from: '16505550314', body: 'nobody’s' });
    await expect(ingestMetaWebhook(deps, signedMeta(forNobody, a.appSecret))).rejects.toMatchObject({ code: 'INVALID_SIGNATURE', status: 401 });
    expect(await stored([wamidOf(forNobody)])).toEqual(nothing);
  });

  it('refuses a payload for two tenants signed with one tenant’s secret only, storing nothing', async () => {
    const a = await onboard();
    const b = await onboard();
    const forA = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550321', body: 'a' });
    const forB = buildTextMessage({ phoneNumberId: b.phoneNumberId, from: '16505550322', body: 'b' });

    await expect(ingestMetaWebhook(deps, signedMeta(batch([forA, forB]), a.appSecret))).rejects.toMatchObject({ code: 'INVALID_SIGNATURE', status: 401 });
    expect(await stored([wamidOf(forA), wamidOf(forB)])).toEqual(nothing);
  });

  it('refuses a suspended tenant’s payload, storing nothing', async () => {
    const s = await onboard({}, 'suspended');
    const message = buildTextMessage({ phoneNumberId: s.phoneNumberId, from: '16505550331', body: 'hello?' });

    await expect(ingestMetaWebhook(deps, { ...signedMeta(message, s.appSecret), pathTenant: s.tenantId })).rejects.toMatchObject({
      code: 'TENANT_SUSPENDED',
      status: 423,
      message: 'This tenant is suspended: Unpaid invoice 2026-11',
    });
    expect(await stored([wamidOf(message)])).toEqual(nothing);
  });

  it.each([
    ['not a number', 'yesterday'],
    ['beyond what can be stored', '1e300'],
    ['years ahead', String(Date.now() / 1000 + 10 * 365 * 86_400)],
  ])('stores a status whose timestamp is %s at the time of receipt, with the good messages of its change', async (_case, timestamp) => {
    const a = await onboard();
    const good = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550381', body: 'still here' });
    const status = buildStatus({ phoneNumberId: a.phoneNumberId, wamid: `wamid.${randomUUID()}`, status: 'delivered' });
    const payload = batch([good, status]);
    const change = payload.entry[0].changes;
    expect(change).toHaveLength(1);
    change[0].value.statuses![0].timestamp = timestamp;

    const before = Date.now();
    expect(await ingestMetaWebhook(deps, { ...signedMeta(payload, a.appSecret), pathTenant: a.tenantId })).toEqual({ tenants: 1, newMessages: 1, newStatuses: 1, accountEvents: 0, held: 0 });
    const [receipt] = await ownerQuery<{ ordering: Date }>(sys.tdb, `SELECT ordering FROM outbox WHERE tenant_id = $1 AND kind = 'to_genesys_receipt'`, [a.tenantId]);
    expect(receipt.ordering.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(receipt.ordering.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    expect((await stored([wamidOf(good)])).messages).toHaveLength(1);
  });

  it('stores a message whose timestamp is beyond what can be stored at the time of receipt', async () => {
    const a = await onboard();
    const message = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550391', body: 'from the future' });
    message.entry[0].changes[0].value.messages![0].timestamp = '1e300';
    expect(await ingestMetaWebhook(deps, { ...signedMeta(message, a.appSecret), pathTenant: a.tenantId })).toMatchObject({ newMessages: 1 });
    const [mapping] = await ownerQuery<{ last_message_at: Date }>(sys.tdb, 'SELECT last_message_at FROM conversation_mappings WHERE tenant_id = $1', [a.tenantId]);
    expect(Math.abs(mapping.last_message_at.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('stores text PostgreSQL cannot hold as such (U+0000, half an emoji) with U+FFFD, with the good messages of its change', async () => {
    const a = await onboard();
    const nul = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550395', body: 'a\u0000b' });
    const halfEmoji = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550395', body: 'cut \ud83d' });
    const good = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550395', body: 'fine' });
    const payload = batch([nul, halfEmoji, good]);
    expect(await ingestMetaWebhook(deps, { ...signedMeta(payload, a.appSecret), pathTenant: a.tenantId })).toMatchObject({ newMessages: 3 });
    const bodies = await ownerQuery<{ body: string }>(sys.tdb, `SELECT payload->'message'->'text'->>'body' AS body FROM message_tracking WHERE tenant_id = $1 ORDER BY id`, [a.tenantId]);
    expect(bodies.map((r) => r.body)).toEqual(['a\ufffdb', 'cut \ufffd', 'fine']);
  });

  it('gives a sender no name, username or ids from a lone contact that names someone else', async () => {
    const a = await onboard();
    const message = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550396', userId: 'US.396', body: 'who am I' });
    const value = message.entry[0].changes[0].value;
    value.contacts = [{ wa_id: '16505550397', user_id: 'US.397', profile: { name: 'Mallory', username: 'mallory' } }];
    expect(await ingestMetaWebhook(deps, { ...signedMeta(message, a.appSecret), pathTenant: a.tenantId })).toMatchObject({ newMessages: 1 });
    const mappings = await ownerQuery<{ wa_id: string; phone: string | null; user_id: string | null; contact_name: string | null; username: string | null }>(
      sys.tdb,
      'SELECT wa_id, phone, user_id, contact_name, username FROM conversation_mappings WHERE tenant_id = $1',
      [a.tenantId],
    );
    expect(mappings).toEqual([{ wa_id: '16505550396', phone: '16505550396', user_id: 'US.396', contact_name: null, username: null }]);
    const [row] = await ownerQuery<{ contact: unknown }>(sys.tdb, `SELECT payload->'contact' AS contact FROM message_tracking WHERE tenant_id = $1`, [a.tenantId]);
    expect(row.contact).toBeNull();
  });

  it('stores a repeated delivery once: the repeat adds no row, queues nothing and wakes no worker', async () => {
    const a = await onboard();
    const message = buildTextMessage({ phoneNumberId: a.phoneNumberId, from: '16505550341', body: 'twice' });
    const delivery = { ...signedMeta(message, a.appSecret), pathTenant: a.tenantId };

    expect(await ingestMetaWebhook(deps, delivery)).toEqual({ tenants: 1, newMessages: 1, newStatuses: 0, accountEvents: 0, held: 0 });
    expect(await ingestMetaWebhook(deps, delivery)).toEqual({ tenants: 1, newMessages: 0, newStatuses: 0, accountEvents: 0, held: 0 });

    const rows = await stored([wamidOf(message)]);
    expect(rows.messages).toHaveLength(1);
    expect(rows.outbox).toHaveLength(1);
    expect(notifier.touches).toBe(1);
  });
});

describe('ingestGenesysWebhook', () => {
  /** An agent's reply as Genesys posts it, signed with the tenant's webhook secret. */
  function agentReply(t: BridgeTenant, waId: string, secret = t.webhookSecret) {
    const body = { id: randomUUID(), type: 'Text', text: 'How can I help?', direction: 'Outbound', channel: { platform: 'Open', to: { id: waId }, time: new Date().toISOString() } };
    const raw = Buffer.from(JSON.stringify(body));
    return { id: body.id, input: { tenantId: t.tenantId, raw, signature: signGenesys(secret, raw) } };
  }

  it('queues an agent’s reply once, however often Genesys delivers it', async () => {
    const t = await onboard();
    const reply = agentReply(t, '16505550351');

    expect(await ingestGenesysWebhook(deps, reply.input)).toBe('queued');
    expect(await ingestGenesysWebhook(deps, reply.input)).toBe('duplicate');

    const rows = await stored([reply.id]);
    expect(rows.messages).toEqual([{ tenant_id: t.tenantId, wamid: null, genesys_message_id: reply.id, direction: 'outbound' }]);
    expect(rows.outbox).toEqual([{ tenant_id: t.tenantId, kind: 'to_whatsapp_message', lane: 'out:16505550351' }]);
    expect(notifier.touches).toBe(1);
  });

  it('queues an agent’s reply whose time is beyond what can be stored at the time of receipt', async () => {
    const t = await onboard();
    const body = { id: randomUUID(), type: 'Text', text: 'Hi', direction: 'Outbound', channel: { platform: 'Open', to: { id: '16505550352' }, time: '+275760-09-13T00:00:00Z' } };
    const raw = Buffer.from(JSON.stringify(body));
    expect(await ingestGenesysWebhook(deps, { tenantId: t.tenantId, raw, signature: signGenesys(t.webhookSecret, raw) })).toBe('queued');
    const [row] = await ownerQuery<{ provider_timestamp: Date }>(sys.tdb, 'SELECT provider_timestamp FROM message_tracking WHERE genesys_message_id = $1', [body.id]);
    expect(Math.abs(row.provider_timestamp.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('queues an agent’s reply carrying U+0000 (in its id and text), which PostgreSQL cannot hold, with U+FFFD', async () => {
    const t = await onboard();
    const body = { id: `${randomUUID()}\u0000`, type: 'Text', text: 'a\u0000b', direction: 'Outbound', channel: { platform: 'Open', to: { id: '16505550353' } } };
    const raw = Buffer.from(JSON.stringify(body));
    expect(await ingestGenesysWebhook(deps, { tenantId: t.tenantId, raw, signature: signGenesys(t.webhookSecret, raw) })).toBe('queued');
    const [row] = await ownerQuery<{ text: string }>(sys.tdb, `SELECT payload->>'text' AS text FROM message_tracking WHERE genesys_message_id = $1`, [body.id.replace('\u0000', '\ufffd')]);
    expect(row.text).toBe('a\ufffdb');
  });

  it('records a receipt once and queues nothing for it', async () => {
    const t = await onboard();
    const receipt = { id: randomUUID(), type: 'Receipt', status: 'Read', direction: 'Outbound', channel: { to: { id: '16505550361' } } };
    const raw = Buffer.from(JSON.stringify(receipt));
    const input = { tenantId: t.tenantId, raw, signature: signGenesys(t.webhookSecret, raw) };

    expect(await ingestGenesysWebhook(deps, input)).toBe('recorded');
    expect(await ingestGenesysWebhook(deps, input)).toBe('duplicate');
    const rows = await stored([receipt.id]);
    expect(rows.events).toEqual([{ tenant_id: t.tenantId, kind: 'receipt' }]);
    expect(rows.outbox).toEqual([]);
    expect(notifier.touches).toBe(0);
  });

  it('refuses another secret’s signature and an unknown tenant alike (401), storing nothing', async () => {
    const t = await onboard();
    const forged = agentReply(t, '16505550371', 'someone-else-s-webhook-secret');
    await expect(ingestGenesysWebhook(deps, forged.input)).rejects.toMatchObject({ code: 'INVALID_SIGNATURE', status: 401 });
    const unknown = agentReply(t, '16505550372');
    await expect(ingestGenesysWebhook(deps, { ...unknown.input, tenantId: uniqueTenantId('nobody') })).rejects.toMatchObject({ code: 'INVALID_SIGNATURE', status: 401 });
    expect(await stored([forged.id, unknown.id])).toEqual(nothing);
  });
});
