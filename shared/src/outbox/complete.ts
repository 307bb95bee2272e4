import type { Queryable } from '../db';
import type { Job } from './job';

/**
 * Done: the job goes (its message row keeps the record). Run it in the transaction that records
 * the outcome, so the two commit together.
 */
export async function complete(q: Queryable, job: Pick<Job, 'tenantId' | 'id'>): Promise<void> {
  await q.query('DELETE FROM outbox WHERE tenant_id = $1 AND id = $2', [job.tenantId, job.id]);
}
