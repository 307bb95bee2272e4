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
