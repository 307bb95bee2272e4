import { z } from 'zod';
import {
  OpenAPIRegistry,
  adminAuditPageResponse,
  apiKeyListResponse,
  auditVerificationResponse,
  bulkRetryResponse,
  createdApiKeyResponse,
  createdTenantResponse,
  credentialListResponse,
  credentialsResponse,
  deletionResponse,
  planListResponse,
  planResponse,
  retryResponse,
  templateListResponse,
  templateSyncResponse,
  tenantListResponse,
  tenantResponse,
  unclaimedChangesResponse,
  usageResponse,
  verificationResponse,
  credentialTypeSchema,
  credentialsBodySchema,
  errorResponses,
  withCommonErrors,
  generateDocument,
  json,
  messagePageResponse,
  messagesQuery,
  templateListQuerySchema,
  type DocumentedRoute,
  type ErrorCode,
} from '@bridge/shared';
import { adminAuditQuerySchema } from './audit-routes';
import { bulkRetrySchema, createApiKeySchema, createPlanSchema, createTenantSchema, listQuerySchema, planNameSchema, tenantIdSchema, unclaimedQuerySchema, updatePlanSchema, updateTenantSchema } from './schemas';


/** Errors every admin route may answer: the admin key, the body parser, the dependencies. */
const COMMON: ErrorCode[] = ['INVALID_ADMIN_KEY', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_ENCODING', 'INTERNAL_ERROR', 'DATABASE_UNAVAILABLE', 'DATABASE_BUSY'];

const tenantPath = z.object({ tenantId: tenantIdSchema });
const planPath = z.object({ name: planNameSchema });
const body = (schema: z.ZodType) => ({ content: { 'application/json': { schema } }, required: true });
const noContent = (description: string) => ({ description });

/**
 * Every route of the admin API (tenant-service :3007; tenant-service/src/*routes*.ts), with the
 * zod schemas its handler parses with (schemas.ts, shared) and the shapes it answers
 * (openapi-responses.ts). A new admin route is added here too: test/openapi.test.ts walks the
 * Express routers and fails on a route this list lacks.
 */
export const ADMIN_ROUTES: DocumentedRoute[] = [
  {
    method: 'post', path: '/tenants', summary: 'Create a tenant (its first API key is shown once)',
    request: { body: body(createTenantSchema) },
    responses: { 201: json(createdTenantResponse, 'The tenant and its first key'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_EXISTS', 'SUBDOMAIN_TAKEN', 'PLAN_NOT_FOUND']) },
  },
  {
    method: 'get', path: '/tenants', summary: 'List tenants, by id, a page at a time',
    request: { query: listQuerySchema },
    responses: { 200: json(tenantListResponse, 'A page of tenants'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'get', path: '/tenants/{tenantId}', summary: 'One tenant',
    request: { params: tenantPath },
    responses: { 200: json(tenantResponse, 'The tenant'), ...errorResponses(['TENANT_NOT_FOUND']) },
  },
  {
    method: 'patch', path: '/tenants/{tenantId}', summary: 'Change a tenant (suspend with a reason, reactivate, plan, settings)',
    request: { params: tenantPath, body: body(updateTenantSchema) },
    responses: { 200: json(tenantResponse, 'The tenant as changed'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND', 'SUBDOMAIN_TAKEN', 'PLAN_NOT_FOUND', 'TENANT_BEING_DELETED']) },
  },
  {
    method: 'delete', path: '/tenants/{tenantId}', summary: 'Delete a tenant (gone at once; its rows are purged in the background)',
    request: { params: tenantPath },
    responses: { 204: noContent('Deleted'), ...errorResponses(['TENANT_NOT_FOUND']) },
  },
  {
    method: 'get', path: '/tenants/{tenantId}/deletion', summary: "A deleted tenant's purge progress",
    request: { params: tenantPath },
    responses: { 200: json(deletionResponse, 'The purge'), ...errorResponses(['DELETION_NOT_FOUND', 'TENANT_NOT_FOUND']) },
  },
  {
    method: 'get', path: '/tenants/{tenantId}/usage', summary: "This period's usage against each plan limit, with a daily breakdown",
    request: { params: tenantPath },
    responses: { 200: json(usageResponse, 'The usage report'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND']) },
  },
  { method: 'get', path: '/plans', summary: 'Every plan', responses: { 200: json(planListResponse, 'The plans') } },
  {
    method: 'post', path: '/plans', summary: 'Create a plan',
    request: { body: body(createPlanSchema) },
    responses: { 201: json(planResponse, 'The plan'), ...errorResponses(['VALIDATION_ERROR', 'PLAN_EXISTS']) },
  },
  {
    method: 'get', path: '/plans/{name}', summary: 'One plan',
    request: { params: planPath },
    responses: { 200: json(planResponse, 'The plan'), ...errorResponses(['PLAN_NOT_FOUND']) },
  },
  {
    method: 'patch', path: '/plans/{name}', summary: "Change a plan's limits (null: unlimited)",
    request: { params: planPath, body: body(updatePlanSchema) },
    responses: { 200: json(planResponse, 'The plan as changed'), ...errorResponses(['VALIDATION_ERROR', 'PLAN_NOT_FOUND']) },
  },
  {
    method: 'get', path: '/unclaimed-changes', summary: 'Meta changes held for a phone number no tenant owns yet, oldest first',
    request: { query: unclaimedQuerySchema },
    responses: { 200: json(unclaimedChangesResponse, 'A page of held changes'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'post', path: '/tenants/{tenantId}/credentials', summary: 'Store Meta or Genesys credentials (storing a type again replaces it)',
    request: { params: tenantPath, body: body(credentialsBodySchema) },
    responses: { 201: json(credentialsResponse, 'Stored; secrets masked'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND', 'PHONE_NUMBER_TAKEN']) },
  },
  {
    method: 'get', path: '/tenants/{tenantId}/credentials', summary: 'Credential types and non-secret fields (secrets masked), with their health',
    request: { params: tenantPath },
    responses: { 200: json(credentialListResponse, 'The credentials'), ...errorResponses(['TENANT_NOT_FOUND']) },
  },
  {
    method: 'post', path: '/tenants/{tenantId}/credentials/{type}/verify', summary: 'Check stored credentials live with the provider (200 with what it found)',
    request: { params: tenantPath.extend({ type: credentialTypeSchema }) },
    responses: { 200: json(verificationResponse, 'What the provider said'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND', 'CREDENTIALS_NOT_FOUND']) },
  },
  {
    method: 'post', path: '/tenants/{tenantId}/templates/sync', summary: "Read the tenant's template catalogue from Meta now",
    request: { params: tenantPath },
    responses: { 200: json(templateSyncResponse, 'What was stored'), ...errorResponses(['TENANT_NOT_FOUND', 'META_NOT_CONFIGURED', 'WABA_NOT_CONFIGURED', 'TEMPLATE_SYNC_FAILED']) },
  },
  {
    method: 'get', path: '/tenants/{tenantId}/templates', summary: "The tenant's template catalogue",
    request: { params: tenantPath, query: templateListQuerySchema },
    responses: { 200: json(templateListResponse, 'The catalogue'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND']) },
  },
  {
    method: 'post', path: '/tenants/{tenantId}/api-keys', summary: 'Create an API key (shown once)',
    request: { params: tenantPath, body: body(createApiKeySchema) },
    responses: { 201: json(createdApiKeyResponse, 'The key'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND']) },
  },
  {
    method: 'get', path: '/tenants/{tenantId}/api-keys', summary: "The tenant's API keys (never the keys themselves)",
    request: { params: tenantPath },
    responses: { 200: json(apiKeyListResponse, 'The keys'), ...errorResponses(['TENANT_NOT_FOUND']) },
  },
  {
    method: 'delete', path: '/tenants/{tenantId}/api-keys/{id}', summary: 'Revoke an API key (at once, on every node)',
    request: { params: tenantPath.extend({ id: z.string() }) },
    responses: { 204: noContent('Revoked'), ...errorResponses(['TENANT_NOT_FOUND', 'API_KEY_NOT_FOUND']) },
  },
  {
    method: 'get', path: '/audit', summary: 'The audit trail of every tenant, newest first',
    request: { query: adminAuditQuerySchema },
    responses: { 200: json(adminAuditPageResponse, 'A page of events'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'get', path: '/tenants/{tenantId}/audit/verify', summary: "Recompute the tenant's audit chain",
    request: { params: tenantPath },
    responses: { 200: json(auditVerificationResponse, 'Whether the chain holds'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND']) },
  },
  {
    method: 'get', path: '/tenants/{tenantId}/messages', summary: "The tenant's messages with their delivery status (failed and dead ones with the reason), newest first",
    request: { params: tenantPath, query: messagesQuery },
    responses: { 200: json(messagePageResponse, 'A page of messages'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND']) },
  },
  {
    method: 'post', path: '/tenants/{tenantId}/messages/retry', summary: 'Retry every failed or dead message given up in [since, until), oldest first',
    request: { params: tenantPath, body: body(bulkRetrySchema) },
    responses: { 200: json(bulkRetryResponse, 'What was queued again and what was skipped'), ...errorResponses(['VALIDATION_ERROR', 'TENANT_NOT_FOUND']) },
  },
  {
    method: 'post', path: '/tenants/{tenantId}/messages/{messageId}/retry', summary: 'Send a failed or dead message again, at the end of its lane',
    request: { params: tenantPath.extend({ messageId: z.string() }) },
    responses: { 202: json(retryResponse, 'Queued again'), 200: json(retryResponse, 'Already queued again: nothing queued'), ...errorResponses(['TENANT_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'MESSAGE_NOT_RETRYABLE']) },
  },
];

/** The admin API's OpenAPI 3.1 document (served at tenant-service's /openapi.json). */
export function adminApiDocument(version: string): object {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'adminKey', { type: 'http', scheme: 'bearer', description: 'The platform admin key: `Authorization: Bearer $ADMIN_API_KEY`.' });
  for (const route of ADMIN_ROUTES) {
    const { responses, ...rest } = route;
    const merged = withCommonErrors(responses as Record<string, { description: string }>, COMMON);
    registry.registerPath({ ...rest, security: [{ adminKey: [] }], responses: merged });
  }
  return generateDocument(registry, {
    title: 'WhatsApp–Genesys bridge: admin API',
    version,
    description: 'The platform admins\' API (tenant-service, port 3007). Every route needs the admin key. Errors: `{error: {code, message, requestId}}` (README "Error codes").',
  });
}
