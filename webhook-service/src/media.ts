/**
 * Signed, expiring links to WhatsApp media, and the route that serves them.
 *
 * Genesys fetches attachment URLs itself, but Meta's media needs the tenant's bearer token and
 * its download URLs live 5 minutes. So an inbound attachment goes to Genesys as a link of ours,
 * `/webhook/media/:tenantId/:mediaId?mime&name&exp&sig`, that names the tenant, the media, the
 * type and name it is served with, and an expiry, all under an HMAC. Serving it looks the media
 * up with the tenant's token and streams Meta's bytes through, never buffering a whole file.
 *
 * Choices where the references are silent:
 * - The signature is checked before the expiry, so a forged link is 403 whatever its `exp`; only
 *   a genuine link can learn that it expired (410).
 * - Signed fields may not contain control characters: the signed string joins them with `\n`, so
 *   a newline inside one could make two different links sign the same string.
 * - The MIME type comes from the WhatsApp user's phone and the link is on our public domain, so
 *   every answer (errors too) carries `Content-Security-Policy: sandbox; default-src 'none'` and
 *   `X-Content-Type-Options: nosniff`, and only passive types are shown `inline`: raster images
 *   (not SVG), audio and video (INLINE_TYPES). Everything else is `attachment`: HTML, SVG and every
 *   XML type (`text/xsl`, `application/*+xml` run scripts or stylesheets in a browser), text, and
 *   PDF — PDFs can carry scripts and forms run by the browser's viewer, and Chrome's viewer
 *   refuses to render under a `sandbox` CSP anyway (chromium issue 413851). A type that is not
 *   one well-formed media type (e.g. `image/png, text/html`, which a browser reads as HTML) is
 *   served as `application/octet-stream`.
 * - Inline audio and video add `media-src 'self'`: a browser's player loads the file again as
 *   media, which `default-src 'none'` alone refuses (e.g. bluesky-social/social-app#4735).
 * - The download URL comes from Meta's lookup and gets the tenant's token, so it (and every
 *   redirect from it) must be https to a host in MEDIA_DOWNLOAD_HOSTS (default Meta's
 *   lookaside.fbsbx.com); http only to a loopback host named there (the simulators). Anything
 *   else is 502, with the refused host in the log, not in the answer.
 * - A suspended tenant's links answer 423, a deleted one's 404, from the next request on: the
 *   status comes from the tenant directory, which tenant-service overwrites on every change.
 * - HEAD is answered from Meta's lookup alone (type, length), without downloading.
 * - Range requests are not supported (the whole file, 200).
 * - The media lookup is scoped with `phone_number_id` when the tenant's credentials name one, so
 *   a token shared between numbers cannot reach another number's media.
 */
import { Transform, type TransformCallback, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response, type Router } from 'express';
import { DEFAULT_MEDIA_DOWNLOAD_HOSTS, appError, checkMediaSigningSecret, createHttpClient, isUrlAllowed, parseHostAllowlist, tenantSuspended, verifyMediaRequest } from '@bridge/shared';

export { signMediaUrl, verifyMediaRequest, DEFAULT_MEDIA_LINK_TTL_SECONDS } from '@bridge/shared';

/** Default size cap: Meta's largest media (documents) is 100 MB. */
export const DEFAULT_MEDIA_MAX_BYTES = 100 * 1024 * 1024;
/** Default timeout of each Meta request (lookup; download idle time). */
export const DEFAULT_MEDIA_TIMEOUT_MS = 20_000;

export interface MediaRouterOptions {
  secret: string;
  /** Graph API base with version, e.g. `https://graph.facebook.com/v23.0` (META_GRAPH_URL). */
  graphUrl: string;
  getMetaCredentials: (tenantId: string) => Promise<{ accessToken: string; phoneNumberId?: string } | undefined>;
  /** The tenant's status (and, suspended, why), undefined when there is no such tenant; asked on every request. */
  tenantStatus: (tenantId: string) => Promise<{ status: 'active' | 'suspended' | 'pending'; suspendedReason: string | null } | undefined>;
  /** Where download URLs may point (MEDIA_DOWNLOAD_HOSTS, parsed; see isUrlAllowed). Default: Meta's media host. */
  downloadHosts?: readonly string[];
  /** Default DEFAULT_MEDIA_MAX_BYTES. */
  maxBytes?: number;
  /** Default DEFAULT_MEDIA_TIMEOUT_MS. */
  timeoutMs?: number;
  /** For tests: the clock verifyMediaRequest uses. */
  now?: () => number;
}

/** Passive types, shown inline: what WhatsApp carries as image, sticker, audio and video, and their common kin. */
const INLINE_TYPES = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
  'audio/aac',
  'audio/amr',
  'audio/mpeg',
  'audio/mp4',
  'audio/ogg',
  'audio/opus',
  'audio/wav',
  'audio/webm',
  'video/mp4',
  'video/3gpp',
  'video/webm',
  'video/quicktime',
]);

const MIME_TOKEN = '[a-z0-9!#$&^_.+-]+';
/** One media type with optional parameters, and no comma: a browser takes the last type of a list. */
const MEDIA_TYPE = new RegExp(`^(${MIME_TOKEN}/${MIME_TOKEN})(?:\\s*;\\s*${MIME_TOKEN}=(?:${MIME_TOKEN}|"[^",\\\\]*"))*\\s*$`, 'i');

const SANDBOX = "sandbox; default-src 'none'";

/** The Content-Type to send, whether a browser may show it inline, and the CSP that goes with it. */
function presentation(mimeType: string): { contentType: string; inline: boolean; csp: string } {
  const match = MEDIA_TYPE.exec(mimeType);
  if (!match) return { contentType: 'application/octet-stream', inline: false, csp: SANDBOX };
  const essence = match[1].toLowerCase();
  const inline = INLINE_TYPES.has(essence);
  const playable = inline && /^(audio|video)\//.test(essence);
  return { contentType: mimeType, inline, csp: playable ? `${SANDBOX}; media-src 'self'` : SANDBOX };
}

/** `inline; filename="..."`, with an RFC 5987 `filename*` when the name is not plain ASCII. */
export function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  if (fallback === filename) return `${type}; filename="${filename}"`;
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

const unavailable = (why: string) => appError('MEDIA_UNAVAILABLE', `WhatsApp media is unavailable: ${why}`);
const tooLarge = (max: number) => appError('MEDIA_TOO_LARGE', `Media is larger than ${max} bytes`);

/** Passes bytes through until more than `max` have gone by, then fails the stream. */
class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) done(tooLarge(this.max));
    else done(null, chunk);
  }
}

interface MediaInfo {
  url: string;
  fileSize?: number;
}

/**
 * `GET /webhook/media/:tenantId/:mediaId`: verifies the link, then streams the media from Meta
 * with the tenant's token. Errors are AppErrors for the error middleware: 403/410 bad link, 404
 * no credentials or unknown media, 413 too large, 502 Meta failing. The token is only ever put
 * in request headers to Meta; axios errors (whose config holds it) never leave this module.
 * `close()` releases the connections to Meta.
 */
export function createMediaRouter(opts: MediaRouterOptions): { router: Router; close(): void } {
  checkMediaSigningSecret(opts.secret);
  const downloadHosts = opts.downloadHosts ?? parseHostAllowlist(DEFAULT_MEDIA_DOWNLOAD_HOSTS);
  const maxBytes = opts.maxBytes ?? DEFAULT_MEDIA_MAX_BYTES;
  const graphUrl = opts.graphUrl.replace(/\/+$/, '');
  const client = createHttpClient({ timeoutMs: opts.timeoutMs ?? DEFAULT_MEDIA_TIMEOUT_MS, maxSockets: 64, maxRedirects: 3 });

  async function lookup(req: Request, mediaId: string, creds: { accessToken: string; phoneNumberId?: string }): Promise<MediaInfo> {
    const scope = creds.phoneNumberId ? `?phone_number_id=${encodeURIComponent(creds.phoneNumberId)}` : '';
    let res;
    try {
      res = await client.get(`${graphUrl}/${encodeURIComponent(mediaId)}${scope}`, {
        headers: { Authorization: `Bearer ${creds.accessToken}`, Accept: 'application/json' },
        responseType: 'json',
      });
    } catch (err) {
      throw unavailable(`lookup failed (${(err as { code?: string }).code ?? 'network error'})`);
    }
    const body = res.data as { url?: unknown; file_size?: unknown; error?: { code?: unknown } } | undefined;
    const code = typeof body?.error?.code === 'number' ? body.error.code : undefined;
    if (res.status === 404 || (res.status === 400 && code === 100)) {
      throw appError('MEDIA_NOT_FOUND');
    }
    if (res.status !== 200 || typeof body?.url !== 'string' || !/^https?:\/\//i.test(body.url)) {
      throw unavailable(`lookup answered HTTP ${res.status}${code !== undefined ? ` (code ${code})` : ''}`);
    }
    if (!isUrlAllowed(body.url, downloadHosts)) {
      refused(req, body.url);
      throw unavailable('the download URL is not an allowed host');
    }
    const size = Number(body.file_size);
    return { url: body.url, fileSize: Number.isFinite(size) && size >= 0 ? size : undefined };
  }

  /** Tells the operator which host was refused (the caller only learns that the media is unavailable). */
  function refused(req: Request, url: string): void {
    let where: string;
    try {
      const u = new URL(url);
      where = `${u.protocol}//${u.host}`.slice(0, 200);
    } catch {
      where = 'an unparsable URL';
    }
    const log = (req as { log?: { warn: (obj: object, msg: string) => void } }).log;
    log?.warn({ downloadUrl: where }, 'Meta media download URL refused: not https to a host in MEDIA_DOWNLOAD_HOSTS');
  }

  async function requireLiveTenant(tenantId: string): Promise<void> {
    const standing = await opts.tenantStatus(tenantId);
    if (standing === undefined) throw appError('TENANT_NOT_FOUND', 'No such tenant');
    if (standing.status === 'pending') throw appError('TENANT_PENDING');
    if (standing.status !== 'active') throw tenantSuspended(standing.suspendedReason);
  }

  async function serve(req: Request, res: Response): Promise<void> {
    // Before anything can fail, so that error answers are locked down too.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', SANDBOX);
    const tenantId = String(req.params.tenantId);
    const mediaId = String(req.params.mediaId);
    const link = verifyMediaRequest({ secret: opts.secret, tenantId, mediaId, query: req.query as Record<string, unknown>, now: opts.now });
    await requireLiveTenant(tenantId);

    const creds = await opts.getMetaCredentials(tenantId);
    if (!creds?.accessToken) throw appError('META_CREDENTIALS_NOT_FOUND');

    const info = await lookup(req, mediaId, creds);
    if (info.fileSize !== undefined && info.fileSize > maxBytes) throw tooLarge(maxBytes);

    const shown = presentation(link.mimeType);
    const headers: Record<string, string> = {
      'Content-Type': shown.contentType,
      'Cache-Control': 'private, max-age=300',
      'Content-Security-Policy': shown.csp,
    };
    if (link.filename) headers['Content-Disposition'] = contentDisposition(shown.inline ? 'inline' : 'attachment', link.filename);
    else if (!shown.inline) headers['Content-Disposition'] = 'attachment';

    if (req.method === 'HEAD') {
      if (info.fileSize !== undefined) headers['Content-Length'] = String(info.fileSize);
      res.status(200);
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.end();
      return;
    }

    let download;
    try {
      download = await client.get<Readable>(info.url, {
        // The bytes pass through untouched, so the upstream length holds for what we send.
        headers: { Authorization: `Bearer ${creds.accessToken}`, 'Accept-Encoding': 'identity' },
        decompress: false,
        responseType: 'stream',
        // A hop keeps the token within one origin (axios drops it beyond) and its answer is served
        // as the media: each hop must pass the same rule.
        beforeRedirect: (next: { href?: string }) => {
          if (!isUrlAllowed(String(next.href), downloadHosts)) {
            refused(req, String(next.href));
            throw new Error('redirect to a host that is not allowed');
          }
        },
      });
    } catch (err) {
      throw unavailable(`download failed (${(err as { code?: string }).code ?? 'network error'})`);
    }
    const upstream = download.data;
    if (download.status !== 200) {
      upstream.destroy();
      throw unavailable(`download answered HTTP ${download.status}`);
    }
    const length = Number(download.headers['content-length']);
    if (Number.isFinite(length) && length > maxBytes) {
      upstream.destroy();
      throw tooLarge(maxBytes);
    }
    if (Number.isFinite(length) && length >= 0) headers['Content-Length'] = String(length);

    res.status(200);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    try {
      await pipeline(upstream, new ByteLimit(maxBytes), res);
    } catch {
      // Upstream failure, size overrun or the client leaving: pipeline has destroyed the response,
      // so the client sees a cut transfer, never a complete-looking short file. Nothing to answer.
      if (!res.destroyed) res.destroy();
    }
  }

  const router = express.Router();
  router.get('/webhook/media/:tenantId/:mediaId', serve);
  return { router, close: () => client.close() };
}
