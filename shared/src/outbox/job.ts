import type { JobKind } from './kinds';

/** A claimed job, as the worker holds it. */
export interface Job {
  tenantId: string;
  /** bigint, as a string. */
  id: string;
  kind: JobKind;
  lane: string;
  messageId: string | null;
  eventId: string | null;
  payload: Record<string, unknown>;
  /**
   * Attempts so far, this one included. Every claim adds one, so it also names the claim: it is
   * the fencing token of every outcome write (see `LeaseLost`).
   */
  attempts: number;
  /**
   * Of those attempts, how many ended paced (see pace.ts): refused only because the recipient was
   * written to too fast, which is not a failure. `attempts - paced` attempts failed (or are this one).
   */
  paced: number;
  /**
   * How long the job has been held in all, waiting for its tenant's credential to be replaced
   * (hold.ts), ms: its retry budget counts from `createdAt` plus this.
   */
  heldMs: number;
  createdAt: Date;
  /** The previous attempt's outcome is unknown (its lease ran out with nothing recorded). */
  uncertain: boolean;
}

/** What identifies a job and the claim that holds it: enough to record an outcome. */
export type ClaimedJob = Pick<Job, 'tenantId' | 'id' | 'attempts'>;

/**
 * An outcome write (complete, retry, finish, save progress) found the job no longer held by the
 * claim that made it: its lease ran out and another worker claimed it again (or it is gone, e.g.
 * with its tenant). Nothing was written, and the caller's transaction must roll back, so that a
 * stale worker can neither remove a job another worker is delivering (letting the next one of
 * its lane overtake it), nor release its lease, nor overwrite its progress. Not a delivery
 * failure: the job belongs to its new claim, which records the outcome.
 *
 * A lease that ran out without another claim is not lost: the write is still the latest claim's.
 */
export class LeaseLost extends Error {
  constructor(
    readonly job: ClaimedJob,
    /** The operation that wrote nothing (`complete`, `retry`, ...). */
    readonly operation: string,
  ) {
    super(`Job ${job.tenantId}/${job.id} is no longer held by attempt ${job.attempts}: its ${operation} was not recorded`);
    this.name = 'LeaseLost';
  }
}

/**
 * Throws LeaseLost unless the write found its row. Every outcome write is fenced the same way:
 * `WHERE tenant_id = ... AND id = ... AND attempts = <the claim's attempts>`, so the row is
 * written only while no later claim took it (a claim adds one to `attempts` under the row's lock).
 */
export function assertHeld(rowCount: number | null, job: ClaimedJob, operation: string): void {
  if (!rowCount) throw new LeaseLost(job, operation);
}

/** The row shape the claim returns. */
export interface JobRow {
  tenant_id: string;
  id: string;
  kind: JobKind;
  lane: string;
  message_id: string | null;
  event_id: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  paced: number;
  /** bigint, as a string. */
  held_ms: string | number;
  created_at: Date;
  uncertain: boolean;
}

export const toJob = (r: JobRow): Job => ({
  tenantId: r.tenant_id,
  id: r.id,
  kind: r.kind,
  lane: r.lane,
  messageId: r.message_id,
  eventId: r.event_id,
  payload: r.payload,
  attempts: r.attempts,
  paced: r.paced,
  heldMs: Number(r.held_ms),
  createdAt: r.created_at,
  uncertain: r.uncertain,
});
