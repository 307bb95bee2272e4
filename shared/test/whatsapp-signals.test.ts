import { Database, queueAgentActivitySignal, queueDeliveredReadMark, type MarkReadSetting } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';

/**
 * What an agent's typing and replies, and deliveries to Genesys, queue for the customer (read
 * marks, typing indicators), against a real PostgreSQL as the application role: the tenant's
 * `markRead`, the customer's window, and the dedupe on the conversation mapping, which holds
 * under concurrent webhooks.
 */
let tdb: TestDatabase;
let db: Database;
const T = 'tenant-signals';
const OTHER = 'tenant-other';
let n = 0;
/** A customer number of its own per test. */
const customer = () => `1650555${String(1000 + ++n).padStart(4, '0')}`;
const HOUR = 3_600_000;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl, max: 20 });
  for (const t of [T, OTHER]) await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [t]);
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});
beforeEach(() => setMarkRead('on-agent-activity'));

const setMarkRead = (markRead: MarkReadSetting) => ownerQuery(tdb, 'UPDATE tenants SET mark_read = $2 WHERE tenant_id = $1', [T, markRead]);

/** The customer `waId` wrote `ago` ms ago: a stored message and their mapping; returns the message's id and wamid. */
async function customerWrote(waId: string, ago = 0, tenantId = T, status = 'delivered'): Promise<{ id: string; wamid: string }> {
  const wamid = `wamid.${waId}.${++n}`;
  const [row] = await ownerQuery<{ id: string }>(
    tdb,
    `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type, provider_timestamp, status)
     VALUES ($1, 'inbound', $2, $3, 'text', now() - $4 * interval '1 millisecond', $5) RETURNING id::text`,
    [tenantId, waId, wamid, ago, status],
  );
  await ownerQuery(
    tdb,
    `INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at) VALUES ($1, $2, now() - $3 * interval '1 millisecond')
     ON CONFLICT (tenant_id, wa_id) DO UPDATE SET last_inbound_at = EXCLUDED.last_inbound_at`,
    [tenantId, waId, ago],
  );
  return { id: row.id, wamid };
}

const typed = (waId: string, intervalMs = 60_000, tenantId = T) => db.withTenant(tenantId, (q) => queueAgentActivitySignal(q, tenantId, waId, 'typing', intervalMs));
const replied = (waId: string) => db.withTenant(T, (q) => queueAgentActivitySignal(q, T, waId, 'reply'));
const delivered = (message: { id: string }, waId: string) => db.withTenant(T, (q) => queueDeliveredReadMark(q, T, { id: message.id, waId }));

/** The signal jobs queued for a customer, oldest first. */
const jobs = (waId: string) =>
  ownerQuery<{ kind: string; lane: string; message_id: string | null; payload: Record<string, string> }>(
    tdb,
    `SELECT kind, lane, message_id, payload FROM outbox WHERE kind = 'to_whatsapp_signal' AND lane = $1 ORDER BY id`,
    [`sig:${waId}`],
  );
const signals = async (waId: string) => (await jobs(waId)).map((j) => [j.payload.signal, j.payload.wamid]);

/** Moves the customer's typing interval into the past (time passing, without waiting). */
const intervalOver = (waId: string) => ownerQuery(tdb, `UPDATE conversation_mappings SET typing_until = now() - interval '1 second' WHERE tenant_id = $1 AND wa_id = $2`, [T, waId]);

describe('an agent typing', () => {
  it('queues a typing indicator on the customer’s newest message, in the customer’s signal lane, tied to no message delivery', async () => {
    const waId = customer();
    await customerWrote(waId, 60_000);
    const newest = await customerWrote(waId);
    expect(await typed(waId)).toBe('typing');
    const [job] = await jobs(waId);
    expect(job).toEqual({
      kind: 'to_whatsapp_signal',
      lane: `sig:${waId}`,
      message_id: null,
      payload: { signal: 'typing', wamid: newest.wamid, messageId: newest.id, waId },
    });
    const [mapping] = await ownerQuery<{ typingIn: number; readThrough: string }>(
      tdb,
      `SELECT (extract(epoch FROM typing_until - now()) * 1000)::float8 AS "typingIn", read_through::text AS "readThrough" FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2`,
      [T, waId],
    );
    expect(mapping.readThrough).toBe(newest.id);
    expect(mapping.typingIn).toBeGreaterThan(55_000);
  });

  it('queues one typing indicator for a storm of 50 concurrent typing events, and the next only after the interval', async () => {
    const waId = customer();
    const message = await customerWrote(waId);
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => typed(waId)));
    expect(outcomes.filter((o) => o === 'typing')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'typing')).toEqual(Array(49).fill(undefined));
    expect(await signals(waId)).toEqual([['typing', message.wamid]]);

    await intervalOver(waId);
    expect(await typed(waId)).toBe('typing');
    expect(await typed(waId)).toBeUndefined();
    expect(await signals(waId)).toEqual([
      ['typing', message.wamid],
      ['typing', message.wamid],
    ]);
  });

  it('within the interval, still marks a newer customer message read (on-agent-activity)', async () => {
    const waId = customer();
    const first = await customerWrote(waId);
    expect(await typed(waId)).toBe('typing');
    const second = await customerWrote(waId);
    expect(await typed(waId)).toBe('read');
    expect(await typed(waId)).toBeUndefined();
    expect(await signals(waId)).toEqual([
      ['typing', first.wamid],
      ['read', second.wamid],
    ]);
  });

  it('queues nothing after the customer’s 24-hour window closed (a newer message is still marked read), nor for a customer who never wrote', async () => {
    const waId = customer();
    const old = await customerWrote(waId, 24 * HOUR + 1000);
    expect(await typed(waId)).toBe('read');
    expect(await typed(waId)).toBeUndefined();
    expect(await signals(waId)).toEqual([['read', old.wamid]]);

    const stranger = customer();
    expect(await typed(stranger)).toBeUndefined();
    expect(await replied(stranger)).toBeUndefined();
    // A mapping without any stored message (e.g. made through the tenant API): nothing to mark.
    await ownerQuery(tdb, 'INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at) VALUES ($1, $2, now())', [T, stranger]);
    expect(await typed(stranger)).toBeUndefined();
    expect(await jobs(stranger)).toEqual([]);
  });

  it('never marks read (nor types on) a customer message Genesys does not have yet: the agent cannot have seen it', async () => {
    const waId = customer();
    const seen = await customerWrote(waId);
    // Still queued for Genesys (e.g. Genesys failing), or given up: the agent never saw them.
    await customerWrote(waId, 0, T, 'pending');
    await customerWrote(waId, 0, T, 'dead');
    expect(await typed(waId)).toBe('typing');
    expect(await replied(waId)).toBeUndefined();
    expect(await signals(waId)).toEqual([['typing', seen.wamid]]);

    const unseen = customer();
    await customerWrote(unseen, 0, T, 'pending');
    expect(await typed(unseen)).toBeUndefined();
    expect(await replied(unseen)).toBeUndefined();
    expect(await jobs(unseen)).toEqual([]);
  });

  it('just inside the window, still types', async () => {
    const waId = customer();
    await customerWrote(waId, 24 * HOUR - 5_000);
    expect(await typed(waId)).toBe('typing');
  });

  it('addressed to a number the customer moved from, types on the new number’s newest message, in its lane', async () => {
    const [oldNumber, newNumber] = [customer(), customer()];
    const message = await customerWrote(newNumber);
    await ownerQuery(tdb, 'INSERT INTO conversation_aliases (tenant_id, wa_id, moved_to) VALUES ($1, $2, $3)', [T, oldNumber, newNumber]);
    expect(await typed(oldNumber)).toBe('typing');
    expect(await signals(newNumber)).toEqual([['typing', message.wamid]]);
  });

  it('of another tenant touches only that tenant’s customer', async () => {
    const waId = customer();
    await customerWrote(waId, 0, OTHER);
    expect(await typed(waId)).toBeUndefined();
    expect(await typed(waId, 60_000, OTHER)).toBe('typing');
  });
});

describe('markRead', () => {
  it('on-agent-activity: a reply marks the newest message read once; a newer one is marked at the next reply', async () => {
    const waId = customer();
    const first = await customerWrote(waId);
    expect(await delivered(first, waId)).toBe(false);
    expect(await replied(waId)).toBe('read');
    expect(await replied(waId)).toBeUndefined();
    const second = await customerWrote(waId);
    expect(await replied(waId)).toBe('read');
    expect(await signals(waId)).toEqual([
      ['read', first.wamid],
      ['read', second.wamid],
    ]);
  });

  it('on-delivery: each delivered message is marked read once, an older one not after a newer; replies mark nothing; typing still types', async () => {
    await setMarkRead('on-delivery');
    const waId = customer();
    const first = await customerWrote(waId);
    const second = await customerWrote(waId);
    expect(await replied(waId)).toBeUndefined();
    expect(await delivered(second, waId)).toBe(true);
    expect(await delivered(second, waId)).toBe(false);
    expect(await delivered(first, waId)).toBe(false);
    expect(await typed(waId)).toBe('typing');
    expect(await signals(waId)).toEqual([
      ['read', second.wamid],
      ['typing', second.wamid],
    ]);
  });

  it('never: no read mark and no typing indicator (WhatsApp has none without a read mark)', async () => {
    await setMarkRead('never');
    const waId = customer();
    const message = await customerWrote(waId);
    expect(await typed(waId)).toBeUndefined();
    expect(await replied(waId)).toBeUndefined();
    expect(await delivered(message, waId)).toBe(false);
    expect(await jobs(waId)).toEqual([]);
  });
});
