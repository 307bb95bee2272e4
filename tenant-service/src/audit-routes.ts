import { Router } from 'express';
import { auditPage, auditQuerySchema, parseInput, verifyAuditChain, type AuditRow, type Database } from '@bridge/shared';
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
 * events}` or `{ok: false, events, brokenAt, reason}`; a deleted tenant's trail verifies too).
 */
export function auditRoutes(db: Database): Router {
  const r = Router();
  r.get('/audit', async (req, res) => {
    const q = parseInput(adminAuditQuerySchema, req.query);
    const rows = await auditPage(db, { ...q, tenantId: q.tenant });
    res.json({ events: rows.map(adminAuditEvent), nextBefore: rows.length === q.limit ? rows[rows.length - 1].id : null });
  });
  r.get('/tenants/:tenantId/audit/verify', async (req, res) => {
    res.json(await verifyAuditChain(db, parseInput(tenantIdSchema, req.params.tenantId)));
  });
  return r;
}
