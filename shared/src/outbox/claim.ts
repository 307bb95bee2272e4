import { statement, type Database } from '../db';
import { toJob, type Job, type JobRow } from './job';

const CLAIM = statement(
  'outbox-claim',
  `WITH due AS (
           SELECT o.tenant_id, o.id, o.message_id, o.locked_until IS NOT NULL AS uncertain FROM outbox o
            WHERE o.state = 'pending' AND o.next_attempt_at <= now()
              AND (o.locked_until IS NULL OR o.locked_until < now())
              AND o.tenant_id <> ALL($3::text[])
              -- the head of its lane: nothing earlier pending (an index range probe) ...
              AND NOT EXISTS (
                SELECT 1 FROM outbox p
                 WHERE p.tenant_id = o.tenant_id AND p.lane = o.lane AND p.state = 'pending'
                   AND (p.ordering, p.id) < (o.ordering, o.id))
              -- ... and nothing of the lane in flight (the small in-flight index)
              AND NOT EXISTS (
                SELECT 1 FROM outbox p
                 WHERE p.tenant_id = o.tenant_id AND p.lane = o.lane AND p.state = 'pending'
                   AND p.locked_until IS NOT NULL AND p.locked_until >= now() AND p.id <> o.id)
            ORDER BY o.next_attempt_at, o.id
            LIMIT $1
            FOR UPDATE OF o SKIP LOCKED
         ), marked AS (
           UPDATE message_tracking m SET uncertain_attempts = m.uncertain_attempts + 1
             FROM due WHERE due.uncertain AND m.tenant_id = due.tenant_id AND m.id = due.message_id
         )
         UPDATE outbox o SET locked_until = now() + $2 * interval '1 millisecond', attempts = o.attempts + 1, updated_at = now()
           FROM due WHERE o.tenant_id = due.tenant_id AND o.id = due.id
         RETURNING o.tenant_id, o.id::text, o.kind, o.lane, o.message_id::text, o.event_id::text, o.payload, o.attempts, o.created_at, due.uncertain`,
);

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
  return db.withPlatform(async (q) => {
    // Walk the due index in order and stop at the limit, whatever the statistics say: planned
    // on statistics from an empty queue, PostgreSQL would otherwise sort the whole backlog —
    // exactly when the queue is long, after an outage.
    await q.query('SET LOCAL enable_sort = off');
    const { rows } = await q.query<JobRow>({ ...CLAIM, values: [limit, leaseMs, skipTenants] });
    return rows.map(toJob);
  });
}
