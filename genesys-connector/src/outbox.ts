import { statement, type Database, type Queryable } from '@bridge/shared';

export type JobKind = 'to_genesys_message' | 'to_whatsapp_message' | 'to_genesys_receipt';

export interface Job {
  tenantId: string;
  id: string;
  kind: JobKind;
  lane: string;
  messageId: string | null;
  eventId: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: Date;
  /** The previous attempt's outcome is unknown (its lease ran out with nothing recorded). */
  uncertain: boolean;
}

interface JobRow {
  tenant_id: string;
  id: string;
  kind: JobKind;
  lane: string;
  message_id: string | null;
  event_id: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  created_at: Date;
  uncertain: boolean;
}

const toJob = (r: JobRow): Job => ({
  tenantId: r.tenant_id,
  id: r.id,
  kind: r.kind,
  lane: r.lane,
  messageId: r.message_id,
  eventId: r.event_id,
  payload: r.payload,
  attempts: r.attempts,
  createdAt: r.created_at,
  uncertain: r.uncertain,
});

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
 * The delivery queue's SQL. A job is claimable when it is due, not leased, and the head of its
 * lane: no other pending job of the lane comes before it (by the sender's time, then arrival) or
 * is in flight. So one delivery per lane is in flight at a time, in order, and a job waiting for
 * its retry holds back the later ones of its lane only.
 */
export class OutboxRepository {
  constructor(private readonly db: Database) {}

  async claim(limit: number, leaseMs: number, skipTenants: string[]): Promise<Job[]> {
    if (limit <= 0) return [];
    return this.db.withPlatform(async (q) => {
      // A lease that ran out without an outcome (a finished attempt deletes the job or clears its
      // lease) means the last attempt may or may not have reached the provider: counted on the
      // message as uncertain, so a possible duplicate is never silent.
      // Walk the due index in order and stop at the limit, whatever the statistics say: planned
      // on statistics from an empty queue, PostgreSQL would otherwise sort the whole backlog —
      // exactly when the queue is long, after an outage.
      await q.query('SET LOCAL enable_sort = off');
      const { rows } = await q.query<JobRow>({ ...CLAIM, values: [limit, leaseMs, skipTenants] });
      return rows.map(toJob);
    });
  }

  /** Extends the leases of jobs still in flight, so a slow attempt is never taken for a dead one. */
  async renewLeases(jobs: Job[], leaseMs: number): Promise<void> {
    if (jobs.length === 0) return;
    await this.db.withPlatform((q) =>
      q.query(
        `UPDATE outbox o SET locked_until = now() + $3 * interval '1 millisecond'
           FROM unnest($1::text[], $2::bigint[]) AS j(tenant_id, id)
          WHERE o.tenant_id = j.tenant_id AND o.id = j.id AND o.locked_until IS NOT NULL`,
        [jobs.map((j) => j.tenantId), jobs.map((j) => j.id), leaseMs],
      ),
    );
  }

  /** Done: the job goes (the message row keeps the record). */
  complete(q: Queryable, job: Job) {
    return q.query('DELETE FROM outbox WHERE tenant_id = $1 AND id = $2', [job.tenantId, job.id]);
  }

  /** Schedules the next attempt; `uncertain`: this one may have reached the provider (counted on the message). */
  async retry(job: Job, delayMs: number, error: string, uncertain = false): Promise<void> {
    await this.db.withTenant(job.tenantId, async (q) => {
      await q.query(
        `UPDATE outbox SET next_attempt_at = now() + $3 * interval '1 millisecond', locked_until = NULL, last_error = $4, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [job.tenantId, job.id, Math.round(delayMs), error],
      );
      if (uncertain && job.messageId) {
        await q.query('UPDATE message_tracking SET uncertain_attempts = uncertain_attempts + 1 WHERE tenant_id = $1 AND id = $2', [job.tenantId, job.messageId]);
      }
    });
  }

  /** Ends a job that will not be retried ('failed': permanent; 'dead': out of retry budget). */
  finish(q: Queryable, job: Job, state: 'failed' | 'dead', error: string) {
    return q.query(`UPDATE outbox SET state = $3, locked_until = NULL, last_error = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [
      job.tenantId,
      job.id,
      state,
      error,
    ]);
  }

  /** Remembers progress inside a job (e.g. parts of a multi-part send already accepted). */
  async saveProgress(job: Job, payload: Record<string, unknown>): Promise<void> {
    await this.db.withTenant(job.tenantId, (q) =>
      q.query('UPDATE outbox SET payload = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [job.tenantId, job.id, JSON.stringify(payload)]),
    );
    job.payload = payload;
  }
}
