import { lanes } from '@bridge/shared';
import { at, LEASE, useQueue } from './queue';

/** Rule: only the head of a lane is claimed; a later job of the lane waits while an earlier one is pending. */
const queue = useQueue();

const lane = lanes.inbound('15550000001');
const other = lanes.inbound('15550000002');

describe('the head of a lane', () => {
  it('claims the first job of each lane and none behind it', async () => {
    const first = await queue.add({ lane, ordering: at(1) });
    const second = await queue.add({ lane, ordering: at(2) });
    const elsewhere = await queue.add({ lane: other, ordering: at(3) });

    const claimed = await queue.outbox.claim(10, LEASE, []);
    expect(claimed.map((j) => j.id).sort()).toEqual([first, elsewhere].sort());
    expect((await queue.row(second)).attempts).toBe(0);
  });

  it('orders a lane by the sender’s time, not by arrival', async () => {
    const later = await queue.add({ lane, ordering: at(2) });
    const earlier = await queue.add({ lane, ordering: at(1) });

    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([earlier]);
    await queue.db.withTenant('tenant-a', (q) => queue.outbox.complete(q, { tenantId: 'tenant-a', id: earlier, attempts: 1 }));
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([later]);
  });

  it('breaks a tie of times by arrival', async () => {
    const first = await queue.add({ lane, ordering: at(1) });
    await queue.add({ lane, ordering: at(1) });
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([first]);
  });

  it('lets a job waiting for its retry hold back its own lane only', async () => {
    const head = await queue.add({ lane, ordering: at(1) });
    await queue.add({ lane, ordering: at(2) });
    const [job] = await queue.outbox.claim(10, LEASE, []);
    expect(job.id).toBe(head);
    await queue.outbox.retry(job, 60_000, 'TRANSIENT: later');

    const elsewhere = await queue.add({ lane: other, ordering: at(3) });
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([elsewhere]);
  });

  it('keeps lanes apart per tenant: the same lane name of two tenants is two lanes', async () => {
    const a = await queue.add({ tenantId: 'tenant-a', lane, ordering: at(1) });
    const b = await queue.add({ tenantId: 'tenant-b', lane, ordering: at(2) });
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id).sort()).toEqual([a, b].sort());
  });

  it('does not let a failed or dead job hold its lane', async () => {
    const head = await queue.add({ lane, ordering: at(1) });
    const next = await queue.add({ lane, ordering: at(2) });
    const [job] = await queue.outbox.claim(10, LEASE, []);
    expect(job.id).toBe(head);
    await queue.db.withTenant('tenant-a', (q) => queue.outbox.finish(q, job, 'failed', 'PERMANENT: no'));
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([next]);
  });
});
