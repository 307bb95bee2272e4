import type { Database } from '../db';
import type { Job } from './job';

/**
 * Extends the leases of jobs still in flight by `leaseMs` from now, so a slow attempt is never
 * taken for a dead one. A job whose lease was already cleared (its outcome recorded) is left alone.
 */
export async function renewLeases(db: Database, jobs: Job[], leaseMs: number): Promise<void> {
  if (jobs.length === 0) return;
  await db.withPlatform((q) =>
    q.query(
      `UPDATE outbox o SET locked_until = now() + $3 * interval '1 millisecond'
         FROM unnest($1::text[], $2::bigint[]) AS j(tenant_id, id)
        WHERE o.tenant_id = j.tenant_id AND o.id = j.id AND o.locked_until IS NOT NULL`,
      [jobs.map((j) => j.tenantId), jobs.map((j) => j.id), leaseMs],
    ),
  );
}
