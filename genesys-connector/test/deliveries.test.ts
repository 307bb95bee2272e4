import { Database, createOutbox, lanes, type Job, type MetaCredentials, type Outbox } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { createDeliveries, type Deliveries } from '../src/deliveries';
import { permanent, transient } from '../src/errors';
import type { MetaSendBody } from '../src/mapping';

/**
 * The deliveries against a real PostgreSQL with the providers faked: each loads its message,
 * maps it, sends it and records the outcome with the removal of its job; giving up an agent's
 * reply reports it to Genesys with a Failed receipt.
 */
let tdb: TestDatabase;
let db: Database;
let outbox: Outbox;
let deliveries: Deliveries;
const T = 'tenant-a';
const WA = '16505550101';
const credentials: MetaCredentials = { appSecret: 's', verifyToken: 'v', accessToken: 'EAAG-token', phoneNumberId: '106540352242922' } as MetaCredentials;

const genesysCalls: Array<{ endpoint: string; body: unknown }> = [];
let genesysAnswer: Record<string, unknown> = {};
const metaSends: MetaSendBody[] = [];
let metaFailsAt: number | undefined;
let touches = 0;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  outbox = createOutbox(db);
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [T]);
  deliveries = createDeliveries({
    db,
    outbox,
    notifier: { touch: () => void touches++ },
    genesys: {
      send: async <R>(_tenantId: string, endpoint: string, body: unknown) => {
        genesysCalls.push({ endpoint, body });
        return genesysAnswer as R;
      },
    },
    meta: {
      send: async (_c: MetaCredentials, body: MetaSendBody) => {
        if (metaSends.length === metaFailsAt) {
          metaFailsAt = undefined;
          throw transient('META_UNAVAILABLE', 'Meta 503');
        }
        metaSends.push(body);
        return `wamid.sent.${metaSends.length}`;
      },
    },
    credentials: { meta: async () => credentials },
    mediaUrl: (tenantId, media) => `https://bridge.example.com/media/${tenantId}/${media.mediaId}`,
  });
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});
beforeEach(async () => {
  genesysCalls.length = 0;
  metaSends.length = 0;
  genesysAnswer = {};
  metaFailsAt = undefined;
  touches = 0;
  await ownerQuery(tdb, 'DELETE FROM outbox');
});

const owner = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<R>(tdb, sql, params);

async function insertMessage(direction: 'inbound' | 'outbound', fields: { wamid?: string; genesysMessageId?: string; payload: object; status?: string }) {
  const [row] = await owner<{ id: string }>(
    `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, genesys_message_id, message_type, payload, status)
     VALUES ($1, $2, $3, $4, $5, 'text', $6, $7) RETURNING id::text`,
    [T, direction, WA, fields.wamid ?? null, fields.genesysMessageId ?? null, JSON.stringify(fields.payload), fields.status ?? 'pending'],
  );
  return row.id;
}

/** Queues a job and claims it, as the worker would. */
async function claimed(job: { kind: Job['kind']; lane: string; messageId?: string; eventId?: string }): Promise<Job> {
  await db.withTenant(T, (q) => outbox.enqueue(q, { tenantId: T, ...job }));
  const [claimedJob] = await outbox.claim(1, 60_000, []);
  return claimedJob;
}

const message = (id: string) =>
  owner<{ status: string; error_code: string | null; error_message: string | null; genesys_conversation_id: string | null; wamid: string | null; payload: Record<string, unknown> }>(
    'SELECT status, error_code, error_message, genesys_conversation_id, wamid, payload FROM message_tracking WHERE id = $1',
    [id],
  ).then((r) => r[0]);
const outboxRows = () => owner<{ kind: string; lane: string; state: string; payload: Record<string, unknown>; last_error: string | null }>('SELECT kind, lane, state, payload, last_error FROM outbox ORDER BY id');

describe('a customer message to Genesys', () => {
  it('is sent mapped, recorded delivered with the conversation it joined, and its job removed', async () => {
    await owner('INSERT INTO conversation_mappings (tenant_id, wa_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [T, WA]);
    const wamid = 'wamid.IN1';
    const id = await insertMessage('inbound', {
      wamid,
      payload: { message: { from: WA, id: wamid, timestamp: '1735732800', type: 'text', text: { body: 'Hello' } }, contact: { profile: { name: 'Sheena' }, wa_id: WA } },
    });
    genesysAnswer = { id: 'gmsg-in-1', conversationId: 'conv-1' };
    await deliveries.deliver(await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id }));

    expect(genesysCalls).toEqual([{ endpoint: 'message', body: expect.objectContaining({ text: 'Hello', channel: expect.objectContaining({ messageId: wamid }) }) }]);
    expect(await message(id)).toMatchObject({ status: 'delivered', genesys_conversation_id: 'conv-1' });
    const [mapping] = await owner<{ conversation_id: string }>('SELECT conversation_id FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2', [T, WA]);
    expect(mapping.conversation_id).toBe('conv-1');
    expect(await outboxRows()).toEqual([]);
  });

  it('is not sent again once it is no longer pending', async () => {
    const id = await insertMessage('inbound', { wamid: 'wamid.IN2', payload: {}, status: 'delivered' });
    await deliveries.deliver(await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id }));
    expect(genesysCalls).toEqual([]);
    expect(await outboxRows()).toEqual([]);
  });

  it('that cannot be mapped fails permanently', async () => {
    const id = await insertMessage('inbound', { wamid: 'wamid.IN3', payload: { message: { from: WA, type: 'text', text: { body: 'no id' } } } });
    await expect(deliveries.deliver(await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id }))).rejects.toMatchObject({
      kind: 'permanent',
      code: 'UNMAPPABLE_MESSAGE',
    });
  });
});

describe('an agent reply to WhatsApp', () => {
  it('resumes a multi-part send after the part that failed, and records every part’s wamid', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-1', payload: { id: 'gmsg-out-1', type: 'Text', text: 'x'.repeat(5_000) } });
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), messageId: id });
    metaFailsAt = 1;
    await expect(deliveries.deliver(job)).rejects.toMatchObject({ code: 'META_UNAVAILABLE' });
    expect(metaSends).toHaveLength(1);
    expect((await outboxRows())[0].payload).toEqual({ wamids: ['wamid.sent.1'] });

    await deliveries.deliver(job); // the retry
    expect(metaSends).toHaveLength(2);
    expect(await message(id)).toMatchObject({ status: 'sent', wamid: 'wamid.sent.1', payload: expect.objectContaining({ wamids: ['wamid.sent.1', 'wamid.sent.2'] }) });
    expect(await outboxRows()).toEqual([]);
  });
});

describe('an agent reply with nothing WhatsApp can show', () => {
  it('fails for good at once, sending nothing', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-empty', payload: { id: 'gmsg-out-empty', type: 'Text', text: '  ', content: [{ contentType: 'Attachment', attachment: { url: 'ftp://x' } }] } });
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), messageId: id });
    await expect(deliveries.deliver(job)).rejects.toMatchObject({ kind: 'permanent', code: 'EMPTY_MESSAGE' });
    expect(metaSends).toEqual([]);
  });
});

describe('a Meta status to a Genesys receipt', () => {
  async function status(wamid: string, payload: object) {
    const [row] = await owner<{ id: string }>(
      `INSERT INTO message_events (tenant_id, source, kind, provider_key, wamid, payload) VALUES ($1, 'meta', $2, $3, $4, $5) RETURNING id::text`,
      [T, (payload as { status: string }).status, `${wamid}:${(payload as { status: string }).status}`, wamid, JSON.stringify(payload)],
    );
    return row.id;
  }

  it('sends the receipt and moves the message’s status forward, never back', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-2', wamid: 'wamid.OUT2', payload: {}, status: 'read' });
    const eventId = await status('wamid.OUT2', { id: 'wamid.OUT2', status: 'delivered', timestamp: '1735732800', recipient_id: WA });
    await deliveries.deliver(await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts('wamid.OUT2'), eventId }));
    expect(genesysCalls).toEqual([{ endpoint: 'receipt', body: expect.objectContaining({ id: 'gmsg-out-2', status: 'Delivered' }) }]);
    expect((await message(id)).status).toBe('read');
    expect(await outboxRows()).toEqual([]);
  });

  it('records a failed status with Meta’s reason', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-3', wamid: 'wamid.OUT3', payload: {}, status: 'sent' });
    const eventId = await status('wamid.OUT3', {
      id: 'wamid.OUT3',
      status: 'failed',
      timestamp: '1735732800',
      recipient_id: WA,
      errors: [{ code: 131047, title: 'Re-engagement message' }],
    });
    await deliveries.deliver(await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts('wamid.OUT3'), eventId }));
    expect(await message(id)).toMatchObject({ status: 'failed', error_code: 'MessageExpired' });
  });

  it.each([
    ['no recipient', { recipient_id: undefined }, 'has no recipient'],
    ['a time that is not a number', { timestamp: 'yesterday' }, 'has no valid timestamp'],
  ])('that cannot be built (%s) fails for good at once, with its reason, sending nothing', async (_case, change, reason) => {
    const wamid = `wamid.OUT5.${reason.length}`;
    const id = await insertMessage('outbound', { genesysMessageId: `gmsg-${wamid}`, wamid, payload: {}, status: 'sent' });
    const eventId = await status(wamid, { id: wamid, status: 'delivered', timestamp: '1735732800', recipient_id: WA, ...change });
    const job = await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts(wamid), eventId });
    await expect(deliveries.deliver(job)).rejects.toMatchObject({ kind: 'permanent', code: 'UNMAPPABLE_RECEIPT', message: expect.stringContaining(reason) });
    expect(genesysCalls).toEqual([]);
    expect((await message(id)).status).toBe('sent');
  });

  it('waits for a status that arrives before its send is recorded', async () => {
    const eventId = await status('wamid.UNKNOWN', { id: 'wamid.UNKNOWN', status: 'read', timestamp: '1735732800', recipient_id: WA });
    await expect(deliveries.deliver(await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts('wamid.UNKNOWN'), eventId }))).rejects.toMatchObject({
      kind: 'transient',
      code: 'MESSAGE_NOT_YET_KNOWN',
    });
  });
});

describe('giving up', () => {
  it('an agent reply: marks it failed, and queues and announces a Failed receipt that is then sent as built', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-4', payload: { id: 'gmsg-out-4', type: 'Text', text: 'hi' } });
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), messageId: id });
    await deliveries.giveUp(job, permanent('META_REJECTED', 'Re-engagement message', 131047), 'failed');

    expect(await message(id)).toMatchObject({ status: 'failed', error_code: '131047', error_message: 'Re-engagement message' });
    const [ended, receiptJob] = await outboxRows();
    expect(ended).toMatchObject({ kind: 'to_whatsapp_message', state: 'failed', last_error: 'META_REJECTED: Re-engagement message' });
    expect(receiptJob).toMatchObject({ kind: 'to_genesys_receipt', lane: lanes.receipts('gmsg-out-4'), state: 'pending' });
    expect(receiptJob.payload.receipt).toEqual({
      id: 'gmsg-out-4',
      channel: { to: { id: WA, idType: 'Phone' }, time: expect.any(String) },
      status: 'Failed',
      direction: 'Outbound',
      isFinalReceipt: true,
      reasons: [{ code: 'MessageExpired', message: expect.stringContaining('(WhatsApp error 131047: Re-engagement message)') }],
    });
    expect(touches).toBe(1);

    const [receipt] = await outbox.claim(1, 60_000, []);
    await deliveries.deliver(receipt);
    expect(genesysCalls).toEqual([{ endpoint: 'receipt', body: receiptJob.payload.receipt }]);
  });

  it('a customer message: marks it dead, with nothing to report', async () => {
    const id = await insertMessage('inbound', { wamid: 'wamid.IN4', payload: {} });
    const job = await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id });
    await deliveries.giveUp(job, transient('GENESYS_UNAVAILABLE', 'Genesys 503'), 'dead');
    expect(await message(id)).toMatchObject({ status: 'dead', error_code: 'GENESYS_UNAVAILABLE' });
    expect((await outboxRows()).map((r) => r.state)).toEqual(['dead']);
    expect(touches).toBe(0);
  });
});
