import { statement, type Database } from '../db';
import { toJob, type Job, type JobRow } from './job';

// The statement is the SECURITY DEFINER function outbox_claim (migration 1732060800020): the
// queue spans tenants, which the application role's own queries never see. One call, one round
// trip; the function walks the due index without sorting (SET enable_sort = off in its definition).
const CLAIM = statement('outbox-claim', 'SELECT * FROM outbox_claim($1, $2, $3)');

/**
 * Claims up to `limit` due jobs of every tenant but `skipTenants` (those already at their
 * concurrency limit), leasing each for `leaseMs`. A job is claimable when it is due, not leased,
 * and the head of its lane: no other pending job of the lane comes before it (by `ordering`, the
 * sender's time, then id) or is in flight. So one delivery per lane is in flight at a time, in
 * order, and a job waiting for its retry holds back the later ones of its lane only.
 *
 * A job whose lease ran out without an outcome (a finished attempt deletes the job or clears its
 * lease) comes back with `uncertain: true`, and its message's `uncertain_attempts` is counted:
 * the last attempt may or may not have reached the provider, so a possible duplicate is never
 * silent.
 */
export async function claim(db: Database, limit: number, leaseMs: number, skipTenants: string[]): Promise<Job[]> {
  if (limit <= 0) return [];
  const rows = await db.unscoped<JobRow>(CLAIM, [limit, leaseMs, skipTenants]);
  return rows.map(toJob);
}
