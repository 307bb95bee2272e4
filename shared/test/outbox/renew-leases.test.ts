import { claimedTwice, LEASE, sleep, useQueue } from './queue';

/** Operation: renewing a lease keeps a slow attempt from being taken for a dead one. */
const queue = useQueue();

describe('renew leases', () => {
  it('keeps a renewed job from being claimed again after its first lease would have run out', async () => {
    const renewed = await queue.add({ lane: 'in:15550000001' });
    const lapsed = await queue.add({ lane: 'in:15550000002' });
    const jobs = await queue.outbox.claim(10, 300, []);
    expect(jobs).toHaveLength(2);

    await queue.outbox.renewLeases(jobs.filter((j) => j.id === renewed), LEASE);
    await sleep(400);
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([lapsed]);
  });

  it('does not lease again a job whose outcome is recorded', async () => {
    const id = await queue.add();
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await queue.outbox.retry(job, 0, 'X: y');
    await queue.outbox.renewLeases([job], LEASE);
    expect((await queue.row(id)).locked_until).toBeNull();
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([id]);
  });

  it('does not extend the lease of a job another claim has taken since, and names it', async () => {
    const id = await queue.add({ lane: 'in:15550000001' });
    await queue.add({ lane: 'in:15550000002' });
    const { stale } = await claimedTwice(queue);
    const [other] = await queue.outbox.claim(10, 300, []);
    const before = (await queue.row(id)).locked_until;

    expect(await queue.outbox.renewLeases([stale, other], 3 * LEASE)).toEqual([stale]);
    expect((await queue.row(id)).locked_until).toEqual(before);
    expect((await queue.row(other.id)).locked_until!.getTime()).toBeGreaterThan(before!.getTime());
  });

  it('does nothing for no jobs', async () => {
    await expect(queue.outbox.renewLeases([], LEASE)).resolves.toEqual([]);
  });
});
