import { LeaseLost, afterFailure, lanes, type RetryPolicy } from '@bridge/shared';
import { at, claimedTwice, LEASE, useQueue } from './queue';

/**
 * Operation: pace puts a job refused only for writing to its recipient too fast (Meta's pair rate
 * limit) back at the head of its lane, due after the pacing interval, as a wait, not a failure:
 * its lane waits in order, other lanes do not, and backoff after a later real failure counts the
 * failed attempts only.
 */
const queue = useQueue();

const policy: RetryPolicy = { baseMs: 1_000, maxMs: 600_000, budgetMs: 3_600_000 };
const HOUR = 3_600_000;

const delayOf = async (id: string) =>
  Number((await queue.owner<{ delay: number }>('SELECT extract(epoch FROM next_attempt_at - now()) * 1000 AS delay FROM outbox WHERE id = $1', [id]))[0].delay);

describe('pace', () => {
  it('holds the job and the rest of its lane for the interval, in order, while other lanes are claimed', async () => {
    const ana = lanes.outbound('15550000001');
    const first = await queue.add({ kind: 'to_whatsapp_message', lane: ana, ordering: at(1) });
    const second = await queue.add({ kind: 'to_whatsapp_message', lane: ana, ordering: at(2) });
    const ben = await queue.add({ kind: 'to_whatsapp_message', lane: lanes.outbound('15550000002'), ordering: at(3) });
    const claimed = await queue.outbox.claim(10, LEASE, []);
    expect(claimed.map((j) => j.id).sort()).toEqual([first, ben].sort());
    const job = claimed.find((j) => j.id === first)!;
    expect(job).toMatchObject({ attempts: 1, paced: 0 });

    await queue.outbox.pace(job, 30_000, 'META_PAIR_RATE_LIMITED: pair rate limit hit (Meta #131056)');
    expect(await queue.row(first)).toMatchObject({
      state: 'pending',
      locked_until: null,
      attempts: 1,
      paced: 1,
      last_error: 'META_PAIR_RATE_LIMITED: pair rate limit hit (Meta #131056)',
    });
    expect(await delayOf(first)).toBeGreaterThan(25_000);
    expect(await delayOf(first)).toBeLessThanOrEqual(30_000);
    // Neither it nor the next of its lane goes before the interval is over.
    await queue.owner('DELETE FROM outbox WHERE id = $1', [ben]);
    const other = await queue.add({ kind: 'to_whatsapp_message', lane: lanes.outbound('15550000003') });
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([other]);

    // Due again: the same job first, its waits remembered; the one behind it still waits.
    await queue.owner(`UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [first]);
    const [again] = await queue.outbox.claim(10, LEASE, []);
    expect(again).toMatchObject({ id: first, attempts: 2, paced: 1 });
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]);
    await queue.db.withTenant(again.tenantId, (q) => queue.outbox.complete(q, again));
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([second]);
  });

  it('writes nothing for a claim another has taken since (fenced by the claim’s attempt number)', async () => {
    const id = await queue.add();
    const { stale } = await claimedTwice(queue);
    await expect(queue.outbox.pace(stale, 1_000, 'META_PAIR_RATE_LIMITED: x')).rejects.toBeInstanceOf(LeaseLost);
    expect(await queue.row(id)).toMatchObject({ attempts: 2, paced: 0, locked_until: expect.any(Date), last_error: null });
  });
});

describe('the rule for a paced refusal', () => {
  it('waits exactly the interval, however many waits came before: no backoff', () => {
    const now = Date.now();
    for (const attempts of [1, 5, 40]) {
      const job = { attempts, paced: attempts - 1, createdAt: new Date(now - 60_000) };
      expect(afterFailure(job, { permanent: false, paced: true, retryAfterMs: 6_000 }, policy, now)).toEqual({ paceInMs: 6_000 });
    }
  });

  it('does not count waits as failures: backoff after 20 waits and one failure is the first retry’s', () => {
    const now = Date.now();
    const next = afterFailure({ attempts: 21, paced: 20, createdAt: new Date(now - 60_000) }, { permanent: false }, policy, now);
    expect((next as { retryInMs: number }).retryInMs).toBeLessThanOrEqual(policy.baseMs);
    // Counted as failures, the same attempts would have backed off to the cap.
    const counted = afterFailure({ attempts: 21, createdAt: new Date(now - 60_000) }, { permanent: false }, policy, now);
    expect((counted as { retryInMs: number }).retryInMs).toBeGreaterThanOrEqual(policy.maxMs / 2);
  });

  it('never dead-letters a job for its number of waits, only for its age past the budget', () => {
    const now = Date.now();
    expect(afterFailure({ attempts: 10_000, paced: 10_000, createdAt: new Date(now - HOUR + 10_000) }, { permanent: false, paced: true, retryAfterMs: 6_000 }, policy, now)).toEqual({
      paceInMs: 6_000,
    });
    // The last wait ends with the budget; past it, dead like any job.
    expect(afterFailure({ attempts: 3, paced: 2, createdAt: new Date(now - HOUR + 1_000) }, { permanent: false, paced: true, retryAfterMs: 6_000 }, policy, now)).toEqual({ paceInMs: 1_000 });
    expect(afterFailure({ attempts: 3, paced: 2, createdAt: new Date(now - HOUR - 1) }, { permanent: false, paced: true, retryAfterMs: 6_000 }, policy, now)).toEqual({ finish: 'dead' });
  });
});
