/**
 * Meta's error codes in one table: for each code, the Genesys failure reason the agent's Failed
 * receipt carries, the explanation written for the agent, and whether a failed send is retried.
 * Both the receipt (metaErrorToReason) and the retry decision (classifyMetaError) read it, so a
 * new code is added once, here.
 *
 * Facts: shared/reference/whatsapp-cloud-api.md (the codes and what the bridge should do with
 * them) and shared/reference/genesys-open-messaging.md (the reason codes a Failed receipt accepts).
 * Codes the reference does not list follow Meta's error-code documentation.
 */

import { nonEmpty, truncateText } from './common';
import type { GenesysReason, GenesysReasonCode } from './genesys-types';

/** One row of META_ERRORS. */
export interface MetaErrorEntry {
  /** The Genesys failure reason of the Failed receipt an agent sees. */
  reason: GenesysReasonCode;
  /** What the agent reads when Meta gives no details of its own (see describeMetaError). */
  agentText: string;
  /** true: the send is retried with backoff; false: it would fail the same way again, so it is final. */
  retry: boolean;
  /**
   * Meta's pair rate limit: the send is tried again after the pair interval, as pacing, not as a
   * failure (no backoff; see classifyMetaError and META_PAIR_INTERVAL_MS). Only with `retry`.
   */
  paced?: true;
  /**
   * The tenant's access token itself is refused (expired or revoked): not the message's failure.
   * The tenant's Meta credential is marked invalid and its sends to WhatsApp are held until it is
   * replaced (shared/src/credential-health.ts). Only without `retry`.
   */
  credential?: true;
}

/**
 * How often one business number may write to one WhatsApp user: 1 message every 6 s (about 10 a
 * minute, 600 an hour); bursts of up to 45 in 6 s are allowed but borrow from the future, so
 * after a burst each further message waits its 6 s. Over it, a send fails with 131056. Source:
 * Meta's "Throughput" page (developers.facebook.com/docs/whatsapp/throughput, "Pair rate
 * limits", as quoted in 2026 by dualhook.com/docs/capacity-quality-limits and
 * developers.whats91.com/rate-limits); shared/reference/whatsapp-cloud-api.md: "~1 per 6 s,
 * bursts borrow". So after a 131056 the next send to that user can pass one interval later.
 */
export const META_PAIR_INTERVAL_MS = 6_000;

const WINDOW_CLOSED = 'More than 24 hours since the customer last wrote; only an approved template can be sent';

/** Meta error code → what the bridge does with it. Codes not listed: see metaErrorToReason and classifyMetaError. */
export const META_ERRORS: Readonly<Record<number, MetaErrorEntry>> = {
  // The 24 h customer service window is closed: only a template can be sent.
  131047: { reason: 'MessageExpired', agentText: WINDOW_CLOSED, retry: false },
  470: { reason: 'MessageExpired', agentText: WINDOW_CLOSED, retry: false }, // legacy code for the same
  // Throughput limits: retried with backoff.
  130429: { reason: 'RateLimited', agentText: 'WhatsApp throughput limit of the business number reached', retry: true },
  // The pair rate limit: the customer's lane waits the pair interval (pacing, not a failure).
  131056: { reason: 'RateLimited', agentText: 'Too many messages to this customer in a short time', retry: true, paced: true },
  4: { reason: 'RateLimited', agentText: 'WhatsApp API rate limit of the app reached', retry: true },
  80007: { reason: 'RateLimited', agentText: 'WhatsApp API rate limit of the business account reached', retry: true },
  // The spam limit is a quality problem, not throughput: retrying does not help.
  131048: { reason: 'RateLimited', agentText: 'WhatsApp spam rate limit: too many messages from this number were blocked or flagged', retry: false },
  // "Undeliverable": not on WhatsApp, terms not accepted, outdated app — the destination is the problem.
  131026: { reason: 'InvalidDestination', agentText: 'The message could not be delivered to this WhatsApp user', retry: false },
  131021: { reason: 'InvalidDestination', agentText: 'The recipient cannot be the sender', retry: false },
  131051: { reason: 'UnsupportedMessage', agentText: 'WhatsApp does not support this message type', retry: false },
  // The customer is known only by their business-scoped user id (they hide their number behind a
  // username), and this message cannot be sent to one (e.g. some authentication templates).
  131062: {
    reason: 'UnsupportedMessage',
    agentText:
      'WhatsApp cannot send this message to a customer known only by their username (business-scoped user id): it needs their phone number. Send it another way (e.g. as text, or another template)',
    retry: false,
  },
  // 131052 is Meta failing to fetch a user's media (inbound); 131053 is Meta failing to take our
  // media, in practice an unsupported type or size.
  131052: { reason: 'GeneralError', agentText: 'WhatsApp could not download the media', retry: false },
  131053: { reason: 'MediaTypeNotAllowed', agentText: 'WhatsApp could not accept the media (type or size not allowed)', retry: false },
  100: { reason: 'InvalidMessageStructure', agentText: 'WhatsApp rejected the message as invalid', retry: false },
  131008: { reason: 'InvalidMessageStructure', agentText: 'A required parameter is missing', retry: false },
  131009: { reason: 'InvalidMessageStructure', agentText: 'A parameter value is invalid', retry: false },
  131050: { reason: 'RecipientOptedOut', agentText: 'The customer has stopped marketing messages from this business', retry: false },
  130472: { reason: 'MessageNotAllowed', agentText: "The customer's number is part of a WhatsApp experiment", retry: false },
  // Meta says not to retry immediately.
  131049: { reason: 'MessageNotAllowed', agentText: 'WhatsApp chose not to deliver this message to maintain healthy engagement', retry: false },
  // Blocked for hours to days: not a matter for backoff.
  368: { reason: 'MessageNotAllowed', agentText: 'The business account is temporarily blocked for policy violations', retry: false },
  131031: { reason: 'MessageNotAllowed', agentText: 'The business account has been locked', retry: false },
  // The tenant's credentials need fixing; retrying cannot, so the tenant's sends are held until
  // they are replaced. OAuthException 190: "access token has expired", "session has been
  // invalidated", "user has not authorized application" (developers.facebook.com/docs/graph-api/
  // guides/error-handling, "Access token errors"; shared/reference/whatsapp-cloud-api.md).
  190: { reason: 'GeneralError', agentText: "The tenant's WhatsApp access token is invalid or expired", retry: false, credential: true },
  // Meta's own trouble: retried with backoff.
  131000: { reason: 'ServerError', agentText: 'WhatsApp had an internal error', retry: true },
  131016: { reason: 'ServerError', agentText: 'WhatsApp is temporarily unavailable', retry: true },
  131057: { reason: 'ServerError', agentText: 'The business account is in maintenance mode', retry: true },
  133004: { reason: 'ServerError', agentText: 'WhatsApp is temporarily unavailable', retry: true },
  1: { reason: 'ServerError', agentText: 'WhatsApp API unknown error', retry: true }, // Meta: "possibly a temporary issue"
  2: { reason: 'ServerError', agentText: 'WhatsApp API temporarily unavailable', retry: true },
};

/** The row of META_ERRORS for a Meta error code; undefined for no code or a code not in the table. */
export function lookupMetaError(code: number | undefined): MetaErrorEntry | undefined {
  return code !== undefined ? META_ERRORS[code] : undefined;
}

/** Meta's template errors (bad name, language or parameters), not listed one by one. */
const isTemplateError = (code: number | undefined): boolean => code !== undefined && code >= 132000 && code < 133000;

/**
 * Meta's own words for an error: its title (a send's `error.message`, whose "(#131047) " prefix is
 * dropped, or a status error's `title`) and `error_data.details`.
 */
export interface MetaErrorText {
  title?: string;
  details?: string;
}

/** A Meta error object (a send's `error`, a status's `errors[]` item) → Meta's own words. */
export function metaErrorText(error: { title?: string; message?: string; error_data?: { details?: string } } | undefined): MetaErrorText {
  return { title: error?.title ?? error?.message, details: error?.error_data?.details };
}

const clean = (text: string | undefined): string | undefined => {
  const cleaned = nonEmpty(text) ? text.replace(/^\s*\(#\d+\)\s*/, '').trim() : '';
  return cleaned.length > 0 ? cleaned : undefined;
};
const sentence = (text: string): string => (/[.!?…]$/.test(text) ? text : `${text}.`);

/**
 * The one text an agent (and an operator) reads for a Meta error, written once:
 * "<Meta's title>: <Meta's details>. (Meta #<code>)", e.g. "Re-engagement message: Message failed
 * to send because more than 24 hours have passed since the customer last replied to this number.
 * (Meta #131047)". Where Meta gives no details (or repeats its title), the table's agent text
 * explains instead; without a title, the explanation alone. At most 1000 characters.
 */
export function describeMetaError(code: number | undefined, text: MetaErrorText = {}): string {
  const title = clean(text.title);
  const details = clean(text.details);
  const explanation = details && details !== title ? details : (lookupMetaError(code)?.agentText ?? (title ? undefined : 'WhatsApp could not deliver the message'));
  const said = sentence([title, explanation].filter(Boolean).join(': '));
  return truncateText(code === undefined ? said : `${said} (Meta #${code})`, 1000);
}

/**
 * A Meta error as a Genesys failure reason `{ code, message }`: the code from META_ERRORS (unknown
 * codes: template errors 132000-132999 are InvalidMessageStructure, others GeneralError), the
 * message from describeMetaError.
 */
export function metaErrorToReason(code: number | undefined, text?: MetaErrorText): GenesysReason {
  const reason: GenesysReasonCode = lookupMetaError(code)?.reason ?? (isTemplateError(code) ? 'InvalidMessageStructure' : 'GeneralError');
  return { code: reason, message: describeMetaError(code, text) };
}

export type MetaErrorClass = 'transient' | 'permanent' | 'paced' | 'credential';

/**
 * Whether a failed Meta call is worth retrying. Meta answers most errors with HTTP 400, so a code
 * in META_ERRORS decides first, by its `retry` (a permanent code stays permanent even on a 5xx),
 * and `paced` for the pair rate limit (tried again after the pair interval, not a failure), and
 * `credential` for a refused access token (190: the tenant's sends are held until it is replaced).
 * Otherwise by HTTP status: 5xx, 429, 408 and no answer at all (0, e.g. a network error or
 * timeout) → transient; other 4xx → permanent. Unknown codes on a 2xx/3xx (should not happen) →
 * permanent.
 */
export function classifyMetaError(code: number | undefined, httpStatus: number): MetaErrorClass {
  const known = lookupMetaError(code);
  if (known) return known.credential ? 'credential' : known.paced ? 'paced' : known.retry ? 'transient' : 'permanent';
  if (!(httpStatus > 0) || httpStatus >= 500 || httpStatus === 429 || httpStatus === 408) return 'transient';
  return 'permanent';
}
