import { LeaseLost } from '@bridge/shared';
import { claimedTwice, LEASE, useQueue } from './queue';

/** Operation: retry schedules the next attempt, releases the lease and records the error. */
const queue = useQueue();

describe('retry', () => {
  it('makes the job due again after the delay, not before', async () => {
    const id = await queue.add();
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await queue.outbox.retry(job, 30_000, 'GENESYS_UNAVAILABLE: Genesys 503');

    const row = await queue.row(id);
    expect(row).toMatchObject({ state: 'pending', locked_until: null, last_error: 'GENESYS_UNAVAILABLE: Genesys 503', attempts: 1 });
    const [{ delay }] = await queue.owner<{ delay: number }>('SELECT extract(epoch FROM next_attempt_at - now()) * 1000 AS delay FROM outbox WHERE id = $1', [id]);
    expect(Number(delay)).toBeGreaterThan(25_000);
    expect(Number(delay)).toBeLessThanOrEqual(30_000);
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]);

    await queue.owner(`UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [id]);
    const [again] = await queue.outbox.claim(10, LEASE, []);
    expect(again).toMatchObject({ id, attempts: 2 });
  });

  it('rounds a fractional delay (backoff is jittered) to whole milliseconds', async () => {
    await queue.add();
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await expect(queue.outbox.retry(job, 1234.567, 'X: y')).resolves.toBeUndefined();
  });

  it('writes nothing for a claim another has taken since: the new claim keeps its lease, nothing is counted', async () => {
    const messageId = await queue.message();
    const id = await queue.add({ messageId });
    const { stale } = await claimedTwice(queue);
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(1); // the re-claim counted the lapse

    await expect(queue.outbox.retry(stale, 0, 'NETWORK_ERROR: Meta: ETIMEDOUT', true)).rejects.toBeInstanceOf(LeaseLost);
    expect(await queue.row(id)).toMatchObject({ attempts: 2, locked_until: expect.any(Date), last_error: null });
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(1);
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]);
  });
});
