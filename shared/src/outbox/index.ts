/**
 * The delivery queue (the `outbox` table), one file per operation: kinds and lanes (kinds.ts),
 * the one way in (enqueue.ts), waking the workers (notify.ts), and the workers' side: claim,
 * renew leases, release (at shutdown), complete, retry, pace, hold (for a refused credential),
 * finish, save progress, and the operators' view.
 *
 * webhook-service enqueues (composing `enqueueSql` into its store statements); genesys-connector
 * drains the queue through an `Outbox` (`createOutbox(db)`), and enqueues the receipts of sends
 * it gives up on.
 */
import type { Database, Queryable } from '../db';
import { claim } from './claim';
import { complete } from './complete';
import { enqueue, type NewJob } from './enqueue';
import { finish, type FinalState } from './finish';
import type { ClaimedJob, Job } from './job';
import { pace } from './pace';
import { credentialRefused } from '../credential-health';
import type { CredentialType } from '../credentials';
import { release } from './release';
import { renewLeases } from './renew-leases';
import { retry } from './retry';
import { saveProgress } from './save-progress';
import { queueView, type QueueCount } from './view';

export { JOB_KINDS, JOB_CREDENTIAL, lanes, laneSql, type JobKind } from './kinds';
export { holdJob, holdTenantJobs, releaseHeld } from './hold';
export { enqueue, enqueueSql, type EnqueueColumns, type NewJob } from './enqueue';
export { OUTBOX_CHANNEL, OutboxNotifier } from './notify';
export { LeaseLost, type ClaimedJob, type Job } from './job';
export type { FinalState } from './finish';
export { afterFailure, backoffMs, type AfterFailure, type RetryPolicy } from './retry';
export type { QueueCount } from './view';

/**
 * The queue's operations bound to one database (see each file for the rules). Every write of a
 * claim's outcome is fenced to that claim and throws LeaseLost, writing nothing, once another
 * claim has taken the job (see job.ts).
 */
export interface Outbox {
  enqueue(q: Queryable, job: NewJob): Promise<string>;
  claim(limit: number, leaseMs: number, skipTenants: string[]): Promise<Job[]>;
  renewLeases(jobs: Job[], leaseMs: number): Promise<Job[]>;
  release(jobs: Job[], reason: string): Promise<Job[]>;
  complete(q: Queryable, job: ClaimedJob): Promise<void>;
  retry(job: Job, delayMs: number, error: string, uncertain?: boolean): Promise<void>;
  pace(job: Job, delayMs: number, error: string): Promise<void>;
  /**
   * The provider refused the tenant's `credential` on this attempt (begun at `attemptStartedAt`):
   * the credential is marked invalid and the job, with the tenant's others that need it, is held
   * until it is replaced (shared/src/credential-health.ts, hold.ts). `replaced`: it was stored
   * again since the attempt began, and the job is tried again at once instead.
   */
  holdForCredential(job: Job, credential: CredentialType, reason: string, attemptStartedAt: Date): Promise<{ outcome: 'held' | 'replaced'; newlyInvalid: boolean; heldJobs: number }>;
  finish(q: Queryable, job: ClaimedJob, state: FinalState, error: string): Promise<void>;
  saveProgress(job: Job, payload: Record<string, unknown>): Promise<void>;
  view(): Promise<QueueCount[]>;
}

export function createOutbox(db: Database): Outbox {
  return {
    enqueue,
    claim: (limit, leaseMs, skipTenants) => claim(db, limit, leaseMs, skipTenants),
    renewLeases: (jobs, leaseMs) => renewLeases(db, jobs, leaseMs),
    release: (jobs, reason) => release(db, jobs, reason),
    complete,
    retry: (job, delayMs, error, uncertain) => retry(db, job, delayMs, error, uncertain),
    pace: (job, delayMs, error) => pace(db, job, delayMs, error),
    holdForCredential: (job, credential, reason, attemptStartedAt) => credentialRefused(db, job, credential, reason, attemptStartedAt),
    finish,
    saveProgress: (job, payload) => saveProgress(db, job, payload),
    view: () => queueView(db),
  };
}
export { watchQueue, type QueueMetricsOptions } from './metrics';
