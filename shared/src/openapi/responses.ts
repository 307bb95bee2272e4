import { z } from 'zod';
import { API_KEY_SCOPES } from '../api-key-scopes';

/**
 * The success shapes the tenant API and the admin API answer, for their OpenAPI documents
 * (gateway/src/openapi.ts, tenant-service/src/openapi.ts). Objects are open (a field added later
 * breaks no client); the fields named are always present. test/openapi.test.ts checks real
 * answers against them.
 */
const time = z.string().describe('ISO 8601 time');
const nullableTime = time.nullable();
const scope = z.enum(API_KEY_SCOPES);

/** POST /auth/token. */
export const tokenResponse = z.looseObject({ token: z.string().describe('A JWT (HS256), sent as `Authorization: Bearer`'), expiresIn: z.number().int().describe('seconds'), tokenType: z.literal('Bearer') }).openapi('Token');

/** GET /state/stats. */
export const statsResponse = z
  .looseObject({ tenantId: z.string(), totalMappings: z.number().int(), totalMessages: z.number().int(), activeConversations: z.number().int(), todayMessages: z.number().int() })
  .openapi('Stats');

/** A customer's conversation mapping (POST /state/mapping, GET /state/mapping/:waId, GET /state/conversations). */
export const mappingResponse = z
  .looseObject({
    waId: z.string().describe('The customer: a phone number or a BSUID'),
    phone: z.string().nullable(),
    userId: z.string().nullable().describe('The BSUID'),
    username: z.string().nullable(),
    contactName: z.string().nullable(),
    conversationId: z.string().nullable().describe('The Genesys conversation'),
    lastMessageAt: nullableTime,
    createdAt: time,
    updatedAt: time,
    windowOpen: z.boolean().describe("Whether the customer's 24-hour window is open"),
    windowExpiresAt: nullableTime,
  })
  .openapi('Mapping');

export const conversationPageResponse = z.looseObject({ conversations: z.array(mappingResponse), nextCursor: z.string().nullable().describe('`cursor` of the next page; null on the last') }).openapi('ConversationPage');

/** A message in either direction, as GET /state/messages lists it. */
export const messageResponse = z
  .looseObject({
    id: z.string(),
    direction: z.enum(['inbound', 'outbound']),
    waId: z.string(),
    wamid: z.string().nullable(),
    genesysMessageId: z.string().nullable(),
    type: z.string(),
    status: z.enum(['pending', 'sent', 'delivered', 'read', 'failed', 'dead']),
    errorCode: z.string().nullable().describe('Why it failed or was given up (failed, dead)'),
    errorMessage: z.string().nullable(),
    createdAt: time,
    updatedAt: time,
  })
  .openapi('Message');

export const messagePageResponse = z.looseObject({ messages: z.array(messageResponse), nextCursor: z.string().nullable() }).openapi('MessagePage');

const job = z.looseObject({ id: z.string(), kind: z.string(), lane: z.string() }).describe('The outbox job that sends it again');

/** A retry of one message (tenant and admin): 202 queued again (`previous`: what it was), 200 already queued. */
export const retryResponse = z
  .looseObject({
    messageId: z.string(),
    status: z.literal('pending'),
    requeued: z.boolean().describe('false: it was already queued again; nothing was queued'),
    job,
    previous: z.looseObject({ status: z.string(), errorCode: z.string().nullable(), errorMessage: z.string().nullable() }).optional(),
  })
  .openapi('RetryAnswer');

/** The admin bulk retry. */
export const bulkRetryResponse = z
  .looseObject({
    requeued: z.number().int(),
    messages: z.array(z.looseObject({ id: z.string(), job })),
    skipped: z.array(z.looseObject({ id: z.string(), reason: z.enum(['already_queued', 'not_retryable']), status: z.string().optional(), jobId: z.string().optional() })),
    more: z.boolean().describe('true: more matched than `limit`; call again'),
  })
  .openapi('BulkRetryAnswer');

/** A proactive message (POST /messages, GET /messages/:id). */
export const proactiveMessageResponse = z
  .looseObject({
    id: z.string(),
    to: z.string(),
    type: z.enum(['template', 'text']),
    status: z.string().describe('queued, then sent, delivered, read, or failed'),
    createdAt: time,
    updatedAt: time,
  })
  .openapi('ProactiveMessage');

/** A template of the catalogue (GET /templates, GET /tenants/:id/templates). */
export const templateResponse = z
  .looseObject({ name: z.string(), language: z.string(), category: z.string().nullable(), status: z.string(), body: z.string().nullable(), updatedAt: time })
  .openapi('Template');

export const templateListResponse = z.looseObject({ templates: z.array(templateResponse) }).openapi('TemplateList');

const counts = z.looseObject({ inbound: z.number().int(), outbound: z.number().int(), proactive: z.number().int(), messages: z.number().int(), conversations: z.number().int() });

/** This period's usage against each plan limit (GET /state/usage, GET /tenants/:id/usage). */
export const usageResponse = z
  .looseObject({
    tenantId: z.string(),
    plan: z.looseObject({ name: z.string(), hardLimit: z.string() }),
    period: z.looseObject({ month: z.string(), start: time, end: time, today: z.string() }),
    month: counts,
    today: counts,
    quotas: z.array(
      z.looseObject({
        quota: z.string(),
        period: z.enum(['day', 'month']),
        used: z.number(),
        limit: z.number().nullable().describe('null: unlimited'),
        percent: z.number().nullable(),
        remaining: z.number().nullable(),
        exceeded: z.boolean(),
        resetsAt: time,
      }),
    ),
    daily: z.array(counts.extend({ date: z.string() })),
  })
  .openapi('Usage');

const auditEventFields = {
  id: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
  clientIp: z.string().nullable(),
  at: time,
};

/** GET /state/audit: the tenant's own trail, without the platform's internals. */
export const tenantAuditPageResponse = z
  .looseObject({ events: z.array(z.looseObject(auditEventFields)), nextBefore: z.string().nullable().describe('`before` of the next page; null on the last') })
  .openapi('TenantAuditPage');

/** GET /audit (admin): every trail. */
export const adminAuditPageResponse = z
  .looseObject({ events: z.array(z.looseObject({ ...auditEventFields, tenantId: z.string() })), nextBefore: z.string().nullable() })
  .openapi('AdminAuditPage');

export const auditVerificationResponse = z
  .looseObject({ ok: z.boolean(), events: z.number().int(), brokenAt: z.string().optional(), reason: z.string().optional() })
  .openapi('AuditVerification');

export const notificationPageResponse = z
  .looseObject({
    notifications: z.array(z.looseObject({ id: z.string(), kind: z.string(), key: z.string(), severity: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()), raisedAt: time })),
    nextBefore: z.string().nullable(),
  })
  .openapi('NotificationPage');

/** A tenant as the admin API shows it. */
export const tenantResponse = z
  .looseObject({
    tenantId: z.string(),
    name: z.string(),
    subdomain: z.string().nullable(),
    status: z.enum(['active', 'suspended', 'pending']),
    plan: z.string(),
    rateLimit: z.number().int(),
    metadata: z.record(z.string(), z.unknown()),
    windowPolicy: z.enum(['reject', 'template']),
    reopenTemplate: z.looseObject({ name: z.string(), language: z.string() }).nullable(),
    markRead: z.string(),
    suspendedReason: z.string().nullable(),
    suspendedAt: nullableTime,
    createdAt: time,
    updatedAt: time,
  })
  .openapi('Tenant');

export const tenantListResponse = z.array(tenantResponse).openapi('TenantList');

export const createdTenantResponse = z
  .looseObject({ tenant: tenantResponse, apiKey: z.string().describe('sk_...: shown once'), apiKeyId: z.string(), apiKeyScopes: z.array(scope), message: z.string() })
  .openapi('CreatedTenant');

export const deletionResponse = z
  .looseObject({ tenantId: z.string(), state: z.string(), requestedAt: time, finishedAt: nullableTime, deleted: z.record(z.string(), z.number()), batches: z.number().int(), lastError: z.string().nullable() })
  .openapi('Deletion');

const limit = z.number().int().nullable().describe('null: unlimited');
export const planResponse = z
  .looseObject({
    name: z.string(),
    description: z.string().nullable(),
    messagesPerDay: limit,
    messagesPerMonth: limit,
    conversationsPerMonth: limit,
    apiRequestsPerMinute: z.number().int(),
    hardLimit: z.enum(['none', 'block-api', 'block-all']),
    createdAt: time,
    updatedAt: time,
  })
  .openapi('Plan');

export const planListResponse = z.array(planResponse).openapi('PlanList');

export const unclaimedChangesResponse = z
  .looseObject({
    changes: z.array(z.looseObject({ id: z.string(), phoneNumberId: z.string(), wabaId: z.string().nullable(), field: z.string(), signedBy: z.enum(['platform', 'tenant-app']), receivedAt: time, change: z.unknown() })),
    nextAfter: z.string().nullable(),
  })
  .openapi('UnclaimedChanges');

const health = z
  .looseObject({ status: z.string().describe('valid, or invalid (the provider refused them)'), invalidReason: z.string().nullable(), invalidAt: nullableTime, verifiedAt: nullableTime })
  .describe("The credentials' health");

/** Stored credentials: non-secret fields, secrets masked (`****abcd`). */
export const credentialsResponse = z
  .looseObject({ type: z.enum(['meta', 'genesys']), credentials: z.record(z.string(), z.string().nullable()), createdAt: time, updatedAt: time, health })
  .openapi('Credentials');

export const credentialListResponse = z.array(credentialsResponse).openapi('CredentialList');

export const verificationResponse = z
  .looseObject({
    type: z.enum(['meta', 'genesys']),
    checkedAt: time,
    ok: z.boolean(),
    problem: z.string().optional().describe('When not ok: e.g. META_TOKEN_INVALID, GENESYS_CREDENTIALS_REFUSED, PROVIDER_UNAVAILABLE'),
    message: z.string().optional(),
    health,
  })
  .openapi('Verification');

export const templateSyncResponse = z.looseObject({ templates: z.number().int().describe('How many were stored'), syncedAt: time }).openapi('TemplateSync');

export const createdApiKeyResponse = z
  .looseObject({ id: z.string(), apiKey: z.string().describe('sk_...: shown once'), prefix: z.string(), name: z.string(), scopes: z.array(scope), expiresAt: nullableTime, allowedOrigins: z.array(z.string()).nullable(), rateLimit: z.number().int().nullable() })
  .openapi('CreatedApiKey');

export const apiKeyListResponse = z
  .array(
    z.looseObject({
      id: z.string(),
      prefix: z.string(),
      name: z.string(),
      isActive: z.boolean(),
      rateLimit: z.number().int().nullable(),
      scopes: z.array(scope),
      expiresAt: nullableTime,
      allowedOrigins: z.array(z.string()).nullable(),
      createdAt: time,
      lastUsedAt: nullableTime,
      lastUsedIp: z.string().nullable(),
    }),
  )
  .openapi('ApiKeyList');
