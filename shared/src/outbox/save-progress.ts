import type { Database } from '../db';
import { assertHeld, type Job } from './job';

/**
 * Remembers progress inside a job (e.g. parts of a multi-part send already accepted), so a retry
 * resumes rather than repeats. Commits at once, and replaces `job.payload` with `payload`.
 * Throws LeaseLost (writing nothing) when another claim has taken the job since: the caller must
 * stop, since the new claim resumes from the progress it read and sends the rest itself.
 */
export async function saveProgress(db: Database, job: Job, payload: Record<string, unknown>): Promise<void> {
  await db.withTenant(job.tenantId, async (q) => {
    const { rowCount } = await q.query('UPDATE outbox SET payload = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2 AND attempts = $3', [
      job.tenantId,
      job.id,
      job.attempts,
      JSON.stringify(payload),
    ]);
    assertHeld(rowCount, job, 'progress');
  });
  job.payload = payload;
}
