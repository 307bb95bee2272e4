import type { Database } from '../db';
import type { Job } from './job';

/**
 * Remembers progress inside a job (e.g. parts of a multi-part send already accepted), so a retry
 * resumes rather than repeats. Commits at once, and replaces `job.payload` with `payload`.
 */
export async function saveProgress(db: Database, job: Job, payload: Record<string, unknown>): Promise<void> {
  await db.withTenant(job.tenantId, (q) =>
    q.query('UPDATE outbox SET payload = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [job.tenantId, job.id, JSON.stringify(payload)]),
  );
  job.payload = payload;
}
