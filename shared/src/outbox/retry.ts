import type { Database } from '../db';
import type { FinalState } from './finish';
import { assertHeld, type Job } from './job';

/** How failed attempts are retried. All in milliseconds. */
export interface RetryPolicy {
  /** The first retry's delay (before jitter); doubles per attempt. */
  baseMs: number;
  /** The longest delay backoff gives (a provider's Retry-After may ask for longer, up to the budget). */
  maxMs: number;
  /**
   * How long after its creation a job is still retried; after that it is dead-lettered. No retry
   * is scheduled beyond it, whatever a provider's Retry-After asks.
   */
  budgetMs: number;
}

/**
 * The delay before retrying after attempt number `attempt` (1-based): exponential from `base`,
 * capped at `max`, with jitter over its upper half so that jobs failing together do not retry
 * together. A provider's Retry-After (`retryAfter`, ms) wins when longer, even beyond the cap.
 */
export function backoffMs(attempt: number, base: number, max: number, retryAfter?: number): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + Math.random() * (exp / 2);
  return Math.max(retryAfter ?? 0, jittered);
}

/**
 * What to do with a job whose attempt did not go through: end it (`finish`), retry it in
 * `retryInMs` (a failure, see `retry`), or try again in `paceInMs` (paced, not a failure, see
 * `pace`).
 */
export type AfterFailure = { finish: FinalState } | { retryInMs: number } | { paceInMs: number };

/**
 * The retry rule. A permanent failure ends the job as 'failed'; a transient one is retried with
 * backoff until the job is older than the budget, and then ends as 'dead'. A delay (a provider's
 * Retry-After included) never reaches past the budget: the last retry falls at its end at the
 * latest, so one huge Retry-After cannot park a lane beyond the budget without a dead letter.
 *
 * A paced refusal (`paced`: the provider refused only because the recipient is being written to
 * too fast, e.g. Meta's pair rate limit) is not a failure: the job waits exactly `retryAfterMs`
 * (the pacing interval), without backoff, and backoff counts failed attempts only (`attempts -
 * paced`), however many waits came before. The budget is the job's age, not a count of attempts,
 * so waits never dead-letter a job by their number; a job older than the budget is dead all the
 * same, so that a recipient refused for ever cannot hold its lane for ever. Time the job spent
 * held for its tenant's credential (`heldMs`, see hold.ts) does not count towards its age.
 * `now`: epoch ms.
 */
export function afterFailure(
  job: Pick<Job, 'attempts' | 'createdAt'> & Partial<Pick<Job, 'paced' | 'heldMs'>>,
  failure: { permanent: boolean; retryAfterMs?: number; paced?: boolean },
  policy: RetryPolicy,
  now = Date.now(),
): AfterFailure {
  if (failure.permanent) return { finish: 'failed' };
  // Time held for a credential (hold.ts) is not the job's: its budget starts that much later.
  const budgetLeftMs = job.createdAt.getTime() + (job.heldMs ?? 0) + policy.budgetMs - now;
  if (budgetLeftMs < 0) return { finish: 'dead' };
  if (failure.paced) return { paceInMs: Math.min(budgetLeftMs, Math.max(0, failure.retryAfterMs ?? 0)) };
  const failed = job.attempts - (job.paced ?? 0);
  return { retryInMs: Math.min(budgetLeftMs, backoffMs(failed, policy.baseMs, policy.maxMs, failure.retryAfterMs)) };
}

/**
 * Schedules the job's next attempt `delayMs` from now and releases its lease, recording `error`.
 * `uncertain`: this attempt may have reached the provider (a timeout, a connection cut after the
 * request went out), counted on the job's message as `uncertain_attempts`. Throws LeaseLost
 * (writing nothing) when another claim has taken the job since.
 */
export async function retry(db: Database, job: Job, delayMs: number, error: string, uncertain = false): Promise<void> {
  await db.withTenant(job.tenantId, async (q) => {
    const { rowCount } = await q.query(
      `UPDATE outbox SET next_attempt_at = now() + $3 * interval '1 millisecond', locked_until = NULL, last_error = $4, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND attempts = $5`,
      [job.tenantId, job.id, Math.round(delayMs), error, job.attempts],
    );
    assertHeld(rowCount, job, 'retry');
    if (uncertain && job.messageId) {
      await q.query('UPDATE message_tracking SET uncertain_attempts = uncertain_attempts + 1 WHERE tenant_id = $1 AND id = $2', [job.tenantId, job.messageId]);
    }
  });
}
