import { LeaseLost } from '@bridge/shared';
import { LEASE, claimedTwice, useQueue } from './queue';

/**
 * Operation: a worker shutting down hands back the jobs it could not finish, so that another
 * replica claims them at once rather than after their (here 60 s) lease: in their place in their
 * lane, not counted as a failure, flagged uncertain, and still fenced against the abandoned attempt.
 */
const queue = useQueue();

describe('release (at shutdown)', () => {
  it('makes a leased job claimable at once, still the head of its lane, with its message flagged uncertain', async () => {
    const messageId = await queue.message();
    const first = await queue.add({ messageId });
    const second = await queue.add();
    const [job] = await queue.outbox.claim(10, LEASE, []);
    expect(job.id).toBe(first);
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]);

    expect((await queue.outbox.release([job], 'SHUTDOWN: released')).map((j) => j.id)).toEqual([first]);
    const row = await queue.row(first);
    expect(row).toMatchObject({ locked_until: null, attempts: 1, paced: 1, last_error: 'SHUTDOWN: released' });
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(1);

    // The next claim takes it, not the one after it, and as a certain attempt (its flag is counted once).
    const [again] = await queue.outbox.claim(10, LEASE, []);
    expect(again).toMatchObject({ id: first, attempts: 2, paced: 1, uncertain: false });
    expect(again.id).not.toBe(second);
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(1);
  });

  it('fences the abandoned attempt out once the job is claimed again', async () => {
    const id = await queue.add();
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await queue.outbox.release([job], 'SHUTDOWN: released');
    await queue.outbox.claim(10, LEASE, []);
    await expect(queue.outbox.retry(job, 0, 'X: late')).rejects.toBeInstanceOf(LeaseLost);
    expect((await queue.row(id)).attempts).toBe(2);
  });

  it('leaves alone jobs whose outcome is recorded or that another claim holds, across tenants', async () => {
    const done = await queue.add({ lane: 'in:15550000001' });
    await queue.add({ lane: 'in:15550000002' });
    const otherTenant = await queue.add({ tenantId: 'tenant-b', lane: 'in:15550000003' });
    const claimed = await queue.outbox.claim(10, LEASE, []);
    const recorded = claimed.find((j) => j.id === done)!;
    await queue.outbox.retry(recorded, 60_000, 'X: y');
    const b = claimed.find((j) => j.id === otherTenant)!;

    const released = await queue.outbox.release([recorded, b], 'SHUTDOWN: released');
    expect(released.map((j) => j.id)).toEqual([otherTenant]);
    expect((await queue.row(done)).last_error).toBe('X: y');

    await queue.reset();
    await queue.add();
    const { stale } = await claimedTwice(queue);
    expect(await queue.outbox.release([stale], 'SHUTDOWN: released')).toEqual([]);
  });

  it('does nothing for no jobs', async () => {
    await expect(queue.outbox.release([], 'SHUTDOWN')).resolves.toEqual([]);
  });
});
