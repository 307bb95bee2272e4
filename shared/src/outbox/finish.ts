import type { Queryable } from '../db';
import { assertHeld, type ClaimedJob } from './job';

/**
 * How a job ends without being delivered: 'failed' when the failure is permanent (retrying
 * cannot help), 'dead' when it ran out of retry budget.
 */
export type FinalState = 'failed' | 'dead';

/**
 * Ends a job that will not be retried: it stays in the table, never claimed again, with its
 * reason (`error`) for operators (see view.ts). Runs in the caller's transaction, first: throws
 * LeaseLost (writing nothing) when another claim has taken the job since.
 */
export async function finish(q: Queryable, job: ClaimedJob, state: FinalState, error: string): Promise<void> {
  const { rowCount } = await q.query(
    `UPDATE outbox SET state = $4, locked_until = NULL, last_error = $5, updated_at = now() WHERE tenant_id = $1 AND id = $2 AND attempts = $3`,
    [job.tenantId, job.id, job.attempts, state, error],
  );
  assertHeld(rowCount, job, 'finish');
}
