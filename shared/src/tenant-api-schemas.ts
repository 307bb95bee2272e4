import { z } from 'zod';
import { CUSTOMER_ID_PATTERN, CUSTOMER_ID_RULE } from './ids';
import { TEMPLATE_LANGUAGE_PATTERN, TEMPLATE_NAME_PATTERN, templateParameterProblem } from './templates';

/**
 * The zod schemas the tenant API's handlers (state-manager) parse requests with, here so that the
 * gateway's OpenAPI document (gateway/src/openapi.ts) is generated from the same schemas.
 */

/**
 * A customer, by either of their ids: a phone number or a business-scoped user id (BSUID, such as
 * `US.13491208655302741918`), by the one rule every path applies (shared/src/ids.ts).
 */
export const customerIdSchema = z.string().regex(CUSTOMER_ID_PATTERN, CUSTOMER_ID_RULE);

export const mappingBody = z
  .object({
    waId: customerIdSchema,
    contactName: z.string().trim().min(1).max(200).optional(),
    conversationId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be a conversation id').optional(),
  })
  .strict();

const MAX_BIGINT = 2n ** 63n - 1n;
export const conversationsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(10),
    cursor: z.string().max(256).optional(),
  })
  .strict();

export const messagesQuery = z
  .object({
    status: z.enum(['pending', 'sent', 'delivered', 'read', 'failed', 'dead']).optional(),
    direction: z.enum(['inbound', 'outbound']).optional(),
    waId: customerIdSchema.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    // A message id: PostgreSQL's bigint, whose bound a 19-digit number can pass.
    cursor: z
      .string()
      .refine((v) => /^\d{1,19}$/.test(v) && BigInt(v) <= MAX_BIGINT, 'is not a cursor this API returned')
      .optional(),
  })
  .strict();

/** `GET /state/notifications`: limit (1-200, default 50), before (a notification id: the cursor), kind (e.g. quota.warning, or quota). */
export const notificationsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before: z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a notification id').optional(),
    kind: z.string().regex(/^[a-z][a-z0-9_.-]{0,99}$/, 'must be a notification kind like quota.warning, or its first part like quota').optional(),
  })
  .strict();

/** Meta's limit on a text message's body, in characters. */
const TEXT_MAX = 4096;

/** U+0000, or half a surrogate pair: JSON may carry them, but PostgreSQL stores neither and no customer can read them. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const storable = (s: z.ZodString) => s.refine((v) => !UNSTORABLE.test(v), 'must not hold U+0000 or half a surrogate pair');

/** A template's text parameter: storable, and as WhatsApp takes it (templateParameterProblem). */
const parameter = storable(z.string().max(1024, 'must be at most 1024 characters')).superRefine((v, ctx) => {
  const problem = templateParameterProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const sendBody = z
  .object({
    // The customer, by the one rule for customer ids (shared/src/ids.ts): their phone number
    // (a leading + is dropped) or their business-scoped user id.
    to: z
      .string()
      .transform((v) => v.replace(/^\+(?=\d)/, ''))
      .pipe(z.string().regex(CUSTOMER_ID_PATTERN, CUSTOMER_ID_RULE)),
    template: z
      .object({
        name: z.string().regex(TEMPLATE_NAME_PATTERN, 'must be a template name: lower-case letters, digits and _'),
        language: z.string().regex(TEMPLATE_LANGUAGE_PATTERN, 'must be a language code such as en or en_US'),
        parameters: z.array(parameter).max(100).default([]),
      })
      .strict()
      .optional(),
    text: storable(z.string().max(TEXT_MAX, `must be at most ${TEXT_MAX} characters`))
      .refine((t) => t.trim().length > 0, 'must not be empty')
      .optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.template && b.text !== undefined) ctx.addIssue({ code: 'custom', path: ['text'], message: 'give either text or template, not both' });
    if (!b.template && b.text === undefined) ctx.addIssue({ code: 'custom', path: ['template'], message: 'one of template or text is required' });
  });

