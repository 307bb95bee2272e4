import type { Database } from '../db';
import type { Job } from './job';

/**
 * Extends the leases of jobs still in flight by `leaseMs` from now, so a slow attempt is never
 * taken for a dead one. Fenced like every write of a claim: a job whose lease was already
 * cleared (its outcome recorded), or that another claim has taken since, is left alone.
 * Returns the jobs of `jobs` that another claim has taken (their attempts can record nothing).
 */
export async function renewLeases(db: Database, jobs: Job[], leaseMs: number): Promise<Job[]> {
  if (jobs.length === 0) return [];
  // outbox_renew_leases (migration 1732060800020): the jobs span tenants.
  const rows = await db.unscoped<{ n: number }>('SELECT n FROM outbox_renew_leases($1::text[], $2::bigint[], $3::int[], $4) AS n', [
    jobs.map((j) => j.tenantId),
    jobs.map((j) => j.id),
    jobs.map((j) => j.attempts),
    leaseMs,
  ]);
  return rows.map((r) => jobs[r.n - 1]);
}
