import { Router } from 'express';
import { listCatalogue, parseInput, templateListQuerySchema, templateView, type Database } from '@bridge/shared';

/**
 * The tenant API's template catalogue: `GET /templates` (`?status=APPROVED` keeps one status) →
 * `{templates: TemplateView[]}`, the caller tenant's only (row-level security and the tenant id
 * both say so). The catalogue is written by tenant-service's sync and webhook-service's template
 * status webhooks. `req.tenantId` is set by requireGatewayTenant.
 */
export function templateRoutes(db: Database): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    const tenantId = req.tenantId!;
    const { status } = parseInput(templateListQuerySchema, req.query);
    const rows = await db.withTenant(tenantId, (q) => listCatalogue(q, tenantId, { status }));
    res.json({ templates: rows.map(templateView) });
  });
  return r;
}
