/**
 * How a delivery attempt failed. Transient failures are retried with backoff (honouring a
 * provider's Retry-After); permanent ones are final and recorded with their reason.
 */
export class DeliveryError extends Error {
  constructor(
    readonly kind: 'transient' | 'permanent',
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
    /** A Meta error code, when Meta gave one. */
    readonly metaCode?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export const transient = (code: string, message: string, retryAfterMs?: number, metaCode?: number) =>
  new DeliveryError('transient', code, message, retryAfterMs, metaCode);
export const permanent = (code: string, message: string, metaCode?: number) => new DeliveryError('permanent', code, message, undefined, metaCode);

/** Seconds or an HTTP date → milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(header: unknown): number | undefined {
  if (typeof header !== 'string' || !header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** Network-level failures (no answer): always transient. */
export function fromNetworkError(err: unknown, what: string): DeliveryError {
  const e = err as { code?: string; message?: string };
  return transient('NETWORK_ERROR', `${what}: ${e.code ?? e.message ?? 'network error'}`);
}
