import { Database, lanes, type Queryable } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { moveConversation, storeAgentMessage, storeMetaUpdates } from '../src/store';

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
      { customer: { phone: WA }, wamid: 'wamid.M1', type: 'text', ts, payload: { id: 'wamid.M1' } },
      { customer: { phone: WA }, wamid: 'wamid.M2', type: 'text', ts: ts + 1, payload: { id: 'wamid.M2' } },
    ],
    statuses: [{ wamid: 'wamid.OUT1', status: 'delivered', ts: ts + 2, payload: { id: 'wamid.OUT1', status: 'delivered', timestamp: String(ts + 2) } }],
    contacts: [{ phone: WA, name: 'Sheena', phoneNumberId: '106540352242922', ts }],
  };

  it('stores a Meta webhook’s messages, statuses and contacts in one statement each (and one for the customers’ locks), their deliveries queued on their lanes', async () => {
    const { result, statements } = await counted((q) => storeMetaUpdates(q, T, updates));
    expect(result).toEqual({ messages: 2, statuses: 1 });
    expect(statements).toBe(4);

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
    expect(first.result).toBe('queued');
    const again = await counted((q) => storeAgentMessage(q, T, agent));
    expect(again.result).toBe('duplicate');

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

describe('statuses find their agent message by any part', () => {
  it('queues a status of any part of a reply on the lane of that reply’s receipts; an unknown wamid on its own', async () => {
    const [msg] = await ownerQuery<{ id: string }>(
      tdb,
      `INSERT INTO message_tracking (tenant_id, direction, wa_id, genesys_message_id, wamid, message_type, status) VALUES ($1, 'outbound', '1650', 'gmsg-parts', 'wamid.P1', 'Text', 'sent') RETURNING id::text`,
      [T],
    );
    for (const [part, wamid] of [[1, 'wamid.P1'], [2, 'wamid.P2']] as const) {
      await ownerQuery(tdb, `INSERT INTO message_parts (tenant_id, message_id, part, part_count, kind, wamid, status) VALUES ($1, $2, $3, 2, 'text', $4, 'sent')`, [T, msg.id, part, wamid]);
    }
    const status = (wamid: string) => ({ wamid, status: 'failed', ts: 1_735_732_900, payload: { id: wamid, status: 'failed', timestamp: '1735732900' } });
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, { messages: [], statuses: [status('wamid.P2'), status('wamid.P1'), status('wamid.ELSEWHERE')], contacts: [] }));
    const lanesQueued = (await jobs()).filter((j) => j.kind === 'to_genesys_receipt').slice(-3).map((j) => j.lane);
    expect(lanesQueued).toEqual([lanes.receipts('gmsg-parts'), lanes.receipts('gmsg-parts'), lanes.receipts('wamid.ELSEWHERE')]);
    // Each at its own sanitised time, found through the part it is about.
    expect((await jobs()).slice(-3).map((j) => j.ordering)).toEqual(Array(3).fill(new Date(1_735_732_900 * 1000)));
  });
});

describe('a customer who changes number', () => {
  const mapping = (waId: string) =>
    ownerQuery<{ wa_id: string; genesys_id: string | null; conversation_id: string | null; contact_name: string | null }>(
      tdb,
      'SELECT wa_id, genesys_id, conversation_id, contact_name FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2',
      [T, waId],
    ).then((r) => r[0]);
  const aliases = () =>
    ownerQuery<{ wa_id: string; moved_to: string }>(tdb, 'SELECT wa_id, moved_to FROM conversation_aliases WHERE tenant_id = $1 ORDER BY wa_id', [T]);
  const change = (wamid: string, from: string, to: string) => ({
    messages: [{ customer: { phone: from }, wamid, type: 'system', ts: 1_735_733_000, payload: { message: { id: wamid, from, type: 'system' } } }],
    statuses: [],
    contacts: [{ phone: from, name: null, phoneNumberId: '106540352242922', ts: 1_735_733_000 }],
    numberChanges: [{ wamid, from, to }],
  });

  it('moves the conversation to the new number, keeping the id Genesys knows, and aliases the old number', async () => {
    await ownerQuery(tdb, `INSERT INTO conversation_mappings (tenant_id, wa_id, contact_name, conversation_id) VALUES ($1, '16500000001', 'Dana', 'conv-dana')`, [T]);
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, change('wamid.SYS1', '16500000001', '16500000002')));
    expect(await mapping('16500000001')).toBeUndefined();
    expect(await mapping('16500000002')).toEqual({ wa_id: '16500000002', genesys_id: '16500000001', conversation_id: 'conv-dana', contact_name: 'Dana' });
    expect(await aliases()).toEqual([{ wa_id: '16500000001', moved_to: '16500000002' }]);
  });

  it('a second change keeps the first id and points every old number at the newest; a redelivered change does nothing', async () => {
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, change('wamid.SYS2', '16500000002', '16500000003')));
    expect(await mapping('16500000003')).toMatchObject({ genesys_id: '16500000001', conversation_id: 'conv-dana' });
    const expected = [
      { wa_id: '16500000001', moved_to: '16500000003' },
      { wa_id: '16500000002', moved_to: '16500000003' },
    ];
    expect(await aliases()).toEqual(expected);
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, change('wamid.SYS1', '16500000001', '16500000002')));
    expect(await aliases()).toEqual(expected);
    expect(await mapping('16500000003')).toMatchObject({ genesys_id: '16500000001' });
  });

  it('moving back to an earlier number drops its alias', async () => {
    await db.withTenant(T, (q) => moveConversation(q, T, '16500000003', '16500000001'));
    expect(await aliases()).toEqual([
      { wa_id: '16500000002', moved_to: '16500000001' },
      { wa_id: '16500000003', moved_to: '16500000001' },
    ]);
    expect(await mapping('16500000001')).toMatchObject({ genesys_id: '16500000001', conversation_id: 'conv-dana' });
  });

  it('stores a change whose ids carry U+0000 (which PostgreSQL refuses) as the message is stored, once', async () => {
    const odd = change('wamid.SYS\u0000NUL', '1650000009\u0000', '16500000010');
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, odd));
    await db.withTenant(T, (q) => storeMetaUpdates(q, T, odd));
    expect(await mapping('16500000010')).toMatchObject({ genesys_id: '1650000009\ufffd' });
    expect(await aliases()).toContainEqual({ wa_id: '1650000009\ufffd', moved_to: '16500000010' });
  });
});

describe('a number change keeps the customer-service window', () => {
  const U = 'tenant-window';
  const lastInbound = (waId: string) =>
    ownerQuery<{ last_inbound_at: Date | null }>(tdb, 'SELECT last_inbound_at FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2', [U, waId]).then(
      (r) => r[0]?.last_inbound_at?.toISOString() ?? null,
    );

  beforeAll(async () => {
    await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [U]);
  });

  it('carries the old number’s last customer message to the new number', async () => {
    await ownerQuery(tdb, `INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at) VALUES ($1, '16600000001', '2025-01-01T12:00:00Z')`, [U]);
    await db.withTenant(U, (q) => moveConversation(q, U, '16600000001', '16600000002'));
    expect(await lastInbound('16600000002')).toBe('2025-01-01T12:00:00.000Z');
  });

  it('merging into a mapping the new number already has keeps the newer of the two', async () => {
    await ownerQuery(
      tdb,
      `INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at)
       VALUES ($1, '16600000003', '2025-01-02T12:00:00Z'), ($1, '16600000004', '2025-01-01T12:00:00Z'),
              ($1, '16600000005', '2025-01-01T12:00:00Z'), ($1, '16600000006', '2025-01-02T12:00:00Z')`,
      [U],
    );
    await db.withTenant(U, (q) => moveConversation(q, U, '16600000003', '16600000004'));
    expect(await lastInbound('16600000004')).toBe('2025-01-02T12:00:00.000Z');
    await db.withTenant(U, (q) => moveConversation(q, U, '16600000005', '16600000006'));
    expect(await lastInbound('16600000006')).toBe('2025-01-02T12:00:00.000Z');
  });
});

describe('customers by phone number or business-scoped user id: one mapping per person', () => {
  const V = 'tenant-bsuid';
  const PNID = '106540352242922';
  let n = 0;
  const mappings = () =>
    ownerQuery<{ wa_id: string; phone: string | null; user_id: string | null; username: string | null; contact_name: string | null }>(
      tdb,
      'SELECT wa_id, phone, user_id, username, contact_name FROM conversation_mappings WHERE tenant_id = $1 ORDER BY wa_id',
      [V],
    );
  const laneOf = async (wamid: string) =>
    (
      await ownerQuery<{ lane: string; wa_id: string }>(
        tdb,
        'SELECT o.lane, m.wa_id FROM outbox o JOIN message_tracking m ON m.tenant_id = o.tenant_id AND m.id = o.message_id WHERE o.tenant_id = $1 AND m.wamid = $2',
        [V, wamid],
      )
    )[0];
  /** One message from a customer named by `ids`, stored as the ingest stores it; returns its wamid. */
  async function writes(ids: { phone?: string; userId?: string }, extra: { name?: string; username?: string } = {}, q?: Queryable): Promise<string> {
    const wamid = `wamid.B${++n}`;
    const ts = 1_735_740_000 + n;
    const updates = {
      messages: [{ customer: ids, wamid, type: 'text', ts, payload: { message: { id: wamid } } }],
      statuses: [],
      contacts: [{ ...ids, name: extra.name ?? null, username: extra.username ?? null, phoneNumberId: PNID, ts }],
    };
    if (q) await storeMetaUpdates(q, V, updates);
    else await db.withTenant(V, (tx) => storeMetaUpdates(tx, V, updates));
    return wamid;
  }

  beforeAll(async () => {
    await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [V]);
  });
  beforeEach(async () => {
    await ownerQuery(tdb, 'DELETE FROM conversation_mappings WHERE tenant_id = $1', [V]);
  });

  it('a customer first seen without a phone number is keyed by their BSUID; showing their number later, they stay in the same mapping and lane', async () => {
    const B = 'US.13491208655302741918';
    const first = await writes({ userId: B }, { username: 'ana.b' });
    expect(await mappings()).toEqual([{ wa_id: B, phone: null, user_id: B, username: 'ana.b', contact_name: null }]);
    expect(await laneOf(first)).toEqual({ lane: lanes.inbound(B), wa_id: B });

    const withPhone = await writes({ phone: '16505550301', userId: B }, { name: 'Ana' });
    const phoneOnly = await writes({ phone: '16505550301' });
    expect(await mappings()).toEqual([{ wa_id: B, phone: '16505550301', user_id: B, username: 'ana.b', contact_name: 'Ana' }]);
    expect(await laneOf(withPhone)).toEqual({ lane: lanes.inbound(B), wa_id: B });
    expect(await laneOf(phoneOnly)).toEqual({ lane: lanes.inbound(B), wa_id: B });
  });

  it('a customer first seen with a phone number stays keyed by it when later webhooks carry only their BSUID', async () => {
    const B = 'US.555000111222';
    await writes({ phone: '16505550302', userId: B });
    const hidden = await writes({ userId: B }, { username: 'ben' });
    expect(await mappings()).toEqual([{ wa_id: '16505550302', phone: '16505550302', user_id: B, username: 'ben', contact_name: null }]);
    expect(await laneOf(hidden)).toEqual({ lane: lanes.inbound('16505550302'), wa_id: '16505550302' });
  });

  it('keys a maximum-length BSUID and a parent BSUID as they came', async () => {
    const max = `US.${'a1B2c3D4'.repeat(16)}`;
    const parent = `US.ENT.${'7'.repeat(128)}`;
    await writes({ userId: max });
    await writes({ userId: parent });
    expect((await mappings()).map((m) => [m.wa_id, m.user_id]).sort()).toEqual([
      [max, max],
      [parent, parent],
    ].sort());
  });

  it('one webhook naming a customer twice (their number; their number and BSUID) makes one mapping', async () => {
    const B = 'US.777000111';
    const ts = 1_735_750_000;
    await db.withTenant(V, (q) =>
      storeMetaUpdates(q, V, {
        messages: [],
        statuses: [],
        contacts: [
          { userId: B, name: null, phoneNumberId: PNID, ts },
          { phone: '16505550303', userId: B, name: 'Cy', phoneNumberId: PNID, ts: ts + 1 },
          { phone: '16505550303', name: null, phoneNumberId: PNID, ts: ts + 2 },
        ],
      }),
    );
    expect(await mappings()).toEqual([{ wa_id: '16505550303', phone: '16505550303', user_id: B, username: null, contact_name: 'Cy' }]);
  });

  it('two webhooks at once about one new customer, one with their number and BSUID, one with only the BSUID: one mapping (the customers’ locks)', async () => {
    const B = 'US.888000111';
    // The first transaction stores and holds its locks until the second one has started waiting.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = db.withTenant(V, async (q) => {
      await writes({ phone: '16505550304', userId: B }, {}, q);
      await held;
    });
    const second = db.withTenant(V, (q) => writes({ userId: B }, { username: 'dee' }, q));
    // The second waits for the first's locks: it cannot finish before the first commits.
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await waitForLockWaiter();
    expect(secondDone).toBe(false);
    release();
    await Promise.all([first, second]);
    expect(await mappings()).toEqual([{ wa_id: '16505550304', phone: '16505550304', user_id: B, username: 'dee', contact_name: null }]);
  });

  it('a phone number another customer’s mapping holds stays theirs', async () => {
    await writes({ phone: '16505550305' });
    await writes({ userId: 'US.999000111' });
    // A webhook now names both for one person: the BSUID's mapping is theirs, the number stays with its own mapping.
    await writes({ phone: '16505550305', userId: 'US.999000111' });
    expect((await mappings()).map((m) => [m.wa_id, m.phone, m.user_id])).toEqual([
      ['16505550305', '16505550305', null],
      ['US.999000111', null, 'US.999000111'],
    ]);
  });

  /** Until a session of the test database waits on an advisory lock. */
  async function waitForLockWaiter(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const [row] = await ownerQuery<{ waiting: string }>(
        tdb,
        `SELECT count(*) AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      if (Number(row.waiting) > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no transaction waited for the customers’ locks');
  }
});

describe('a customer message stamped ahead of our clock (issue #11, attack pass)', () => {
  const U = 'tenant-future';
  beforeAll(async () => {
    await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [U]);
  });

  it('opens the window from the time of receipt: never longer than 24 hours from now', async () => {
    // Meta's timestamp 20 hours ahead (still "plausible" for ordering, ingest/time.ts).
    const ahead = Math.floor(Date.now() / 1000) + 20 * 3600;
    const before = Date.now();
    await db.withTenant(U, (q) =>
      storeMetaUpdates(q, U, {
        messages: [{ customer: { phone: '16700000001' }, wamid: 'wamid.FUTURE', type: 'text', ts: ahead, payload: { id: 'wamid.FUTURE' } }],
        statuses: [],
        contacts: [{ phone: '16700000001', name: 'Fay', phoneNumberId: '106540352242922', ts: ahead }],
      }),
    );
    const [row] = await ownerQuery<{ last_inbound_at: Date }>(tdb, 'SELECT last_inbound_at FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2', [U, '16700000001']);
    expect(row.last_inbound_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(row.last_inbound_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });
});
