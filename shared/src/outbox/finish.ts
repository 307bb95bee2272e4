import type { Queryable } from '../db';
import type { Job } from './job';

/**
 * How a job ends without being delivered: 'failed' when the failure is permanent (retrying
 * cannot help), 'dead' when it ran out of retry budget.
 */
export type FinalState = 'failed' | 'dead';

/**
 * Ends a job that will not be retried: it stays in the table, never claimed again, with its
 * reason (`error`) for operators (see view.ts). Runs in the caller's transaction.
 */
export async function finish(q: Queryable, job: Pick<Job, 'tenantId' | 'id'>, state: FinalState, error: string): Promise<void> {
  await q.query(`UPDATE outbox SET state = $3, locked_until = NULL, last_error = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [
    job.tenantId,
    job.id,
    state,
    error,
  ]);
}
