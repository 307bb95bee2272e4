import { LeaseLost, lanes } from '@bridge/shared';
import { at, claimedTwice, lapse, LEASE, useQueue } from './queue';

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

  it('writes nothing for a claim another has taken since: the job and its lane stay with the new claim, the outcome rolls back', async () => {
    const messageId = await queue.message();
    const first = await queue.add({ lane, ordering: at(1), messageId });
    await queue.add({ lane, ordering: at(2) });
    const { stale, current } = await claimedTwice(queue);

    const late = queue.db.withTenant(stale.tenantId, async (q) => {
      await queue.outbox.complete(q, stale);
      await q.query(`UPDATE message_tracking SET status = 'delivered' WHERE id = $1`, [messageId]);
    });
    await expect(late).rejects.toBeInstanceOf(LeaseLost);
    expect(await queue.row(first)).toMatchObject({ state: 'pending', attempts: 2, locked_until: expect.any(Date) });
    expect((await queue.messageRow(messageId)).status).toBe('pending');
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]); // the second of the lane waits for the current claim

    await queue.db.withTenant(current.tenantId, (q) => queue.outbox.complete(q, current));
    expect(await queue.row(first)).toBeUndefined();
  });

  it('still records the outcome of a claim whose lease ran out when no other claim took the job', async () => {
    const id = await queue.add();
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await lapse(queue, job);
    await queue.db.withTenant(job.tenantId, (q) => queue.outbox.complete(q, job));
    expect(await queue.row(id)).toBeUndefined();
  });
});
