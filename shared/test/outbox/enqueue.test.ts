import { enqueue, enqueueSql, lanes, laneSql, statement, type Queryable } from '@bridge/shared';
import { at, useQueue } from './queue';

/**
 * Operation: the one way in. `enqueue` queues one job inside the caller's transaction;
 * `enqueueSql` composes the same insert into a set-based statement, so storing and queuing stay
 * one statement.
 */
const queue = useQueue();

/** Counts the round trips a function makes on its connection. */
function counting(q: Queryable): { q: Queryable; calls: () => number } {
  let calls = 0;
  return {
    q: { query: ((...args: Parameters<Queryable['query']>) => (calls++, (q.query as (...a: unknown[]) => unknown)(...args))) as Queryable['query'] },
    calls: () => calls,
  };
}

describe('enqueue', () => {
  it('queues a pending job, due now, with the table’s defaults for what it leaves out', async () => {
    const id = await queue.add({ kind: 'to_genesys_receipt', lane: lanes.receipts('gid-1'), payload: { receipt: { id: 'gid-1' } } });
    const row = await queue.row(id);
    expect(row).toMatchObject({
      tenant_id: 'tenant-a',
      kind: 'to_genesys_receipt',
      lane: 'rcpt:gid-1',
      state: 'pending',
      attempts: 0,
      message_id: null,
      event_id: null,
      payload: { receipt: { id: 'gid-1' } },
    });
    expect(Math.abs(row.ordering.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('exists only if the caller’s transaction commits', async () => {
    await expect(
      queue.db.withTenant('tenant-a', async (q) => {
        await enqueue(q, { tenantId: 'tenant-a', kind: 'to_genesys_message', lane: lanes.inbound('15550000001') });
        throw new Error('the webhook’s store failed');
      }),
    ).rejects.toThrow();
    expect(await queue.owner('SELECT 1 FROM outbox')).toEqual([]);
  });

  it('cannot queue a job for another tenant than the transaction’s', async () => {
    await expect(
      queue.db.withTenant('tenant-a', (q) => enqueue(q, { tenantId: 'tenant-b', kind: 'to_genesys_message', lane: lanes.inbound(null) })),
    ).rejects.toThrow(/row-level security/);
  });

  it('refuses a kind the queue does not know', () => {
    expect(() => enqueueSql({ tenantId: '$1', kind: 'to_fax' as never, lane: `'x'` })).toThrow(/Unknown outbox job kind/);
  });
});

describe('enqueueSql composed into a store statement', () => {
  // As webhook-service's store does: a CTE inserts what is new, the outbox queues what it returned.
  const STORE = statement(
    'test-store-messages',
    `WITH ins AS (
       INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type, provider_timestamp)
       SELECT $1, 'inbound', x.wa_id, x.wamid, 'text', to_timestamp(x.ts)
         FROM unnest($2::text[], $3::text[], $4::float8[]) WITH ORDINALITY AS x(wa_id, wamid, ts, n) ORDER BY x.n
       ON CONFLICT DO NOTHING RETURNING id, wa_id, provider_timestamp
     ) ${enqueueSql(
       { tenantId: '$1', kind: 'to_genesys_message', lane: laneSql.inbound('wa_id'), ordering: 'provider_timestamp', messageId: 'id' },
       { from: 'ins', orderBy: 'id' },
     )}`,
  );
  const values = ['tenant-a', ['15550000001', null, '15550000001'], ['wamid.A', 'wamid.B', 'wamid.C'], [5, 6, 7].map((s) => at(s).getTime() / 1000)];
  const store = () =>
    queue.db.withTenant('tenant-a', async (q) => {
      const c = counting(q);
      const { rowCount } = await c.q.query({ ...STORE, values });
      return { queued: rowCount, roundTrips: c.calls() };
    });

  it('stores and queues in one statement: each new row one job, in input order, on its lane', async () => {
    expect(await store()).toEqual({ queued: 3, roundTrips: 1 });
    const jobs = await queue.owner<{ lane: string; ordering: Date; wamid: string }>(
      `SELECT o.lane, o.ordering, m.wamid FROM outbox o JOIN message_tracking m ON m.tenant_id = o.tenant_id AND m.id = o.message_id ORDER BY o.id`,
    );
    expect(jobs).toEqual([
      { lane: lanes.inbound('15550000001'), ordering: at(5), wamid: 'wamid.A' },
      { lane: lanes.inbound(null), ordering: at(6), wamid: 'wamid.B' },
      { lane: lanes.inbound('15550000001'), ordering: at(7), wamid: 'wamid.C' },
    ]);
  });

  it('queues nothing for rows the store already had', async () => {
    await store();
    expect(await store()).toEqual({ queued: 0, roundTrips: 1 });
    expect(await queue.owner('SELECT 1 FROM outbox')).toHaveLength(3);
  });
});

describe('lane names', () => {
  it('are the same built in TypeScript and in SQL', async () => {
    const [row] = await queue.owner<Record<string, string>>(
      `SELECT ${laneSql.inbound('$1::text')} AS inbound, ${laneSql.inbound('NULL::text')} AS anonymous,
              ${laneSql.outbound('$1::text')} AS outbound, ${laneSql.receipts('$2::text')} AS receipts, ${laneSql.signals('$1::text')} AS signals`,
      ['15550000001', 'wamid.X'],
    );
    expect(row).toEqual({
      inbound: lanes.inbound('15550000001'),
      anonymous: lanes.inbound(null),
      outbound: lanes.outbound('15550000001'),
      receipts: lanes.receipts('wamid.X'),
      signals: lanes.signals('15550000001'),
    });
  });
});
