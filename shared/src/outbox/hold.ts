import type { Queryable } from '../db';
import { assertHeld, type ClaimedJob } from './job';
import { OUTBOX_CHANNEL } from './notify';

/**
 * Holding: a tenant's jobs that need a credential a provider refused (see JOB_CREDENTIAL in
 * kinds.ts and shared/src/credential-health.ts) wait, `held_at` set, until it is replaced. A held
 * job is not claimed (it leaves the claim's index), keeps its place at the head of its lane (so
 * its lane's later jobs wait behind it, in order), and the time it waits is added to `held_ms`
 * when it is released, so that it costs none of its retry budget (see `afterFailure`). The
 * statements below run in the caller's transaction, in the tenant's scope.
 */

/**
 * Holds the job whose attempt the provider refused for its credential, and releases its lease,
 * recording `error`. Not a failure: the attempt is counted in `paced` (as a paced one is), so
 * backoff after a later real failure counts failed attempts only. Throws LeaseLost (writing
 * nothing) when another claim has taken the job since.
 */
export async function holdJob(q: Queryable, job: ClaimedJob, error: string): Promise<void> {
  const { rowCount } = await q.query(
    `UPDATE outbox SET held_at = now(), locked_until = NULL, last_error = $4, paced = paced + 1, updated_at = now()
      WHERE tenant_id = $1 AND id = $2 AND attempts = $3`,
    [job.tenantId, job.id, job.attempts, error],
  );
  assertHeld(rowCount, job, 'hold');
}

/**
 * Holds every pending job of the tenant that calls with `credential` and is not in flight (one
 * in flight meets the same refusal and holds itself). Jobs queued later are held as they are
 * queued (the outbox's insert trigger, migration 1732060800140). Returns how many.
 */
export async function holdTenantJobs(q: Queryable, tenantId: string, credential: string): Promise<number> {
  const { rowCount } = await q.query(
    `UPDATE outbox SET held_at = now()
      WHERE tenant_id = $1 AND state = 'pending' AND held_at IS NULL AND outbox_kind_credential(kind) = $2
        AND (locked_until IS NULL OR locked_until < now())`,
    [tenantId, credential],
  );
  return rowCount ?? 0;
}

/**
 * Releases the tenant's jobs held for `credential`, adding the time each waited to its `held_ms`,
 * and wakes the delivery workers when the transaction commits (a NOTIFY is delivered on commit,
 * so no worker looks before the release is visible). They are then claimed as ever: lane heads
 * first, in each lane's order. Returns how many.
 */
export async function releaseHeld(q: Queryable, tenantId: string, credential: string): Promise<number> {
  const { rowCount } = await q.query(
    `UPDATE outbox SET held_ms = held_ms + GREATEST(0, floor(extract(epoch FROM now() - held_at) * 1000))::bigint, held_at = NULL, updated_at = now()
      WHERE tenant_id = $1 AND held_at IS NOT NULL AND outbox_kind_credential(kind) = $2`,
    [tenantId, credential],
  );
  if (rowCount) await q.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, '']);
  return rowCount ?? 0;
}
