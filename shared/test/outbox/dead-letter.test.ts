import { LeaseLost, afterFailure, type RetryPolicy } from '@bridge/shared';
import { claimedTwice, LEASE, useQueue } from './queue';

/**
 * Rule: a transient failure is retried until the job is older than the retry budget, then the
 * job is dead-lettered ('dead'); a permanent failure ends it at once ('failed'). Either way it
 * stays, visible with its reason, and is never claimed again.
 */
const queue = useQueue();

const policy: RetryPolicy = { baseMs: 1_000, maxMs: 60_000, budgetMs: 3_600_000 };
const HOUR = 3_600_000;

describe('the retry rule', () => {
  it('retries a transient failure within the budget, with backoff', () => {
    const next = afterFailure({ attempts: 3, createdAt: new Date(Date.now() - HOUR / 2) }, { permanent: false }, policy);
    expect(next).toEqual({ retryInMs: expect.any(Number) });
    const { retryInMs } = next as { retryInMs: number };
    expect(retryInMs).toBeGreaterThanOrEqual(2_000);
    expect(retryInMs).toBeLessThanOrEqual(4_000);
  });

  it('honours a Retry-After within the budget', () => {
    expect(afterFailure({ attempts: 1, createdAt: new Date() }, { permanent: false, retryAfterMs: 90_000 }, policy)).toEqual({ retryInMs: 90_000 });
  });

  it('dead-letters a transient failure once the job is older than the budget', () => {
    const now = Date.now();
    expect(afterFailure({ attempts: 40, createdAt: new Date(now - HOUR - 1) }, { permanent: false }, policy, now)).toEqual({ finish: 'dead' });
    expect(afterFailure({ attempts: 40, createdAt: new Date(now - HOUR) }, { permanent: false }, policy, now)).toEqual({ retryInMs: expect.any(Number) });
  });

  it('never schedules a retry past the budget, whatever Retry-After asks: the last retry falls at its end, then the job is dead', () => {
    const now = Date.now();
    const job = { attempts: 2, createdAt: new Date(now - HOUR + 60_000) };
    for (const retryAfterMs of [2 * 60_000, 30 * 24 * HOUR, 1e23]) {
      expect(afterFailure(job, { permanent: false, retryAfterMs }, policy, now)).toEqual({ retryInMs: 60_000 });
    }
    expect(afterFailure(job, { permanent: false, retryAfterMs: 1e23 }, policy, now + 60_001)).toEqual({ finish: 'dead' });
  });

  it('keeps a capped delay within what the queue can schedule', async () => {
    const id = await queue.add();
    const [job] = await queue.outbox.claim(10, LEASE, []);
    const next = afterFailure(job, { permanent: false, retryAfterMs: 1e23 }, policy);
    await queue.outbox.retry(job, (next as { retryInMs: number }).retryInMs, 'META_RATE_LIMITED: Meta 429');
    const [{ delay }] = await queue.owner<{ delay: number }>('SELECT extract(epoch FROM next_attempt_at - now()) * 1000 AS delay FROM outbox WHERE id = $1', [id]);
    expect(Number(delay)).toBeLessThanOrEqual(HOUR);
  });

  it('ends a permanent failure as failed at once, however young the job', () => {
    expect(afterFailure({ attempts: 1, createdAt: new Date() }, { permanent: true }, policy)).toEqual({ finish: 'failed' });
  });
});

describe('finish', () => {
  it.each(['dead', 'failed'] as const)('keeps a %s job with its reason, out of the queue for good', async (state) => {
    const id = await queue.add();
    if (state === 'dead') await queue.owner(`UPDATE outbox SET created_at = now() - interval '2 hours' WHERE id = $1`, [id]);
    const [job] = await queue.outbox.claim(10, LEASE, []);
    const next = afterFailure(job, { permanent: state === 'failed' }, policy);
    expect(next).toEqual({ finish: state });

    await queue.db.withTenant(job.tenantId, (q) => queue.outbox.finish(q, job, state, 'GENESYS_REJECTED: Genesys 400'));
    expect(await queue.row(id)).toMatchObject({ state, locked_until: null, last_error: 'GENESYS_REJECTED: Genesys 400' });

    await queue.owner(`UPDATE outbox SET next_attempt_at = now() - interval '1 hour' WHERE id = $1`, [id]);
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]);
    expect(await queue.outbox.view()).toEqual([{ tenantId: 'tenant-a', kind: 'to_genesys_message', state, count: 1 }]);
  });

  it('writes nothing for a claim another has taken since: the job stays pending with the new claim', async () => {
    const id = await queue.add();
    const { stale } = await claimedTwice(queue);
    await expect(queue.db.withTenant(stale.tenantId, (q) => queue.outbox.finish(q, stale, 'failed', 'GENESYS_REJECTED: Genesys 400'))).rejects.toBeInstanceOf(LeaseLost);
    expect(await queue.row(id)).toMatchObject({ state: 'pending', attempts: 2, locked_until: expect.any(Date), last_error: null });
  });
});
