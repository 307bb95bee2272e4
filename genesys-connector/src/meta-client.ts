import { createHttpClient, type HttpClient, type MetaCredentials } from '@bridge/shared';
import { credentialRefused, fromNetworkError, paced, permanent, refused, retryAfterMs, transient, type DeliveryError } from './errors';
import { META_PAIR_INTERVAL_MS, addressedSend, classifyMetaError, describeMetaError, metaErrorText, type MetaSendBody } from './mapping';

/** Sends messages through the WhatsApp Cloud API with a tenant's token and number. */
export class MetaClient {
  private readonly http: HttpClient;

  /** `pairIntervalMs`: how long a customer's lane waits after Meta's pair rate limit (default META_PAIR_INTERVAL_MS). */
  constructor(private readonly options: { graphUrl: string; timeoutMs: number; pairIntervalMs?: number }) {
    this.http = createHttpClient({ timeoutMs: options.timeoutMs, maxSockets: 256 });
  }

  /**
   * Returns the wamid Meta assigned; throws a DeliveryError classified by Meta's error code. The
   * customer goes in `to` (a phone number) or `recipient` (a BSUID) (addressedSend); an id that is
   * neither is refused before any call (INVALID_RECIPIENT, the agent's reason InvalidDestination).
   */
  async send(credentials: MetaCredentials, body: MetaSendBody): Promise<string> {
    const url = `${this.options.graphUrl.replace(/\/+$/, '')}/${encodeURIComponent(credentials.phoneNumberId)}/messages`;
    let wire;
    try {
      wire = addressedSend(body);
    } catch (err) {
      throw refused('INVALID_RECIPIENT', (err as Error).message);
    }
    let res;
    try {
      res = await this.http.post(url, wire, { headers: { Authorization: `Bearer ${credentials.accessToken}`, 'Content-Type': 'application/json' } });
    } catch (err) {
      throw fromNetworkError(err, 'Meta');
    }
    const data = res.data as { messages?: Array<{ id?: string }>; error?: { code?: number; message?: string; error_data?: { details?: string } } };
    const wamid = data?.messages?.[0]?.id;
    if (res.status >= 200 && res.status < 300 && wamid) return wamid;
    throw metaSendError(res.status, data?.error, res.headers['retry-after'], this.options.pairIntervalMs);
  }

  /**
   * Marks the customer message `wamid` read (and every earlier one), and with `typing` also shows
   * the typing indicator (shared/src/whatsapp-signals.ts; Meta answers `{"success":true}`).
   * Throws a DeliveryError classified by Meta's code, as `send` does. No circuit breaker, here or
   * anywhere on Meta's side: a failing signal holds back nothing but itself.
   */
  async markRead(credentials: MetaCredentials, signal: { wamid: string; typing: boolean }): Promise<void> {
    const url = `${this.options.graphUrl.replace(/\/+$/, '')}/${encodeURIComponent(credentials.phoneNumberId)}/messages`;
    const body = {
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: signal.wamid,
      ...(signal.typing ? { typing_indicator: { type: 'text' } } : {}),
    };
    let res;
    try {
      res = await this.http.post(url, body, { headers: { Authorization: `Bearer ${credentials.accessToken}`, 'Content-Type': 'application/json' } });
    } catch (err) {
      throw fromNetworkError(err, 'Meta');
    }
    const data = res.data as { success?: boolean; error?: { code?: number; message?: string; error_data?: { details?: string } } };
    if (res.status >= 200 && res.status < 300 && data?.success === true) return;
    throw metaSendError(res.status, data?.error, res.headers['retry-after']);
  }

  /** Releases kept-alive connections. */
  close(): void {
    this.http.close();
  }
}

/**
 * A send Meta did not accept → a DeliveryError classified by Meta's code (classifyMetaError),
 * whose message is written once, in Meta's own words (describeMetaError): "Re-engagement message:
 * Message failed to send because more than 24 hours have passed since the customer last replied
 * to this number. (Meta #131047)". Without a Meta error object: "Meta answered HTTP <status>".
 * The pair rate limit (131056) is `paced`: the customer's lane waits `pairIntervalMs` (or a
 * longer Retry-After), not counted as a failure. A refused access token (190) is `credential`
 * (META_TOKEN_INVALID): the tenant's Meta credential is marked invalid and its sends are held.
 */
export function metaSendError(
  httpStatus: number,
  error: { code?: number; message?: string; error_data?: { details?: string } } | undefined,
  retryAfter?: unknown,
  pairIntervalMs = META_PAIR_INTERVAL_MS,
): DeliveryError {
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const meta = metaErrorText(error);
  const text =
    code !== undefined || meta.title || meta.details
      ? describeMetaError(code, meta)
      : httpStatus >= 200 && httpStatus < 300
        ? `Meta accepted the send (HTTP ${httpStatus}) but gave no message id`
        : `Meta answered HTTP ${httpStatus}`;
  const kind = classifyMetaError(code, httpStatus);
  const err =
    kind === 'credential'
      ? credentialRefused('meta', 'META_TOKEN_INVALID', text, code)
      : kind === 'paced'
      ? paced('META_PAIR_RATE_LIMITED', text, Math.max(pairIntervalMs, retryAfterMs(retryAfter) ?? 0), code)
      : kind === 'transient'
        ? transient('META_UNAVAILABLE', text, retryAfterMs(retryAfter), code)
        : permanent(code === 190 ? 'META_TOKEN_INVALID' : 'META_REJECTED', text, code);
  if (code !== undefined || meta.title || meta.details) err.meta = meta;
  return err;
}
