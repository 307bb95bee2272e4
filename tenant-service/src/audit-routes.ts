import { Router } from 'express';
import { appError, auditPage, auditQuerySchema, parseInput, verifyAuditChain, type AuditRow, type Database } from '@bridge/shared';
import * as repo from './repository';
import { tenantIdSchema } from './schemas';

/** An event as the admin API shows it: everything, platform details included. */
export const adminAuditEvent = (r: AuditRow) => ({
  id: r.id,
  tenantId: r.tenant_id,
  actor: r.actor,
  action: r.action,
  target: r.target,
  before: r.before,
  after: r.after,
  requestId: r.request_id,
  clientIp: r.client_ip,
  at: r.at.toISOString(),
});

export const adminAuditQuerySchema = auditQuerySchema.extend({ tenant: tenantIdSchema.optional() });

/**
 * The admin API's audit routes (issue #13): `GET /audit` (every chain, newest first; filters
 * tenant, type, since; `nextBefore` is the cursor of the next page, null on the last) and
 * `GET /tenants/:id/audit/verify` (the tenant's chain recomputed from its anchor: `{ok: true,
 * events}` or `{ok: false, events, brokenAt, reason}`; a deleted tenant's trail verifies too, even
 * once the purge removed its tenant row: its deletion record stays; 404 TENANT_NOT_FOUND for an
 * empty chain of a tenant that never existed, neither a tenant row nor a deletion record).
 */
export function auditRoutes(db: Database): Router {
  const r = Router();
  r.get('/audit', async (req, res) => {
    const q = parseInput(adminAuditQuerySchema, req.query);
    const rows = await auditPage(db, { ...q, tenantId: q.tenant });
    res.json({ events: rows.map(adminAuditEvent), nextBefore: rows.length === q.limit ? rows[rows.length - 1].id : null });
  });
  r.get('/tenants/:tenantId/audit/verify', async (req, res) => {
    const tenantId = parseInput(tenantIdSchema, req.params.tenantId);
    const verification = await verifyAuditChain(db, tenantId);
    if (verification.events === 0 && verification.ok) {
      const known = await db.withTenant(tenantId, async (q) => (await repo.tenantStatus(q, tenantId)) !== undefined || (await repo.findDeletion(q, tenantId)) !== undefined);
      if (!known) throw appError('TENANT_NOT_FOUND');
    }
    res.json(verification);
  });
  return r;
}
