import type { Queryable } from '../db';
import { assertHeld, type ClaimedJob } from './job';

/**
 * Done: the job goes (its message row keeps the record). Run it in the transaction that records
 * the outcome, first, so the two commit together, or neither does: throws LeaseLost (deleting
 * nothing) when another claim has taken the job since.
 */
export async function complete(q: Queryable, job: ClaimedJob): Promise<void> {
  const { rowCount } = await q.query('DELETE FROM outbox WHERE tenant_id = $1 AND id = $2 AND attempts = $3', [job.tenantId, job.id, job.attempts]);
  assertHeld(rowCount, job, 'complete');
}
