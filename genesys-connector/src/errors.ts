import type { MetaErrorText, PartRef } from './mapping';

/**
 * How a delivery attempt failed. Transient failures are retried with backoff (honouring a
 * provider's Retry-After); permanent ones are final and recorded with their reason; paced ones
 * are not failures: the provider refused only because the recipient is being written to too fast
 * (Meta's pair rate limit), and the job's lane waits `retryAfterMs` (the pair interval) before
 * trying again, without backoff (see `afterFailure`).
 */
export class DeliveryError extends Error {
  /** Meta's own words for the error (title, details), when Meta gave them (see describeMetaError). */
  meta?: MetaErrorText;
  /** The part of a multi-part send that failed. */
  part?: PartRef;

  constructor(
    readonly kind: 'transient' | 'permanent' | 'paced',
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
