import type { Database } from '../db';
import { assertHeld, type Job } from './job';

/**
 * Puts the job back, still the head of its lane, to be tried again `delayMs` from now, and
 * releases its lease, recording `error`: the provider refused this attempt only because the
 * recipient is being written to too fast (Meta's pair rate limit). Not a failure: the attempt
 * is counted in `paced`, so backoff after a later real failure counts failed attempts only (see
 * `afterFailure`). The lane's later jobs wait behind it, in order; other lanes do not. Throws
 * LeaseLost (writing nothing) when another claim has taken the job since.
 */
export async function pace(db: Database, job: Job, delayMs: number, error: string): Promise<void> {
  await db.withTenant(job.tenantId, async (q) => {
    const { rowCount } = await q.query(
      `UPDATE outbox SET next_attempt_at = now() + $3 * interval '1 millisecond', locked_until = NULL, last_error = $4, paced = paced + 1, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND attempts = $5`,
      [job.tenantId, job.id, Math.round(delayMs), error, job.attempts],
    );
    assertHeld(rowCount, job, 'pace');
  });
}
