/**
 * Meta's webhooks to us: deliveries serialised as Meta does, signed (hex HMAC of the app secret),
 * retried with doubling backoff on anything but 200; and the GET verification handshake.
 */
import { randomBytes } from 'node:crypto';
import { postWithRetries, type DeliveryAttempt } from '../common';
import { metaSerialize, signMeta } from '../signatures';

export interface DeliverWebhookOptions {
  url: string;
  /** An object (serialised with metaSerialize) or the exact bytes to send. */
  payload: unknown;
  appSecret: string;
  /** Deliver the identical bytes a second time after the first delivery. */
  duplicate?: boolean;
  /** Default: the simulator's. */
  retryDelayMs?: number;
  /** Default: the simulator's. */
  maxAttempts?: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Sent verbatim as `X-Hub-Signature-256`; null sends no header. */
  signatureOverride?: string | null;
}

export interface DeliverWebhookResult {
  attempts: DeliveryAttempt[];
  /** Status codes in order (null = no answer). */
  statuses: Array<number | null>;
  /** The exact bytes sent. */
  body: Buffer;
  bodyText: string;
  /** The `X-Hub-Signature-256` value sent (null if none). */
  signature: string | null;
  /** True when the first delivery got a 200. */
  delivered: boolean;
}

/** Meta's webhook delivery on its own: serialise, sign (hex), POST, retry with backoff. */
export async function deliverMetaWebhook(
  options: DeliverWebhookOptions & { retryDelayMs: number; maxAttempts: number; timeoutMs: number },
): Promise<DeliverWebhookResult> {
  const payload = options.payload;
  const body =
    Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : metaSerialize(payload), 'utf8');
  const signature = options.signatureOverride !== undefined ? options.signatureOverride : signMeta(options.appSecret, body);
  const headers: Record<string, string> = {
    ...options.headers,
    'Content-Type': 'application/json',
    'User-Agent': 'facebookexternalua',
  };
  if (signature !== null) headers['X-Hub-Signature-256'] = signature;
  const attempts: DeliveryAttempt[] = [];
  let delivered = false;
  for (let delivery = 1; delivery <= (options.duplicate ? 2 : 1); delivery++) {
    const result = await postWithRetries({
      url: options.url,
      body,
      headers,
      timeoutMs: options.timeoutMs,
      maxAttempts: options.maxAttempts,
      delivery,
      // Meta treats anything but 200 as a failed delivery.
      succeeded: (s) => s === 200,
      retryable: () => true,
      delayFor: (n) => options.retryDelayMs * 2 ** (n - 1),
    });
    attempts.push(...result.attempts);
    if (delivery === 1) delivered = result.delivered;
  }
  return { attempts, statuses: attempts.map((a) => a.status), body, bodyText: body.toString('utf8'), signature, delivered };
}

/** Meta's GET verification handshake against a callback URL. */
export async function verifyWebhook({ url, verifyToken, challenge }: { url: string; verifyToken: string; challenge?: string }): Promise<{ status: number; body: string; challenge: string }> {
  const value = challenge ?? String(randomBytes(4).readUInt32BE(0));
  const target = new URL(url);
  target.searchParams.set('hub.mode', 'subscribe');
  target.searchParams.set('hub.verify_token', verifyToken);
  target.searchParams.set('hub.challenge', value);
  const res = await fetch(target, { headers: { 'User-Agent': 'facebookplatform/1.0' } });
  return { status: res.status, body: await res.text(), challenge: value };
}
