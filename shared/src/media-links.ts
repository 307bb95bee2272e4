import { createHmac } from 'node:crypto';
import { safeEqual } from './crypto';
import { appError } from './errors';

/**
 * Signed, expiring links to a tenant's WhatsApp media. genesys-connector signs them into the
 * attachments it sends Genesys; webhook-service verifies them when Genesys fetches the media.
 * See webhook-service/src/media.ts for the route and the choices behind the format.
 */

/** Default lifetime of a media link: Genesys fetches attachments soon, agents may reopen them later. */
export const DEFAULT_MEDIA_LINK_TTL_SECONDS = 24 * 60 * 60;

const MIN_SECRET_LENGTH = 16;
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface SignMediaUrlOptions {
  /** The gateway's public base URL, e.g. `https://bridge.example.com`. */
  publicBaseUrl: string;
  secret: string;
  tenantId: string;
  mediaId: string;
  /** Served as the Content-Type. */
  mimeType: string;
  /** Served in Content-Disposition; control characters are dropped. */
  filename?: string;
  /** Default DEFAULT_MEDIA_LINK_TTL_SECONDS. */
  ttlSeconds?: number;
  /** Milliseconds since the epoch, like Date.now (the default). */
  now?: () => number;
}

/** Refuses a key too short to sign links with. */
export function checkMediaSigningSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`The media signing secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
}

function signature(secret: string, tenantId: string, mediaId: string, mime: string, name: string, exp: string): string {
  return createHmac('sha256', secret).update(`${tenantId}\n${mediaId}\n${mime}\n${name}\n${exp}`, 'utf8').digest('base64url');
}

/** Our link to a tenant's Meta media: `${publicBaseUrl}/webhook/media/...?mime&name&exp&sig`. */
export function signMediaUrl(opts: SignMediaUrlOptions): string {
  checkMediaSigningSecret(opts.secret);
  for (const [field, value] of [
    ['tenantId', opts.tenantId],
    ['mediaId', opts.mediaId],
    ['mimeType', opts.mimeType],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0 || CONTROL.test(value)) {
      throw new TypeError(`signMediaUrl: ${field} must be a non-empty string without control characters`);
    }
  }
  const ttl = opts.ttlSeconds ?? DEFAULT_MEDIA_LINK_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError('signMediaUrl: ttlSeconds must be a positive integer');
  const name = (opts.filename ?? '').replace(new RegExp(CONTROL.source, 'g'), '');
  const exp = String(Math.floor((opts.now ?? Date.now)() / 1000) + ttl);
  const query = new URLSearchParams({ mime: opts.mimeType });
  if (name) query.set('name', name);
  query.set('exp', exp);
  query.set('sig', signature(opts.secret, opts.tenantId, opts.mediaId, opts.mimeType, name, exp));
  const base = opts.publicBaseUrl.replace(/\/+$/, '');
  return `${base}/webhook/media/${encodeURIComponent(opts.tenantId)}/${encodeURIComponent(opts.mediaId)}?${query.toString()}`;
}

const invalidLink = () => appError('MEDIA_LINK_INVALID');

/**
 * Checks a media link's signature (constant-time) and expiry. Returns what the link says to serve
 * the media as; throws AppError 403 MEDIA_LINK_INVALID or 410 MEDIA_LINK_EXPIRED.
 */
export function verifyMediaRequest(opts: {
  secret: string;
  tenantId: string;
  mediaId: string;
  query: Record<string, unknown>;
  /** Milliseconds since the epoch, like Date.now (the default). */
  now?: () => number;
}): { mimeType: string; filename?: string } {
  const { mime, name = '', exp, sig } = opts.query ?? {};
  if (typeof mime !== 'string' || mime.length === 0 || typeof name !== 'string' || typeof exp !== 'string' || typeof sig !== 'string') {
    throw invalidLink();
  }
  if (!/^\d{1,12}$/.test(exp)) throw invalidLink();
  if ([opts.tenantId, opts.mediaId, mime, name].some((v) => typeof v !== 'string' || CONTROL.test(v))) throw invalidLink();
  const expected = signature(opts.secret, opts.tenantId, opts.mediaId, mime, name, exp);
  if (!safeEqual(sig, expected)) throw invalidLink();
  if (Math.floor((opts.now ?? Date.now)() / 1000) >= Number(exp)) {
    throw appError('MEDIA_LINK_EXPIRED');
  }
  return name ? { mimeType: mime, filename: name } : { mimeType: mime };
}
