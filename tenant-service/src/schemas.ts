import { z } from 'zod';
import { PLAN_NAME_PATTERN, quotaLimitsShape, quotaOverridesSchema, API_KEY_SCOPES, DEFAULT_API_KEY_SCOPES, MARK_READ_SETTINGS, isApiKeyScope, originProblem, META_ID_PATTERN, TEMPLATE_LANGUAGE_PATTERN, TEMPLATE_NAME_PATTERN, TENANT_ID_PATTERN, credentialsBodySchema, BULK_RETRY_MAX, RETRYABLE_STATUSES } from '@bridge/shared';

/** Subdomains that name the platform itself, never a tenant. */
const RESERVED_SUBDOMAINS = new Set(['www', 'api', 'admin', 'app', 'webhook', 'webhooks', 'auth', 'status', 'mail']);

export const tenantIdSchema = z.string().regex(TENANT_ID_PATTERN, 'must be 3-50 lowercase letters, digits or hyphens, not starting or ending with a hyphen');

const name = z.string().trim().min(1, 'must not be empty').max(200);
const subdomain = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits, hyphens')
  .refine((s) => !RESERVED_SUBDOMAINS.has(s), 'is reserved');
const plan = z.string().regex(PLAN_NAME_PATTERN, 'must be 1-32 lowercase letters, digits, _ or -');
const rateLimit = z.number().int().min(1).max(1_000_000).describe('requests per minute');
/** What an agent's free text after the customer's 24-hour window becomes: a Failed receipt, or the re-open template. */
const windowPolicy = z.enum(['reject', 'template'], { message: 'must be reject or template' });
/** The approved template, of exactly one parameter, the `template` policy sends the agent's text in. */
const reopenTemplate = z
  .object({
    name: z.string().regex(TEMPLATE_NAME_PATTERN, 'must be a template name (lower-case letters, digits and _)'),
    language: z.string().regex(TEMPLATE_LANGUAGE_PATTERN, 'must be a language code like en or en_US'),
  })
  .strict();
/** When the customer's messages get blue ticks (shared/src/whatsapp-signals.ts): on the agent's activity, on delivery to Genesys, or never. */
const markRead = z.enum(MARK_READ_SETTINGS, { message: `must be one of ${MARK_READ_SETTINGS.join(', ')}` });
/**
 * Where the tenant's notifications are POSTed (shared/src/notifications.ts) and the secret that
 * signs them (X-Bridge-Signature-256). The URL: https to a public address (or http to a loopback
 * host where NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK allows it, local tests); no credentials in it. The secret is never shown again; null removes the webhook.
 */
const notificationWebhook = z
  .object({
    url: z
      .string()
      .max(2000)
      .superRefine((u, ctx) => {
        let url: URL;
        try {
          url = new URL(u);
        } catch {
          return ctx.addIssue({ code: 'custom', message: 'must be a URL like https://example.com/hooks/bridge' });
        }
        if (url.protocol !== 'https:' && url.protocol !== 'http:') ctx.addIssue({ code: 'custom', message: 'must use https' });
        if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not carry a user or password' });
        // Where it may point (public addresses only; loopback when the deployment allows it) is
        // checked by tenants.ts with the deployment's setting (notificationUrlProblem).
      }),
    secret: z.string().min(16, 'must be at least 16 characters').max(256),
  })
  .strict();

const metadata = z
  .record(z.string().max(100), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 16_384, 'must serialise to at most 16 KB');

/** What a key may do (shared/src/api-key-scopes.ts); an unknown name is refused naming it. Duplicates are dropped. */
const apiKeyScopes = z
  .array(z.string().max(100))
  .min(1, 'must name at least one scope')
  .max(50)
  .superRefine((list, ctx) => {
    for (const [i, s] of list.entries()) {
      if (!isApiKeyScope(s)) ctx.addIssue({ code: 'custom', path: [i], message: `unknown scope ${s} (the scopes: ${API_KEY_SCOPES.join(', ')})` });
    }
  })
  .transform((list) => [...new Set(list)]);

/** When a key stops working: an ISO 8601 time with its offset (Z or ±hh:mm), in the future. */
const apiKeyExpiresAt = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 time with an offset, like 2030-01-31T00:00:00Z' })
  .refine((t) => Date.parse(t) > Date.now(), 'must be in the future')
  .transform((t) => new Date(t));

/** The browser origins a key may be used from: exact origins (scheme, host, port), at most 20. */
const apiKeyAllowedOrigins = z
  .array(
    z
      .string()
      .max(300)
      .superRefine((o, ctx) => {
        const problem = originProblem(o);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
  )
  .min(1, 'must list at least one origin (leave it out for a key no browser may use)')
  .max(20)
  .transform((list) => [...new Set(list)]);

export const createTenantSchema = z
  .object({
    tenantId: tenantIdSchema,
    name,
    subdomain: subdomain.optional(),
    plan: plan.optional(),
    rateLimit: rateLimit.optional(),
    metadata: metadata.optional(),
    windowPolicy: windowPolicy.optional(),
    reopenTemplate: reopenTemplate.nullable().optional(),
    markRead: markRead.optional(),
    notificationWebhook: notificationWebhook.nullable().optional(),
    /** Overrides of the plan's limits for this tenant (shared/src/quotas.ts). */
    quotaOverrides: quotaOverridesSchema.optional(),
    /** The scopes of the tenant's first key (default: the read scopes, DEFAULT_API_KEY_SCOPES). */
    apiKeyScopes: apiKeyScopes.optional(),
  })
  .strict();

export const updateTenantSchema = z
  .object({
    name: name.optional(),
    subdomain: subdomain.nullable().optional(),
    plan: plan.optional(),
    rateLimit: rateLimit.optional(),
    status: z.enum(['active', 'suspended']).optional(),
    /**
     * Why the tenant is suspended: required with `status: "suspended"`, allowed only with it. Shown
     * to the tenant's API clients in every 423 TENANT_SUSPENDED answer, so it must hold no secret.
     */
    reason: z.string().trim().min(1).max(500).optional(),
    metadata: metadata.optional(),
    windowPolicy: windowPolicy.optional(),
    reopenTemplate: reopenTemplate.nullable().optional(),
    markRead: markRead.optional(),
    notificationWebhook: notificationWebhook.nullable().optional(),
    /** Replaces the tenant's overrides of its plan's limits ({} removes them all). */
    quotaOverrides: quotaOverridesSchema.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'must name at least one field to change')
  .superRefine((b, ctx) => {
    if (b.status === 'suspended' && b.reason === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['reason'], message: 'is required when suspending (1-500 characters, shown to the tenant, no secrets)' });
    }
    if (b.reason !== undefined && b.status !== 'suspended') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['reason'], message: 'is given only with status "suspended"' });
    }
  });

/** `POST /tenants/:id/api-keys` (issue #13: scopes, expiry, browser origins). */
export const createApiKeySchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    rateLimit: rateLimit.optional(),
    scopes: apiKeyScopes.default([...DEFAULT_API_KEY_SCOPES]),
    expiresAt: apiKeyExpiresAt.optional(),
    allowedOrigins: apiKeyAllowedOrigins.optional(),
  })
  .strict();

export type CreateApiKeyInput = z.infer<typeof createApiKeySchema>;

/** `GET /unclaimed-changes`: a page of held Meta changes, oldest first, after the id `after`, optionally for one number. */
export const unclaimedQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    after: z.string().regex(/^\d{1,18}$/, 'must be a held change id').optional(),
    phoneNumberId: z.string().regex(META_ID_PATTERN, 'must be a Meta id (digits)').optional(),
  })
  .strict();

export const listQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    after: tenantIdSchema.optional(),
  })
  .strict();

/** `POST /plans`: a name, the API rate limit; limits left out are unlimited; hardLimit default block-api. */
export const createPlanSchema = z
  .object({
    name: plan,
    description: z.string().trim().min(1).max(500).optional(),
    messagesPerDay: quotaLimitsShape.messagesPerDay.optional(),
    messagesPerMonth: quotaLimitsShape.messagesPerMonth.optional(),
    conversationsPerMonth: quotaLimitsShape.conversationsPerMonth.optional(),
    apiRequestsPerMinute: quotaLimitsShape.apiRequestsPerMinute,
    hardLimit: quotaLimitsShape.hardLimit.default('block-api'),
  })
  .strict();

/** `PATCH /plans/:name`: the fields to change (a limit set to null: unlimited). */
export const updatePlanSchema = z
  .object({
    description: z.string().trim().min(1).max(500).nullable().optional(),
    messagesPerDay: quotaLimitsShape.messagesPerDay.optional(),
    messagesPerMonth: quotaLimitsShape.messagesPerMonth.optional(),
    conversationsPerMonth: quotaLimitsShape.conversationsPerMonth.optional(),
    apiRequestsPerMinute: quotaLimitsShape.apiRequestsPerMinute.optional(),
    hardLimit: quotaLimitsShape.hardLimit.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'must name at least one field to change');

export const planNameSchema = plan;
export type CreatePlanInput = z.infer<typeof createPlanSchema>;
export type UpdatePlanInput = z.infer<typeof updatePlanSchema>;
export type CreateTenantInput = z.infer<typeof createTenantSchema>;
export type UpdateTenantInput = z.infer<typeof updateTenantSchema>;
export type CredentialsInput = z.infer<typeof credentialsBodySchema>;

/**
 * The bulk retry of dead letters (issue #16, POST /tenants/:id/messages/retry): the tenant's
 * messages in `status` given up in [since, until) (ISO 8601 times with an offset), oldest
 * first, at most `limit` (1 to BULK_RETRY_MAX = 1000; default 100) per call.
 */
export const bulkRetrySchema = z
  .object({
    status: z.enum(RETRYABLE_STATUSES, { message: 'must be failed or dead' }),
    since: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time, e.g. 2026-11-30T08:00:00Z' }).transform((v) => new Date(v)),
    until: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time, e.g. 2026-11-30T18:00:00Z' }).transform((v) => new Date(v)),
    limit: z.number().int().min(1).max(BULK_RETRY_MAX).default(100),
  })
  .strict()
  // zod runs a refinement even when a field failed: only two valid times are compared.
  .refine((b) => !(b.since instanceof Date && b.until instanceof Date) || b.since.getTime() < b.until.getTime(), { path: ['until'], message: 'must be after since' });
