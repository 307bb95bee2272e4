import type { CredentialType } from './credentials';
import type { Database, Queryable } from './db';
import { raiseNotification } from './notifications';
import { holdJob, holdTenantJobs, releaseHeld } from './outbox/hold';
import { assertHeld, type ClaimedJob } from './outbox/job';

/**
 * Credential health (issue #13). A tenant's credential of one type is `valid` until a provider
 * refuses it for what it is — Meta's error 190 (the access token expired or was revoked), Genesys
 * refusing the OAuth client at its token endpoint — and then `invalid`, with the provider's
 * reason and the time (columns of `tenant_credentials`, migration 1732060800140). While it is
 * invalid, the tenant's deliveries that call with it are held (shared/src/outbox/hold.ts): no
 * provider call, no attempt, no retry budget used. Storing the credential again (the admin's
 * `POST /tenants/:id/credentials`), or a live verify that finds it good, makes it `valid` and
 * releases them, in their lanes' order.
 */

/** The health of one stored credential, as `GET /tenants/:id/credentials` shows it. */
export interface CredentialHealth {
  status: 'valid' | 'invalid';
  /** Why the provider refused it (its own words, no secret); null while valid. */
  invalidReason: string | null;
  /** When it was found invalid (ISO 8601); null while valid. */
  invalidAt: string | null;
  /** The last live verify that found it good (ISO 8601), since it was stored; null when none. */
  verifiedAt: string | null;
}

/** The columns of tenant_credentials a CredentialHealth is read from. */
export interface CredentialHealthRow {
  status: 'valid' | 'invalid';
  invalid_reason: string | null;
  invalid_at: Date | null;
  verified_at: Date | null;
}

export const CREDENTIAL_HEALTH_COLUMNS = 'status, invalid_reason, invalid_at, verified_at';

export const credentialHealth = (r: CredentialHealthRow): CredentialHealth => ({
  status: r.status,
  invalidReason: r.invalid_reason,
  invalidAt: r.invalid_at?.toISOString() ?? null,
  verifiedAt: r.verified_at?.toISOString() ?? null,
});

/** The notification kind raised when a credential is found invalid (once per stored credential). */
export const CREDENTIAL_INVALID_NOTIFICATION = 'credentials.invalid';

const PROVIDER: Record<CredentialType, { name: string; direction: string }> = {
  meta: { name: 'WhatsApp (Meta) access token', direction: 'Replies and other messages to WhatsApp' },
  genesys: { name: 'Genesys Cloud OAuth client', direction: 'Customer messages, receipts and copies to Genesys' },
};

/**
 * How long after a live verify found an invalid credential good again (and released its
 * deliveries) a refusal of it is not trusted, ms: some
 * process may still hold what the provider said before (auth-service remembers a refused OAuth
 * client for a few seconds, GENESYS_AUTH_FAILED; copies drop when the verify's broadcast reaches
 * them). Such a refusal retries the job in REPLACED_RETRY_MS instead of marking the credential.
 */
export const VERIFIED_GRACE_MS = 10_000;

/** How soon a job refused with credentials stored again since its attempt began is tried again, ms. */
export const REPLACED_RETRY_MS = 1_000;

/** The longest provider reason kept (the column's bound). */
const MAX_REASON = 1000;

/**
 * A provider refused `credential` on `job`'s attempt, which began at `attemptStartedAt`: in one
 * transaction of the tenant's, the credential is marked invalid with `reason` (unless it was
 * stored again since the attempt began, or restored by a verify within VERIFIED_GRACE_MS: then the
 * refusal is not trusted as this credential's, and the job goes back to be tried again in
 * REPLACED_RETRY_MS, `replaced`), the job and the tenant's other jobs that call with it are
 * held (`held`), and the first refusal of this stored credential raises a notification
 * (`credentials.invalid`, key `<type>:<its updated_at>`: a credential stored again and refused
 * again notifies again). Throws LeaseLost (writing nothing) when another claim has taken the job.
 */
export async function credentialRefused(
  db: Database,
  job: ClaimedJob,
  credential: CredentialType,
  reason: string,
  attemptStartedAt: Date,
): Promise<{ outcome: 'held' | 'replaced'; newlyInvalid: boolean; heldJobs: number }> {
  const why = reason.slice(0, MAX_REASON);
  return db.withTenant(job.tenantId, async (q) => {
    const marked = await q.query<{ updated_at: Date }>(
      `UPDATE tenant_credentials SET status = 'invalid', invalid_reason = $3, invalid_at = now()
        WHERE tenant_id = $1 AND type = $2 AND status = 'valid' AND updated_at <= $4
          AND (restored_at IS NULL OR restored_at < now() - $5 * interval '1 millisecond')
        RETURNING updated_at`,
      [job.tenantId, credential, why, attemptStartedAt, VERIFIED_GRACE_MS],
    );
    const newly = marked.rows[0];
    if (!newly) {
      const { rows } = await q.query<{ status: string }>('SELECT status FROM tenant_credentials WHERE tenant_id = $1 AND type = $2', [job.tenantId, credential]);
      if (rows[0]?.status !== 'invalid') {
        // Stored again (or removed) since this attempt began, or restored by a verify moments ago: not a
        // failure, and not trusted as the credential's (see VERIFIED_GRACE_MS); tried again shortly
        // (not at once: a copy of the old credential some process still holds, its change not
        // heard of yet, must not make a hot loop of refusals).
        const { rowCount } = await q.query(
          `UPDATE outbox SET next_attempt_at = now() + $5 * interval '1 millisecond', locked_until = NULL, last_error = $4, paced = paced + 1, updated_at = now()
            WHERE tenant_id = $1 AND id = $2 AND attempts = $3`,
          [job.tenantId, job.id, job.attempts, why, REPLACED_RETRY_MS],
        );
        assertHeld(rowCount, job, 'retry');
        return { outcome: 'replaced' as const, newlyInvalid: false, heldJobs: 0 };
      }
    }
    await holdJob(q, job, why);
    const others = await holdTenantJobs(q, job.tenantId, credential);
    if (newly) {
      const provider = PROVIDER[credential];
      await raiseNotification(q, job.tenantId, {
        kind: CREDENTIAL_INVALID_NOTIFICATION,
        key: `${credential}:${newly.updated_at.toISOString()}`,
        severity: 'critical',
        message: `The ${provider.name} stored for this tenant was refused: ${why}. ${provider.direction} are held, not lost, until the credentials are replaced.`,
        details: { type: credential, reason: why, invalidAt: new Date().toISOString() },
      });
    }
    return { outcome: 'held' as const, newlyInvalid: !!newly, heldJobs: others + 1 };
  });
}

/**
 * The credential was just stored again (the caller's upsert made it `valid`): releases the
 * tenant's jobs held for it, in the caller's transaction (the workers are woken at its commit).
 * Returns how many.
 */
export function credentialStored(q: Queryable, tenantId: string, credential: CredentialType): Promise<number> {
  return releaseHeld(q, tenantId, credential);
}

/**
 * A live verify found the credential stored at `storedAt` (its updated_at) good: records when,
 * and, if it was invalid, makes it `valid` and releases the tenant's jobs held for it. Nothing
 * when it has been stored again since (`storedAt` as read into a Date: to the millisecond).
 * Returns whether it was invalid.
 */
export async function credentialVerified(q: Queryable, tenantId: string, credential: CredentialType, storedAt: Date): Promise<{ cleared: boolean; released: number }> {
  const { rows } = await q.query<{ was: string }>(
    `UPDATE tenant_credentials c SET status = 'valid', invalid_reason = NULL, invalid_at = NULL, verified_at = now(),
            restored_at = CASE WHEN old.was = 'invalid' THEN now() ELSE c.restored_at END
       FROM (SELECT status AS was FROM tenant_credentials WHERE tenant_id = $1 AND type = $2 FOR UPDATE) old
      WHERE c.tenant_id = $1 AND c.type = $2 AND abs(extract(epoch FROM c.updated_at - $3::timestamptz)) < 0.001
      RETURNING old.was`,
    [tenantId, credential, storedAt],
  );
  if (rows[0]?.was !== 'invalid') return { cleared: false, released: 0 };
  return { cleared: true, released: await releaseHeld(q, tenantId, credential) };
}
