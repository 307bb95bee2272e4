import { z } from 'zod';
import {
  OpenAPIRegistry,
  conversationsQuery,
  customerIdSchema,
  mappingBody,
  messagesQuery,
  notificationsQuery,
  sendBody,
  conversationPageResponse,
  mappingResponse,
  messagePageResponse,
  notificationPageResponse,
  proactiveMessageResponse,
  retryResponse,
  statsResponse,
  templateListResponse,
  tenantAuditPageResponse,
  tokenResponse,
  usageResponse,
  auditQuerySchema,
  errorResponses,
  generateDocument,
  json,
  templateListQuerySchema,
  withCommonErrors,
  type DocumentedRoute,
  type ErrorCode,
} from '@bridge/shared';
import { scopeFor } from './scopes';

/**
 * Errors any tenant route may answer: authentication and the tenant (tenant-resolver.ts), the
 * key's origins and scope (cors.ts, scopes.ts), rate limits and quotas, the body parser, the services.
 */
const COMMON: ErrorCode[] = [
  'MISSING_CREDENTIALS', 'INVALID_API_KEY', 'API_KEY_REVOKED', 'API_KEY_EXPIRED', 'INVALID_TOKEN', 'TOKEN_EXPIRED', 'TOKEN_REVOKED',
  'TENANT_MISMATCH', 'INSUFFICIENT_SCOPE', 'ORIGIN_NOT_ALLOWED', 'TENANT_SUSPENDED', 'TENANT_PENDING',
  'RATE_LIMITED', 'QUOTA_EXCEEDED', 'CLIENT_RATE_LIMITED', 'TOO_MANY_AUTH_FAILURES',
  'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'INTERNAL_ERROR', 'DATABASE_UNAVAILABLE', 'DATABASE_BUSY', 'AUTH_LOOKUPS_BUSY', 'SERVICE_UNAVAILABLE',
];

const body = (schema: z.ZodType) => ({ content: { 'application/json': { schema } }, required: true });
const messageIdPath = z.object({ id: z.string().describe("A message id (GET /state/messages' `id`)") });

/**
 * Every tenant route behind the gateway (:3000), the rows of scopes.ts's ROUTE_SCOPES, with the
 * zod schemas state-manager parses requests with (shared/src/tenant-api-schemas.ts) and the shapes it answers
 * (openapi-responses.ts). Each gets `x-required-scope` from ROUTE_SCOPES (tenantApiDocument); a
 * new tenant route is added to both (test/openapi.test.ts fails on a row this list lacks).
 */
export const TENANT_ROUTES: DocumentedRoute[] = [
  {
    method: 'post', path: '/auth/token', summary: 'Trade the API key for a short-lived JWT carrying its scopes (only with X-API-Key)',
    responses: { 200: json(tokenResponse, 'The token'), ...errorResponses(['API_KEY_REQUIRED']) },
  },
  { method: 'get', path: '/state/stats', summary: "The tenant's counts", responses: { 200: json(statsResponse, 'The counts') } },
  {
    method: 'get', path: '/state/conversations', summary: 'Conversations, newest first, a page at a time',
    request: { query: conversationsQuery },
    responses: { 200: json(conversationPageResponse, 'A page'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'get', path: '/state/messages', summary: 'Messages in either direction with their delivery status (failed and dead ones with the reason), newest first',
    request: { query: messagesQuery },
    responses: { 200: json(messagePageResponse, 'A page'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'post', path: '/state/messages/{id}/retry', summary: 'Send a failed or dead message again, at the end of its lane',
    request: { params: messageIdPath },
    responses: { 202: json(retryResponse, 'Queued again'), 200: json(retryResponse, 'Already queued again: nothing queued'), ...errorResponses(['MESSAGE_NOT_FOUND', 'MESSAGE_NOT_RETRYABLE']) },
  },
  {
    method: 'get', path: '/messages/{id}', summary: 'A proactive message as it moves',
    request: { params: messageIdPath },
    responses: { 200: json(proactiveMessageResponse, 'The message'), ...errorResponses(['MESSAGE_NOT_FOUND']) },
  },
  {
    method: 'get', path: '/state/mapping/{waId}', summary: "A customer's conversation mapping",
    request: { params: z.object({ waId: customerIdSchema }) },
    responses: { 200: json(mappingResponse, 'The mapping'), ...errorResponses(['MAPPING_NOT_FOUND']) },
  },
  {
    method: 'post', path: '/state/mapping', summary: "Write a customer's conversation mapping",
    request: { body: body(mappingBody) },
    responses: { 201: json(mappingResponse, 'Created'), 200: json(mappingResponse, 'Updated'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'post', path: '/messages', summary: 'Send a template (any time) or a text (while the 24-hour window is open) to a customer',
    request: {
      headers: z.object({ 'Idempotency-Key': z.string().optional().describe('1 to 255 printable ASCII characters: the same key and body answer the same message') }),
      body: body(sendBody),
    },
    responses: {
      202: json(proactiveMessageResponse, 'Queued'),
      ...errorResponses(['VALIDATION_ERROR', 'META_NOT_CONFIGURED', 'IDEMPOTENCY_KEY_REUSED', 'TEMPLATE_NOT_FOUND', 'TEMPLATE_LANGUAGE_NOT_FOUND', 'TEMPLATE_NOT_APPROVED', 'TEMPLATE_PARAMETER_MISMATCH', 'TEMPLATE_NOT_SENDABLE', 'TEMPLATE_TOO_LONG', 'WINDOW_CLOSED']),
    },
  },
  {
    method: 'get', path: '/templates', summary: "The tenant's WhatsApp template catalogue",
    request: { query: templateListQuerySchema },
    responses: { 200: json(templateListResponse, 'The catalogue'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'get', path: '/state/usage', summary: "This period's usage against each plan limit, with a daily breakdown",
    responses: { 200: json(usageResponse, 'The usage report'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'get', path: '/state/audit', summary: "The tenant's audit trail, newest first",
    request: { query: auditQuerySchema },
    responses: { 200: json(tenantAuditPageResponse, 'A page of events'), ...errorResponses(['VALIDATION_ERROR']) },
  },
  {
    method: 'get', path: '/state/notifications', summary: 'What the platform told the tenant (quota warnings, credential problems), newest first',
    request: { query: notificationsQuery },
    responses: { 200: json(notificationPageResponse, 'A page'), ...errorResponses(['VALIDATION_ERROR']) },
  },
];

/** A path of the document as a client would send it (`{id}` → `x`), to find its row in ROUTE_SCOPES. */
export const samplePath = (path: string) => path.replace(/\{[^}]+\}/g, 'x');

/** The tenant API's OpenAPI 3.1 document (served at the gateway's /openapi.json). */
export function tenantApiDocument(version: string): object {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'apiKey', { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A tenant API key (`sk_...`), created by a platform admin.' });
  registry.registerComponent('securitySchemes', 'bearerJwt', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from POST /auth/token: the key\'s tenant and scopes, short-lived.' });
  for (const route of TENANT_ROUTES) {
    const { responses, ...rest } = route;
    const scope = scopeFor(route.method.toUpperCase(), samplePath(route.path));
    if (scope === undefined) throw new Error(`${route.method} ${route.path} is not in the gateway's scope table (scopes.ts)`);
    registry.registerPath({
      ...rest,
      // A token buys no token: /auth/token takes only a key.
      security: route.path === '/auth/token' ? [{ apiKey: [] }] : [{ apiKey: [] }, { bearerJwt: [] }],
      responses: withCommonErrors(responses as Record<string, { description: string }>, COMMON),
      'x-required-scope': scope,
    });
  }
  return generateDocument(registry, {
    title: 'WhatsApp–Genesys bridge: tenant API',
    version,
    description:
      'The API a tenant\'s systems call (gateway, port 3000). Authenticate with `X-API-Key` or a bearer JWT from POST /auth/token; each route needs the scope in `x-required-scope` (null: any credentials). Errors: `{error: {code, message, requestId}}` (README "Error codes").',
  });
}
