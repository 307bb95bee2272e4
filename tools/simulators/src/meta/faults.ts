/**
 * How the Meta simulator answers when something is wrong: Meta's error envelope, and the faults a
 * test injects with `failNext`.
 *
 * Default HTTP status of an error: 190 → 401, 131000 → 500, 131016 → 503, everything else → 400
 * (Meta's Graph API answers most errors with 400; the bridge must classify on `error.code`, not
 * on the status). Pass `httpStatus` to override.
 */
import { randomBytes } from 'node:crypto';
import { FaultQueue, type SimResponse } from '../common';

/** Which kind of Graph request a call was: `read` is a read mark or typing indicator (a POST to /messages with `status`). */
export type MetaEndpoint = 'messages' | 'read' | 'media' | 'download' | 'templates' | 'number' | 'other';

export interface MetaFaultOptions {
  /** Meta error code, e.g. 131047, 130429, 190, 131000. */
  code: number;
  /** Default: see the module comment (400 for most codes). */
  httpStatus?: number;
  /** Default: a message for well-known codes. */
  message?: string;
  errorSubcode?: number;
  details?: string;
  /** Only sends from this number. */
  phoneNumberId?: string;
  /** Which requests it applies to; default "messages" (sends; read marks and typing indicators are "read"; "number": a read of a number's node). */
  endpoint?: 'messages' | 'read' | 'media' | 'download' | 'templates' | 'number' | 'any';
}

const DEFAULT_MESSAGES: Record<number, string> = {
  4: 'Application request limit reached',
  100: 'Invalid parameter',
  190: 'Invalid OAuth access token - Cannot parse access token',
  80007: 'Rate limit issues',
  130429: 'Rate limit hit',
  131000: 'Something went wrong',
  131016: 'Service unavailable',
  131009: 'Parameter value is not valid',
  131026: 'Message undeliverable',
  131047: 'Re-engagement message',
  131056: '(Business Account, Consumer Account) pair rate limit hit',
  131057: 'Account in maintenance mode',
  // Template errors: what each code means, with sources, is in README's Reference notes.
  132000: 'Number of parameters does not match the expected number of params',
  132001: 'Template does not exist',
  132005: 'Translated text too long',
  132007: 'Template format character policy violated',
  132012: 'Parameter format does not match format in the created template',
  132015: 'Template is paused',
  132016: 'Template is disabled',
};

function defaultHttpStatus(code: number): number {
  if (code === 190) return 401;
  if (code === 131000) return 500;
  if (code === 131016) return 503;
  return 400;
}

/** Meta's error envelope. */
export function metaError(
  code: number,
  options: { message?: string; httpStatus?: number; subcode?: number; details?: string } = {},
): SimResponse {
  const text = options.message ?? DEFAULT_MESSAGES[code] ?? `Error ${code}`;
  const error: Record<string, unknown> = {
    message: `(#${code}) ${text}`,
    type: 'OAuthException',
    code,
  };
  if (options.subcode !== undefined) error.error_subcode = options.subcode;
  if (options.details !== undefined || code >= 130000) {
    error.error_data = { messaging_product: 'whatsapp', details: options.details ?? text };
  }
  error.fbtrace_id = randomBytes(9).toString('base64url');
  const headers: Record<string, string> = {};
  if (code === 190) headers['WWW-Authenticate'] = `OAuth "Facebook Platform" "invalid_token" "${text}"`;
  return { status: options.httpStatus ?? defaultHttpStatus(code), body: { error }, headers };
}

/** The pending `failNext` rules of one simulator, and which answers they produced. */
export class MetaFaults {
  private readonly queue = new FaultQueue<{ endpoint: MetaEndpoint; phoneNumberId?: string }, MetaFaultOptions>();
  /** Answers produced by failNext, so that `calls` can flag them. */
  private readonly injected = new WeakSet<SimResponse>();

  /** The next `n` requests matching `fault` (its endpoint, default sends; its number, if any) get its error. */
  add(n: number, fault: MetaFaultOptions): void {
    const endpoint = fault.endpoint ?? 'messages';
    this.queue.add(
      n,
      (ctx) =>
        (endpoint === 'any' || endpoint === ctx.endpoint) &&
        (fault.phoneNumberId === undefined || fault.phoneNumberId === ctx.phoneNumberId),
      fault,
    );
  }

  /** The injected answer for this request, if a rule matches (using one of its answers). */
  take(ctx: { endpoint: MetaEndpoint; phoneNumberId?: string }): SimResponse | undefined {
    const fault = this.queue.take(ctx);
    if (!fault) return undefined;
    const res = metaError(fault.code, {
      message: fault.message,
      httpStatus: fault.httpStatus,
      subcode: fault.errorSubcode,
      details: fault.details,
    });
    this.injected.add(res);
    return res;
  }

  isInjected(res: SimResponse): boolean {
    return this.injected.has(res);
  }

  clear(): void {
    this.queue.clear();
  }
}
