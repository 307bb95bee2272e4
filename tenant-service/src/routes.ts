import { Router } from 'express';
import { appError, parseInput, credentialTypeSchema, usageQuerySchema, credentialsBodySchema, templateListQuerySchema, type CredentialType, type InternalCaller } from '@bridge/shared';
import { createApiKeySchema, createPlanSchema, createTenantSchema, listQuerySchema, planNameSchema, tenantIdSchema, unclaimedQuerySchema, updatePlanSchema, updateTenantSchema } from './schemas';
import type { TemplateCatalogue } from './templates';
import type { TenantUseCases } from './tenants';

/** A path tenant id that cannot exist is simply not found. */
function tenantParam(value: string): string {
  if (!tenantIdSchema.safeParse(value).success) throw appError('TENANT_NOT_FOUND');
  return value;
}

/** A path plan name that cannot exist is simply not found. */
function planParam(value: string): string {
  if (!planNameSchema.safeParse(value).success) throw appError('PLAN_NOT_FOUND');
  return value;
}

/** The admin API (contract: "Admin API — tenant-service :3007"). HTTP only: parse, call, answer. */
export function adminRoutes(tenants: TenantUseCases, templates: TemplateCatalogue): Router {
  const r = Router();

  r.post('/tenants', async (req, res) => {
    res.status(201).json(await tenants.createTenant(parseInput(createTenantSchema, req.body)));
  });

  r.get('/tenants', async (req, res) => {
    const q = parseInput(listQuerySchema, req.query);
    res.json(await tenants.listTenants(q.limit, q.after));
  });

  r.get('/tenants/:tenantId', async (req, res) => {
    res.json(await tenants.getTenant(tenantParam(req.params.tenantId)));
  });

  r.patch('/tenants/:tenantId', async (req, res) => {
    res.json(await tenants.updateTenant(tenantParam(req.params.tenantId), parseInput(updateTenantSchema, req.body)));
  });

  // 204 at once: the tenant is gone for everyone from now on; its rows are purged in the background.
  r.delete('/tenants/:tenantId', async (req, res) => {
    await tenants.deleteTenant(tenantParam(req.params.tenantId));
    res.status(204).end();
  });

  r.get('/tenants/:tenantId/deletion', async (req, res) => {
    res.json(await tenants.getDeletion(tenantParam(req.params.tenantId)));
  });

  // This period's usage against each plan limit, with a daily breakdown (issue #13).
  r.get('/tenants/:tenantId/usage', async (req, res) => {
    parseInput(usageQuerySchema, req.query);
    res.json(await tenants.getUsage(tenantParam(req.params.tenantId)));
  });

  // Plans (issue #13): the limits tenants are held to.
  r.get('/plans', async (_req, res) => {
    res.json(await tenants.plans.listPlans());
  });

  r.post('/plans', async (req, res) => {
    res.status(201).json(await tenants.plans.createPlan(parseInput(createPlanSchema, req.body)));
  });

  r.get('/plans/:name', async (req, res) => {
    res.json(await tenants.plans.getPlan(planParam(req.params.name)));
  });

  r.patch('/plans/:name', async (req, res) => {
    res.json(await tenants.plans.updatePlan(planParam(req.params.name), parseInput(updatePlanSchema, req.body)));
  });

  r.get('/unclaimed-changes', async (req, res) => {
    res.json(await tenants.listUnclaimedChanges(parseInput(unclaimedQuerySchema, req.query)));
  });

  r.post('/tenants/:tenantId/credentials', async (req, res) => {
    res.status(201).json(await tenants.storeCredentials(tenantParam(req.params.tenantId), parseInput(credentialsBodySchema, req.body)));
  });

  r.get('/tenants/:tenantId/credentials', async (req, res) => {
    res.json(await tenants.listCredentials(tenantParam(req.params.tenantId)));
  });

  // A live check with the provider; 200 with what it found (ok, or the problem), no secrets.
  r.post('/tenants/:tenantId/credentials/:type/verify', async (req, res) => {
    const tenantId = tenantParam(req.params.tenantId);
    res.json(await tenants.verifyCredentials(tenantId, parseInput(credentialTypeSchema, req.params.type)));
  });

  // Synchronous: answers once Meta's whole listing is stored (or with why it could not be).
  r.post('/tenants/:tenantId/templates/sync', async (req, res) => {
    res.json(await templates.syncTemplates(tenantParam(req.params.tenantId)));
  });

  r.get('/tenants/:tenantId/templates', async (req, res) => {
    const tenantId = tenantParam(req.params.tenantId);
    res.json(await templates.listTemplates(tenantId, parseInput(templateListQuerySchema, req.query).status));
  });

  r.post('/tenants/:tenantId/api-keys', async (req, res) => {
    res.status(201).json(await tenants.createApiKey(tenantParam(req.params.tenantId), parseInput(createApiKeySchema, req.body)));
  });

  r.get('/tenants/:tenantId/api-keys', async (req, res) => {
    res.json(await tenants.listApiKeys(tenantParam(req.params.tenantId)));
  });

  r.delete('/tenants/:tenantId/api-keys/:id', async (req, res) => {
    await tenants.revokeApiKey(tenantParam(req.params.tenantId), req.params.id);
    res.status(204).end();
  });

  return r;
}

/**
 * Which services may read which decrypted credentials, each by its own internal token:
 * webhook-service checks Meta's and Genesys's signatures and fetches media with the Meta token;
 * auth-service trades Genesys client credentials for OAuth tokens; genesys-connector sends with
 * both.
 */
export const CREDENTIAL_READERS: Record<CredentialType, readonly InternalCaller[]> = {
  meta: ['webhook-service', 'genesys-connector'],
  genesys: ['webhook-service', 'auth-service', 'genesys-connector'],
};

/**
 * Routes for the other services, on the internal listener, behind requireInternalCaller (which
 * puts the caller in `res.locals.internalCaller`).
 */
export function internalRoutes(tenants: TenantUseCases): Router {
  const r = Router();
  r.get('/tenants/:tenantId/credentials/:type', async (req, res) => {
    const type = parseInput(credentialTypeSchema, req.params.type);
    if (!CREDENTIAL_READERS[type].includes(res.locals.internalCaller)) throw appError('INVALID_INTERNAL_TOKEN');
    res.set('Cache-Control', 'no-store');
    res.json(await tenants.readCredentials(tenantParam(req.params.tenantId), type));
  });
  // Where, and with which secret, genesys-connector POSTs the tenant's notifications (404 NOTIFICATION_WEBHOOK_NOT_SET: none).
  r.get('/tenants/:tenantId/notification-webhook', async (req, res) => {
    if (res.locals.internalCaller !== 'genesys-connector') throw appError('INVALID_INTERNAL_TOKEN');
    res.set('Cache-Control', 'no-store');
    const webhook = await tenants.readNotificationWebhook(tenantParam(req.params.tenantId));
    if (!webhook) throw appError('NOTIFICATION_WEBHOOK_NOT_SET');
    res.json(webhook);
  });
  return r;
}
