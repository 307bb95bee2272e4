import type { Database } from '../db';
import type { Job } from './job';

/**
 * Hands jobs back to the queue at once, for a worker shutting down whose attempts could not finish
 * within its grace period (`SHUTDOWN_GRACE_MS`): each job's lease is cleared, so that another
 * replica claims it on its next claim instead of after the lease runs out. The job stays where it
 * was, still the head of its lane and due, so the lane's order holds. The attempt is not counted
 * as a failure (it is counted in `paced`, like a paced wait: backoff counts `attempts - paced`),
 * and `attempts`, the claims' fencing token, is left as it is, so that the abandoned attempt's
 * late writes are still fenced out once the next claim has taken the job.
 *
 * The attempt may already have reached the provider (its request was in flight), so the job's
 * message counts an `uncertain_attempts`, as after a lapsed lease: a possible duplicate is never
 * silent. Fenced like every outcome write: a job whose outcome was recorded meanwhile, or that
 * another claim has taken, is left alone. Returns the jobs released.
 */
export async function release(db: Database, jobs: Job[], reason: string): Promise<Job[]> {
  const released: Job[] = [];
  const byTenant = new Map<string, Job[]>();
  for (const job of jobs) byTenant.set(job.tenantId, [...(byTenant.get(job.tenantId) ?? []), job]);
  // One transaction per tenant: the outbox is the tenant's own rows, under its row-level security.
  for (const [tenantId, own] of byTenant) {
    const rows = await db.withTenant(tenantId, async (q) => {
      const { rows: done } = await q.query<{ id: string; message_id: string | null }>(
        `UPDATE outbox o SET locked_until = NULL, paced = o.paced + 1, last_error = $4, updated_at = now()
           FROM unnest($2::bigint[], $3::int[]) AS j(id, attempts)
          WHERE o.tenant_id = $1 AND o.id = j.id AND o.attempts = j.attempts AND o.locked_until IS NOT NULL AND o.state = 'pending'
          RETURNING o.id::text, o.message_id::text`,
        [tenantId, own.map((j) => j.id), own.map((j) => j.attempts), reason],
      );
      const messages = done.map((r) => r.message_id).filter((m): m is string => m !== null);
      if (messages.length > 0) {
        await q.query('UPDATE message_tracking SET uncertain_attempts = uncertain_attempts + 1 WHERE tenant_id = $1 AND id = ANY($2::bigint[])', [tenantId, messages]);
      }
      return done;
    });
    const ids = new Set(rows.map((r) => r.id));
    released.push(...own.filter((j) => ids.has(j.id)));
  }
  return released;
}
