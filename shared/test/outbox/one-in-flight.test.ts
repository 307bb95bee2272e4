import { lanes } from '@bridge/shared';
import { at, LEASE, sleep, useQueue } from './queue';

/** Rule: at most one job of a lane is in flight (leased), whatever arrives meanwhile and however many claim at once. */
const queue = useQueue();

const lane = lanes.outbound('15550000001');

describe('one delivery per lane in flight', () => {
  it('holds back a job that arrives, with an earlier time, while another of its lane is in flight', async () => {
    const inFlight = await queue.add({ kind: 'to_whatsapp_message', lane, ordering: at(2) });
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([inFlight]);

    // Now the head of its lane by time, but the lane is busy.
    const earlier = await queue.add({ kind: 'to_whatsapp_message', lane, ordering: at(1) });
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]);

    await queue.db.withTenant('tenant-a', (q) => queue.outbox.complete(q, { tenantId: 'tenant-a', id: inFlight, attempts: 1 }));
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([earlier]);
  });

  it('gives workers claiming at the same time one job of each lane between them', async () => {
    const lanesUsed = ['15550000001', '15550000002', '15550000003'].map((wa) => lanes.outbound(wa));
    for (const [n, l] of lanesUsed.entries()) {
      for (let i = 0; i < 4; i++) await queue.add({ kind: 'to_whatsapp_message', lane: l, ordering: at(10 * n + i) });
    }
    const claims = await Promise.all([1, 2, 3, 4].map(() => queue.outbox.claim(10, LEASE, [])));
    const claimed = claims.flat();
    expect(claimed.map((j) => j.lane).sort()).toEqual([...lanesUsed].sort());
  });

  it('skips, without waiting, a job another worker is claiming, and claims nothing behind it', async () => {
    const head = await queue.add({ kind: 'to_whatsapp_message', lane, ordering: at(1) });
    await queue.add({ kind: 'to_whatsapp_message', lane, ordering: at(2) });
    // Another worker's claim, caught mid-transaction: the head's row is locked.
    let locked!: () => void;
    let release!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const held = new Promise<void>((r) => (release = r));
    const other = queue.db.withTenant('tenant-a', async (q) => {
      await q.query('SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE', [head]);
      locked();
      await held;
    });
    await isLocked;
    const claimed = await Promise.race([queue.outbox.claim(10, LEASE, []), sleep(3_000).then(() => 'blocked')]);
    release();
    await other;
    expect(claimed).toEqual([]);
  });

  it('claims no more than the limit', async () => {
    for (let i = 0; i < 5; i++) await queue.add({ lane: lanes.inbound(`1555000000${i}`), ordering: at(i) });
    expect(await queue.outbox.claim(2, LEASE, [])).toHaveLength(2);
    expect(await queue.outbox.claim(0, LEASE, [])).toEqual([]);
  });
});
