import { lanes } from '@bridge/shared';
import { at, LEASE, useQueue } from './queue';

/** Operation: completing removes the job, in the transaction that records the outcome, and frees its lane. */
const queue = useQueue();

const lane = lanes.inbound('15550000001');

describe('complete', () => {
  it('removes the job and lets the next of its lane be claimed', async () => {
    const first = await queue.add({ lane, ordering: at(1) });
    const second = await queue.add({ lane, ordering: at(2) });
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await queue.db.withTenant(job.tenantId, (q) => queue.outbox.complete(q, job));

    expect(await queue.row(first)).toBeUndefined();
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([second]);
  });

  it('keeps the job when the transaction recording the outcome rolls back', async () => {
    const id = await queue.add();
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await expect(
      queue.db.withTenant(job.tenantId, async (q) => {
        await queue.outbox.complete(q, job);
        throw new Error('recording the outcome failed');
      }),
    ).rejects.toThrow('recording the outcome failed');
    expect(await queue.row(id)).toMatchObject({ state: 'pending' });
  });
});
