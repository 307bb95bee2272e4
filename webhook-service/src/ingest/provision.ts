import { appendAudit, publishTenantEvent, type Cache, type Database, type Logger, type TenantDirectory } from '@bridge/shared';

/** A business number nobody owns that a platform-signed customer message was for. */
export interface ProvisionCandidate {
  phoneNumberId: string;
  wabaId: string | null;
  /** `metadata.display_phone_number` as Meta sent it (at most 64 characters), if it did. */
  displayPhoneNumber: string | null;
}

/** The id of the tenant provisioned for a number: `wa-<phone_number_id>` (Meta's ids are 1–30 digits, so it fits the tenant id rule). */
export const provisionedTenantId = (phoneNumberId: string): string => `wa-${phoneNumberId}`;

/** Who the audit trail names for a tenant created by automatic provisioning. */
export const PROVISIONING_ACTOR = 'platform:auto-provision';

/**
 * AUTO_PROVISION (README, "Automatic provisioning"): for each number, creates a `pending` tenant
 * `wa-<phone_number_id>` named after the number, remembering it (tenants.provisioned_phone_number_id,
 * migration 1732060800150), with no API key and no credentials, and records `tenant.provisioned`
 * in its audit trail as the platform's action, in the same transaction. Concurrent webhooks for
 * one new number (any replica) make one tenant: the id is the number's, and the insert does
 * nothing when the id or the number is taken (a tenant of that id being deleted, too: nothing is
 * created, the changes stay held, and a later message tries again). After the commit the tenant
 * directory and every node are told. Failures are logged, never thrown: the changes are held
 * whatever happens here.
 */
export function createProvisioner(deps: { db: Database; cache: Cache; logger: Logger; directory: TenantDirectory }) {
  return async (candidates: readonly ProvisionCandidate[]): Promise<void> => {
    for (const c of candidates) {
      const tenantId = provisionedTenantId(c.phoneNumberId);
      try {
        const name = c.displayPhoneNumber ? `WhatsApp ${c.displayPhoneNumber}` : `WhatsApp number ${c.phoneNumberId}`;
        const metadata = { autoProvisioned: { phoneNumberId: c.phoneNumberId, wabaId: c.wabaId, displayPhoneNumber: c.displayPhoneNumber } };
        const created = await deps.db.withTenant(tenantId, async (q) => {
          const { rows } = await q.query<{ rate_limit: number }>(
            `INSERT INTO tenants (tenant_id, name, status, provisioned_phone_number_id, metadata) VALUES ($1, $2, 'pending', $3, $4::jsonb)
             ON CONFLICT DO NOTHING RETURNING rate_limit`,
            [tenantId, name, c.phoneNumberId, JSON.stringify(metadata)],
          );
          if (!rows[0]) return undefined;
          await appendAudit(q, {
            tenantId,
            actor: PROVISIONING_ACTOR,
            action: 'tenant.provisioned',
            target: `tenant:${tenantId}`,
            after: { tenantId, name, status: 'pending', phoneNumberId: c.phoneNumberId, wabaId: c.wabaId, displayPhoneNumber: c.displayPhoneNumber },
          });
          return rows[0];
        });
        if (!created) continue;
        deps.logger.info({ tenantId, phoneNumberId: c.phoneNumberId }, 'pending tenant provisioned for a new business number; its messages are held until an admin activates it');
        await deps.directory.tenantChanged(tenantId, { tenantId, status: 'pending', rateLimit: created.rate_limit, subdomain: null, suspendedReason: null }).catch(() => undefined);
        await publishTenantEvent(deps.cache, { tenantId, kind: 'tenant-updated' }).catch(() => undefined);
      } catch (err) {
        deps.logger.error({ err, tenantId, phoneNumberId: c.phoneNumberId }, 'automatic provisioning failed; the number\u2019s messages stay held');
      }
    }
  };
}
