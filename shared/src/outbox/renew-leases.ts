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
  const { rows } = await db.withPlatform((q) =>
    q.query<{ n: number }>(
      `WITH held AS (
         SELECT n, tenant_id, id, attempts FROM unnest($1::text[], $2::bigint[], $3::int[]) WITH ORDINALITY AS j(tenant_id, id, attempts, n)
       ), renewed AS (
         UPDATE outbox o SET locked_until = now() + $4 * interval '1 millisecond'
           FROM held j
          WHERE o.tenant_id = j.tenant_id AND o.id = j.id AND o.attempts = j.attempts AND o.locked_until IS NOT NULL
       )
       -- The statement's snapshot, from before the update: a later claim shows as more attempts.
       SELECT j.n::int AS n FROM held j JOIN outbox o ON o.tenant_id = j.tenant_id AND o.id = j.id WHERE o.attempts <> j.attempts`,
      [jobs.map((j) => j.tenantId), jobs.map((j) => j.id), jobs.map((j) => j.attempts), leaseMs],
    ),
  );
  return rows.map((r) => jobs[r.n - 1]);
}
