import { Database, lanes, type Queryable } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { storeAgentMessage, storeMetaUpdates } from '../src/store';

/**
 * The webhook store queues each new message and status in the statement that stores it (the
 * outbox's enqueue composed into the store's CTEs): one round trip per kind, and nothing queued
 * for what was already stored.
 */
let tdb: TestDatabase;
let db: Database;
const T = 'tenant-a';

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [T]);
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});

/** Runs `fn` in a tenant transaction, counting its statements. */
async function counted<R>(fn: (q: Queryable) => Promise<R>): Promise<{ result: R; statements: number }> {
  return db.withTenant(T, async (q) => {
    let statements = 0;
    const counting = { query: ((...args: unknown[]) => (statements++, (q.query as (...a: unknown[]) => unknown)(...args))) as Queryable['query'] };
    const result = await fn(counting);
    return { result, statements };
  });
}

const jobs = () =>
  ownerQuery<{ kind: string; lane: string; ordering: Date; message_id: string | null; event_id: string | null }>(
    tdb,
    'SELECT kind, lane, ordering, message_id::text, event_id::text FROM outbox WHERE tenant_id = $1 ORDER BY id',
    [T],
  );

describe('the webhook store queues what it stores', () => {
  const WA = '16505550101';
  const ts = 1_735_732_800; // 2025-01-01T12:00:00Z
  const updates = {
    messages: [
      { waId: WA, wamid: 'wamid.M1', type: 'text', ts, payload: { id: 'wamid.M1' } },
      { waId: WA, wamid: 'wamid.M2', type: 'text', ts: ts + 1, payload: { id: 'wamid.M2' } },
    ],
    statuses: [{ wamid: 'wamid.OUT1', status: 'delivered', ts: ts + 2, payload: { id: 'wamid.OUT1', status: 'delivered', timestamp: String(ts + 2) } }],
    contacts: [{ waId: WA, name: 'Sheena', phoneNumberId: '106540352242922', ts }],
  };

  it('stores a Meta webhook’s messages, statuses and contacts in one statement each, their deliveries queued on their lanes', async () => {
    const { result, statements } = await counted((q) => storeMetaUpdates(q, T, updates));
    expect(result).toEqual({ messages: 2, statuses: 1 });
    expect(statements).toBe(3);

    const [m1, m2] = await ownerQuery<{ id: string }>(tdb, 'SELECT id::text FROM message_tracking WHERE tenant_id = $1 ORDER BY id', [T]);
    const [event] = await ownerQuery<{ id: string }>(tdb, 'SELECT id::text FROM message_events WHERE tenant_id = $1', [T]);
    expect(await jobs()).toEqual([
      { kind: 'to_genesys_message', lane: lanes.inbound(WA), ordering: new Date(ts * 1000), message_id: m1.id, event_id: null },
      { kind: 'to_genesys_message', lane: lanes.inbound(WA), ordering: new Date((ts + 1) * 1000), message_id: m2.id, event_id: null },
      { kind: 'to_genesys_receipt', lane: lanes.receipts('wamid.OUT1'), ordering: new Date((ts + 2) * 1000), message_id: null, event_id: event.id },
    ]);
  });

  it('queues nothing again for a repeated webhook', async () => {
    const { result } = await counted((q) => storeMetaUpdates(q, T, updates));
    expect(result).toEqual({ messages: 0, statuses: 0 });
    expect(await jobs()).toHaveLength(3);
  });

  it('stores an agent message and queues its send on the customer’s outbound lane, once', async () => {
    const agent = { genesysMessageId: 'gmsg-1', waId: WA, type: 'Text', time: '2025-01-01T12:00:05.000Z', payload: { id: 'gmsg-1' } };
    const first = await counted((q) => storeAgentMessage(q, T, agent));
    expect(first.result).toBe(true);
    const again = await counted((q) => storeAgentMessage(q, T, agent));
    expect(again.result).toBe(false);

    const queued = (await jobs()).filter((j) => j.kind === 'to_whatsapp_message');
    expect(queued).toEqual([{ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), ordering: new Date(agent.time), message_id: expect.any(String), event_id: null }]);
  });

  it('queues a status at the sanitised time it is given, whatever its raw payload says', async () => {
    const status = { wamid: 'wamid.OUT9', status: 'read', ts: ts + 9, payload: { id: 'wamid.OUT9', status: 'read', timestamp: 'not a number' } };
    await counted((q) => storeMetaUpdates(q, T, { messages: [], statuses: [status, { ...status, payload: { ...status.payload, repeated: true } }], contacts: [] }));
    const queued = (await jobs()).filter((j) => j.lane === lanes.receipts('wamid.OUT9'));
    expect(queued).toEqual([expect.objectContaining({ kind: 'to_genesys_receipt', ordering: new Date((ts + 9) * 1000) })]);
  });
});
