import type { CredentialType } from '@bridge/shared';
import type { GenesysReasonCode, MetaErrorText, PartRef } from './mapping';

/**
 * How a delivery attempt failed. Transient failures are retried with backoff (honouring a
 * provider's Retry-After); permanent ones are final and recorded with their reason; paced ones
 * are not failures: the provider refused only because the recipient is being written to too fast
 * (Meta's pair rate limit), and the job's lane waits `retryAfterMs` (the pair interval) before
 * trying again, without backoff (see `afterFailure`); `credential` ones are not failures either:
 * the provider refused the tenant's credential itself (Meta's 190, Genesys refusing the OAuth
 * client), and the tenant's deliveries that need it are held until it is replaced
 * (shared/src/credential-health.ts).
 */
export class DeliveryError extends Error {
  /** Meta's own words for the error (title, details), when Meta gave them (see describeMetaError). */
  meta?: MetaErrorText;
  /** The part of a multi-part send that failed. */
  part?: PartRef;
  /** The Genesys failure reason of a refusal of the bridge's own (see `refused`); Meta's errors have theirs in META_ERRORS. */
  reason?: GenesysReasonCode;
  /** For a `credential` error: which of the tenant's credentials the provider refused. */
  credential?: CredentialType;

  constructor(
    readonly kind: 'transient' | 'permanent' | 'paced' | 'credential',
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
    /** A Meta error code, when Meta gave one. */
    readonly metaCode?: number,
    /** The request may have been processed although no answer came (timeout, reset mid-request). */
    readonly uncertain = false,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export const transient = (code: string, message: string, retryAfterMs?: number, metaCode?: number) =>
  new DeliveryError('transient', code, message, retryAfterMs, metaCode);
export const permanent = (code: string, message: string, metaCode?: number) => new DeliveryError('permanent', code, message, undefined, metaCode);
/** The recipient is being written to too fast: try again in `waitMs`, not counted as a failure. */
export const paced = (code: string, message: string, waitMs: number, metaCode?: number) => new DeliveryError('paced', code, message, waitMs, metaCode);

/**
 * The provider refused the tenant's `credential` itself (Meta's 190: the access token expired or
 * was revoked; Genesys refusing the OAuth client credentials): the worker marks it invalid and
 * holds the tenant's deliveries that need it, instead of failing or retrying them.
 */
export function credentialRefused(credential: CredentialType, code: string, message: string, metaCode?: number): DeliveryError {
  const err = new DeliveryError('credential', code, message, undefined, metaCode);
  err.credential = credential;
  return err;
}

/**
 * Agent replies the bridge refuses itself, before any call to Meta (the agent's template command,
 * the customer's 24-hour window, the tenant's policy after it), each with the Genesys failure
 * reason of the Failed receipt the agent sees (reason codes: shared/reference/genesys-open-messaging.md,
 * Receipts). The code is recorded on the message (`error_code`); the refusal's message, written
 * for the agent, is the receipt's reason text. The WINDOW_CLOSED and TEMPLATE_* codes are also
 * the tenant API's (shared/src/error-codes.ts), for the same problems.
 */
export const REFUSALS = {
  /** Free text or an attachment after the customer's window, under the `reject` policy (attachments: under either). */
  WINDOW_CLOSED: 'MessageExpired',
  /** A first line starting with `/template` that is not `/template <name> <language>`, or a template command with attachments. */
  TEMPLATE_COMMAND_INVALID: 'InvalidMessageStructure',
  TEMPLATE_NOT_FOUND: 'InvalidMessageStructure',
  TEMPLATE_LANGUAGE_NOT_FOUND: 'InvalidMessageStructure',
  TEMPLATE_NOT_APPROVED: 'MessageNotAllowed',
  TEMPLATE_PARAMETER_MISMATCH: 'InvalidMessageStructure',
  TEMPLATE_NOT_SENDABLE: 'UnsupportedMessage',
  TEMPLATE_TOO_LONG: 'InvalidMessageStructure',
  /** After the window under the `template` policy: the tenant's re-open template cannot be sent (not in the catalogue, not approved, not one parameter). */
  REOPEN_TEMPLATE_INVALID: 'MessageExpired',
  /** The customer's id is neither a phone number nor a business-scoped user id (the one rule, shared/src/ids.ts): nowhere to send. */
  INVALID_RECIPIENT: 'InvalidDestination',
  /** The tenant's plan says `hardLimit: block-all` and one of its limits is used up (shared/src/quotas.ts). */
  QUOTA_EXCEEDED: 'MessageNotAllowed',
} as const satisfies Record<string, GenesysReasonCode>;

export type RefusalCode = keyof typeof REFUSALS;

/** A permanent failure of the bridge's own (not retried: the same message would be refused again), with its Genesys reason. */
export function refused(code: RefusalCode, message: string): DeliveryError {
  const err = permanent(code, message);
  err.reason = REFUSALS[code];
  return err;
}

/** Seconds or an HTTP date → milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(header: unknown): number | undefined {
  if (typeof header !== 'string' || !header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** Errors that prove the request never reached the provider. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Network-level failures (no answer): always transient. A timeout or a connection cut after the
 * request went out leaves its outcome unknown: the provider may have accepted it.
 */
export function fromNetworkError(err: unknown, what: string): DeliveryError {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  return new DeliveryError('transient', 'NETWORK_ERROR', `${what}: ${code || e.message || 'network error'}`, undefined, undefined, !NOT_SENT.has(code));
}
