/**
 * The shapes of identifiers that arrive from outside (URL paths, webhook payloads, query strings),
 * checked before anything is looked up, cached, logged or answered with them: whatever a stranger
 * sends, a lookup key, a cache key, a log line or an error message then holds at most a few dozen
 * characters of it.
 */

/** A tenant id, as CONTRACT.md fixes it for `POST /tenants`: 3-50 lowercase letters, digits and hyphens, not starting or ending with a hyphen. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$/;

/** Whether `value` has the shape of a tenant id (TENANT_ID_PATTERN). */
export function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

/**
 * Meta's object ids as webhooks carry them (`metadata.phone_number_id`; the WABA id in
 * `entry[].id`): decimal digits, in strings (Meta's webhook reference, shared/reference). Meta
 * documents no length; ids seen are 15-17 digits, and tenant credentials accept at most 30.
 */
export const META_ID_PATTERN = /^\d{1,30}$/;

/** Whether `value` has the shape of a Meta object id (META_ID_PATTERN). */
export function isMetaId(value: unknown): value is string {
  return typeof value === 'string' && META_ID_PATTERN.test(value);
}

/** Characters replaced in an excerpt: C0 and C1 controls, and the Unicode line and paragraph separators. */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * What of a stranger's input a message or a log line may carry: at most `max` characters of
 * `value` (default 32), control characters replaced by `?`, a cut marked with `…`. Not for secrets:
 * those are never shown, in part or whole.
 */
export function excerpt(value: unknown, max = 32): string {
  const text = typeof value === 'string' ? value : String(value);
  // Slicing before replacing keeps the work bounded by `max`, however long the input.
  const cut = text.length > max;
  return (cut ? text.slice(0, max) : text).replace(UNPRINTABLE, '?') + (cut ? '…' : '');
}

/**
 * A WhatsApp customer's phone number as Meta's ids carry it (`wa_id`, `from`, `recipient_id`, a
 * send's `to`): digits only, country code first, 7 to 15 of them (E.164's bounds).
 */
export const WHATSAPP_PHONE_PATTERN = /^\d{7,15}$/;

/**
 * A business-scoped user id (BSUID), Meta's id of a WhatsApp user within one business portfolio
 * (`contacts[].user_id`, `messages[].from_user_id`, `recipient_user_id`, a send's `recipient`):
 * a two-letter ISO country code, a period and up to 128 letters and digits
 * (`US.13491208655302741918`); a parent BSUID, shared by the portfolios of one enterprise, has
 * `ENT.` after the country code (`US.ENT.11815799212886844830`). Source:
 * shared/reference/whatsapp-cloud-api.md ("Usernames and business-scoped user ids").
 */
export const BSUID_PATTERN = /^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$/;

/**
 * The one rule for a customer id on every path — Meta's webhooks, Genesys's outbound webhook
 * (`channel.to.id`), the tenant API (`waId`, `to`) and the connector: a phone number
 * (WHATSAPP_PHONE_PATTERN) or a BSUID (BSUID_PATTERN). At most MAX_CUSTOMER_ID_LENGTH characters.
 */
export const CUSTOMER_ID_PATTERN = new RegExp(`^(?:${WHATSAPP_PHONE_PATTERN.source.slice(1, -1)}|${BSUID_PATTERN.source.slice(1, -1)})$`);

/** The longest customer id: a parent BSUID, `CC.ENT.` and 128 characters. */
export const MAX_CUSTOMER_ID_LENGTH = 135;

/** What a field holding a customer's phone number must be, for validation messages (the field's name goes before it). */
export const WHATSAPP_PHONE_RULE = 'must be a phone number: 7 to 15 digits, country code first';

/** What a field holding a BSUID must be, for validation messages. */
export const BSUID_RULE = 'must be a business-scoped user id: a country code, a period and up to 128 letters and digits (US.13491208655302741918; parent ids US.ENT.…)';

/** What a field holding a customer id must be, for validation messages. */
export const CUSTOMER_ID_RULE =
  'must be a WhatsApp customer id: a phone number (7 to 15 digits, country code first) or a business-scoped user id (a country code, a period and up to 128 letters and digits, e.g. US.13491208655302741918; parent ids US.ENT.…)';

/** Whether `value` is a customer's phone number (WHATSAPP_PHONE_PATTERN). */
export function isWhatsAppPhone(value: unknown): value is string {
  return typeof value === 'string' && WHATSAPP_PHONE_PATTERN.test(value);
}

/** Whether `value` is a business-scoped user id, parent ones included (BSUID_PATTERN). */
export function isBsuid(value: unknown): value is string {
  return typeof value === 'string' && BSUID_PATTERN.test(value);
}

/** Whether `value` is a customer id: a phone number or a BSUID (CUSTOMER_ID_PATTERN). */
export function isCustomerId(value: unknown): value is string {
  return typeof value === 'string' && CUSTOMER_ID_PATTERN.test(value);
}

/**
 * Where a WhatsApp send names its customer: a phone number goes in `to`, a BSUID in `recipient`
 * (Meta refuses a BSUID in `to`; with both, `to` wins). Source: shared/reference/whatsapp-cloud-api.md.
 * Throws RangeError for what is neither (callers check with isCustomerId first).
 */
export function whatsappAddress(id: string): { to: string } | { recipient: string } {
  if (isWhatsAppPhone(id)) return { to: id };
  if (isBsuid(id)) return { recipient: id };
  throw new RangeError(`Not a WhatsApp customer id: ${excerpt(id)}`);
}

/**
 * The `idType` Genesys Open Messaging is told for a customer id: `Phone` for a phone number,
 * `Opaque` for anything else (a BSUID). Source: shared/reference/genesys-open-messaging.md.
 */
export function genesysIdType(id: string): 'Phone' | 'Opaque' {
  return isWhatsAppPhone(id) ? 'Phone' : 'Opaque';
}
