/**
 * A strict local stand-in for Meta's Graph API (WhatsApp Cloud API): sending messages, media
 * lookup and download — and the other direction, webhook deliveries signed and serialised the
 * way Meta does.
 *
 * Choices where the reference is silent:
 * - Any token problem on a send (missing, unknown, or valid for another number) is 401 with code
 *   190. (Real Graph answers 400/100 subcode 33 when a valid token lacks access to the number.)
 * - Default HTTP status of injected errors: 190 → 401, 131000 → 500, 131016 → 503, everything
 *   else (131047, 130429, 131056, 4, 80007, 100, 131026, 131057 ...) → 400. Meta's Graph API
 *   answers most errors with 400; the bridge must classify on `error.code`, not on the status.
 *   Pass `httpStatus` to override.
 * - An outage is 503 with code 131016 ("Service unavailable").
 * - Only `Authorization: Bearer` authenticates (no `access_token` query parameter), and only
 *   `application/json` bodies are accepted.
 * - `type` may be omitted (Meta defaults it to text). `to` must be digits only (7-15).
 * - `caption` is refused on audio and stickers; `link` and `id` are mutually exclusive.
 * - Media download URLs require exactly the token that looked the media up; an expired URL is 404.
 */
import { randomBytes, createHash } from 'node:crypto';
import {
  Conditions,
  FaultQueue,
  Recorder,
  bearerToken,
  isHttpUrl,
  isNonEmptyString,
  isObject,
  mediaType,
  parseJson,
  postWithRetries,
  redactHeaders,
  sleep,
  type DeliveryAttempt,
  type SimRequest,
  type SimResponse,
  startServer,
} from './common';
import { metaSerialize, signMeta } from './signatures';
import {
  buildAudioMessage,
  buildButtonMessage,
  buildButtonReplyMessage,
  buildContactsMessage,
  buildDocumentMessage,
  buildFailedStatus,
  buildImageMessage,
  buildListReplyMessage,
  buildLocationMessage,
  buildReactionMessage,
  buildStatus,
  buildStickerMessage,
  buildTextMessage,
  buildUnsupportedMessage,
  buildVideoMessage,
  type MetaWebhookPayload,
} from './meta-payloads';

export const META_MESSAGE_TYPES = [
  'text',
  'image',
  'video',
  'audio',
  'document',
  'sticker',
  'location',
  'contacts',
  'interactive',
  'template',
  'reaction',
] as const;
export type MetaMessageType = (typeof META_MESSAGE_TYPES)[number];

const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
const INTERACTIVE_TYPES = [
  'button',
  'list',
  'cta_url',
  'flow',
  'product',
  'product_list',
  'catalog_message',
  'location_request_message',
  'address_message',
];

export interface MetaMedia {
  link?: string;
  id?: string;
  caption?: string;
  filename?: string;
}

/** A send request body, as recorded. */
export interface MetaSendBody {
  messaging_product: 'whatsapp';
  recipient_type?: 'individual';
  to: string;
  type?: MetaMessageType;
  context?: { message_id: string };
  text?: { body: string; preview_url?: boolean };
  image?: MetaMedia;
  video?: MetaMedia;
  audio?: MetaMedia;
  document?: MetaMedia;
  sticker?: MetaMedia;
  location?: { latitude: number | string; longitude: number | string; name?: string; address?: string };
  contacts?: unknown[];
  interactive?: Record<string, unknown>;
  template?: { name: string; language: { code: string; policy?: string }; components?: unknown[] };
  reaction?: { message_id: string; emoji: string };
  biz_opaque_callback_data?: string;
  [more: string]: unknown;
}

export interface MetaSendRecord {
  phoneNumberId: string;
  version: string;
  body: MetaSendBody;
  /** The bearer token that authorised the send. */
  token: string;
  headers: Record<string, string>;
  /** The wamid returned. */
  wamid: string;
  time: Date;
}

export interface MetaCall {
  endpoint: 'messages' | 'media' | 'download' | 'other';
  method: string;
  path: string;
  phoneNumberId?: string;
  mediaId?: string;
  status: number;
  /** Meta error code when the answer was an error. */
  errorCode?: number;
  injected: boolean;
  time: Date;
}

export interface MetaNumberOptions {
  phoneNumberId: string;
  accessToken: string;
  displayPhoneNumber?: string;
  wabaId?: string;
}

export interface MetaMediaOptions {
  mediaId: string;
  bytes: Buffer;
  mimeType: string;
  /** When set, only that number's token may look the media up. */
  phoneNumberId?: string;
}

export interface MetaMediaInfo {
  mediaId: string;
  mimeType: string;
  fileSize: number;
  /** Hex SHA-256 (as the media lookup returns it). */
  sha256Hex: string;
  /** Base64 SHA-256 (as webhooks carry it). */
  sha256Base64: string;
}

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
  /** Which requests it applies to; default "messages" (sends). */
  endpoint?: 'messages' | 'media' | 'download' | 'any';
}

export interface MetaSimulatorOptions {
  port?: number;
  host?: string;
  /** Graph version in `graphUrl`; any `vN.N` is served. Default "v23.0". */
  version?: string;
  /** Lifetime of media download URLs; default 5 minutes. */
  mediaUrlTtlMs?: number;
  /** First webhook retry delay (doubles each retry); default 1000. */
  retryDelayMs?: number;
  /** Webhook attempts per delivery; default 5. */
  maxAttempts?: number;
  /** Webhook request timeout; default 10000. */
  webhookTimeoutMs?: number;
  /** Serve the `/_sim/*` control API (used by the CLI for demos); default false. */
  controlApi?: boolean;
}

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

export interface MetaSimulator {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/v23.0` — what META_GRAPH_URL should be. */
  readonly graphUrl: string;
  readonly port: number;
  addNumber(number: MetaNumberOptions): void;
  addMedia(media: MetaMediaOptions): MetaMediaInfo;
  failNext(n: number, fault: MetaFaultOptions): void;
  setOutage(on: boolean, scope?: { phoneNumberId?: string }): void;
  setLatency(ms: number, scope?: { phoneNumberId?: string }): void;
  clearFaults(): void;
  /** clearFaults() and forgets what was recorded (numbers and media stay). */
  reset(): void;
  /** Accepted sends, in order. */
  readonly sent: MetaSendRecord[];
  readonly calls: MetaCall[];
  /** Webhook deliveries made through deliverWebhook. */
  readonly deliveries: DeliverWebhookResult[];
  sends(phoneNumberId?: string): MetaSendRecord[];
  waitFor(predicate: (send: MetaSendRecord) => boolean, timeoutMs?: number): Promise<MetaSendRecord>;
  deliverWebhook(options: DeliverWebhookOptions): Promise<DeliverWebhookResult>;
  /** Meta's GET verification handshake against a callback URL. */
  verifyWebhook(options: { url: string; verifyToken: string; challenge?: string }): Promise<{ status: number; body: string; challenge: string }>;
  close(): Promise<void>;
}

const DEFAULT_MESSAGES: Record<number, string> = {
  4: 'Application request limit reached',
  100: 'Invalid parameter',
  190: 'Invalid OAuth access token - Cannot parse access token',
  80007: 'Rate limit issues',
  130429: 'Rate limit hit',
  131000: 'Something went wrong',
  131016: 'Service unavailable',
  131026: 'Message undeliverable',
  131047: 'Re-engagement message',
  131056: '(Business Account, Consumer Account) pair rate limit hit',
  131057: 'Account in maintenance mode',
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

// ---------------------------------------------------------------------------------------------
// Send-body validation: returns the problems found (empty = valid).

function checkMedia(kind: (typeof MEDIA_TYPES)[number], media: unknown, errors: string[]): void {
  if (!isObject(media)) {
    errors.push(`Param ${kind} is required for type ${kind}`);
    return;
  }
  const hasLink = media.link !== undefined;
  const hasId = media.id !== undefined;
  if (hasLink === hasId) errors.push(`Param ${kind} must have exactly one of link or id`);
  if (hasLink && !isHttpUrl(media.link)) errors.push(`Param ${kind}['link'] must be an http(s) URL`);
  if (hasId && !isNonEmptyString(media.id)) errors.push(`Param ${kind}['id'] must be a non-empty string`);
  if (media.caption !== undefined) {
    if (kind === 'audio' || kind === 'sticker') errors.push(`Param ${kind}['caption'] is not allowed for ${kind}`);
    else if (typeof media.caption !== 'string') errors.push(`Param ${kind}['caption'] must be a string`);
    else if (media.caption.length > 1024) errors.push(`Param ${kind}['caption'] must be at most 1024 characters long`);
  }
  if (media.filename !== undefined) {
    if (kind !== 'document') errors.push(`Param ${kind}['filename'] is only allowed for documents`);
    else if (!isNonEmptyString(media.filename)) errors.push(`Param document['filename'] must be a non-empty string`);
  }
}

function isCoordinate(value: unknown, max: number): boolean {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && Math.abs(n) <= max;
}

function checkInteractive(value: unknown, errors: string[]): void {
  if (!isObject(value)) {
    errors.push('Param interactive is required for type interactive');
    return;
  }
  if (!INTERACTIVE_TYPES.includes(value.type as string)) {
    errors.push(`Param interactive['type'] must be one of ${INTERACTIVE_TYPES.join(', ')}`);
    return;
  }
  const action = value.action;
  if (!isObject(action)) errors.push("Param interactive['action'] is required");
  const needsBody = ['button', 'list', 'cta_url', 'flow', 'product_list', 'catalog_message', 'location_request_message'];
  if (needsBody.includes(value.type as string)) {
    const body = value.body;
    if (!isObject(body) || !isNonEmptyString(body.text)) errors.push("Param interactive['body']['text'] is required");
    else if (body.text.length > 1024) errors.push("Param interactive['body']['text'] must be at most 1024 characters long");
  }
  if (!isObject(action)) return;
  if (value.type === 'button') {
    const buttons = action.buttons;
    if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) {
      errors.push("Param interactive['action']['buttons'] must have 1 to 3 buttons");
      return;
    }
    buttons.forEach((b: unknown, i) => {
      const reply = isObject(b) ? b.reply : undefined;
      if (!isObject(b) || b.type !== 'reply' || !isObject(reply) || !isNonEmptyString(reply.id) || !isNonEmptyString(reply.title)) {
        errors.push(`Param interactive['action']['buttons'][${i}] must be {type:"reply", reply:{id, title}}`);
      } else if (reply.title.length > 20) {
        errors.push(`Param interactive['action']['buttons'][${i}]['reply']['title'] must be at most 20 characters long`);
      }
    });
  }
  if (value.type === 'list') {
    if (!isNonEmptyString(action.button)) errors.push("Param interactive['action']['button'] is required");
    const sections = action.sections;
    if (!Array.isArray(sections) || sections.length < 1 || sections.length > 10) {
      errors.push("Param interactive['action']['sections'] must have 1 to 10 sections");
      return;
    }
    sections.forEach((s: unknown, i) => {
      const rows = isObject(s) ? s.rows : undefined;
      if (!Array.isArray(rows) || rows.length === 0) {
        errors.push(`Param interactive['action']['sections'][${i}]['rows'] is required`);
        return;
      }
      rows.forEach((r: unknown, j) => {
        if (!isObject(r) || !isNonEmptyString(r.id) || !isNonEmptyString(r.title)) {
          errors.push(`Param interactive['action']['sections'][${i}]['rows'][${j}] needs id and title`);
        }
      });
    });
  }
}

export function validateSendBody(body: Record<string, unknown>): string[] {
  const errors: string[] = [];
  if (body.messaging_product === undefined) errors.push('The parameter messaging_product is required.');
  else if (body.messaging_product !== 'whatsapp') errors.push("Param messaging_product must be 'whatsapp'");
  if (body.recipient_type !== undefined && body.recipient_type !== 'individual') {
    errors.push("Param recipient_type must be 'individual'");
  }
  if (body.to === undefined) errors.push('The parameter to is required.');
  else if (typeof body.to !== 'string' || !/^\d{7,15}$/.test(body.to)) errors.push('Param to must be a phone number (digits only)');
  const type = (body.type ?? 'text') as MetaMessageType;
  if (!META_MESSAGE_TYPES.includes(type)) {
    errors.push(`Param type must be one of ${META_MESSAGE_TYPES.join(', ')}`);
    return errors;
  }
  if (body.context !== undefined && !(isObject(body.context) && isNonEmptyString(body.context.message_id))) {
    errors.push("Param context['message_id'] is required");
  }
  const obj = body[type];
  switch (type) {
    case 'text':
      if (!isObject(obj) || typeof obj.body !== 'string') errors.push("Param text['body'] is required");
      else if (obj.body.trim().length === 0) errors.push("Param text['body'] must be non-empty");
      else if (obj.body.length > 4096) errors.push("Param text['body'] must be at most 4096 characters long");
      if (isObject(obj) && obj.preview_url !== undefined && typeof obj.preview_url !== 'boolean') {
        errors.push("Param text['preview_url'] must be a boolean");
      }
      break;
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker':
      checkMedia(type, obj, errors);
      break;
    case 'location':
      if (!isObject(obj)) errors.push('Param location is required for type location');
      else {
        if (!isCoordinate(obj.latitude, 90)) errors.push("Param location['latitude'] must be a number");
        if (!isCoordinate(obj.longitude, 180)) errors.push("Param location['longitude'] must be a number");
      }
      break;
    case 'contacts':
      if (!Array.isArray(obj) || obj.length === 0) errors.push('Param contacts must be a non-empty array');
      else {
        obj.forEach((c: unknown, i) => {
          const name = isObject(c) ? c.name : undefined;
          if (!isObject(name) || !isNonEmptyString(name.formatted_name)) {
            errors.push(`Param contacts[${i}]['name']['formatted_name'] is required`);
          }
        });
      }
      break;
    case 'interactive':
      checkInteractive(obj, errors);
      break;
    case 'template':
      if (!isObject(obj)) errors.push('Param template is required for type template');
      else {
        if (!isNonEmptyString(obj.name)) errors.push("Param template['name'] is required");
        if (!isObject(obj.language) || !isNonEmptyString(obj.language.code)) {
          errors.push("Param template['language']['code'] is required");
        }
        if (obj.components !== undefined && !Array.isArray(obj.components)) {
          errors.push("Param template['components'] must be an array");
        }
      }
      break;
    case 'reaction':
      if (!isObject(obj) || !isNonEmptyString(obj.message_id)) errors.push("Param reaction['message_id'] is required");
      else if (typeof obj.emoji !== 'string') errors.push("Param reaction['emoji'] is required (empty string removes)");
      break;
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------

const VERSIONED = /^\/(v\d+\.\d+)(\/.*)?$/;
const SEND_PATH = /^\/([^/]+)\/messages$/;
const NODE_PATH = /^\/([^/]+)$/;
const DOWNLOAD_PATH = /^\/media-download\/([^/]+)$/;

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

export async function startMetaSimulator(options: MetaSimulatorOptions = {}): Promise<MetaSimulator> {
  const numbers = new Map<string, Required<MetaNumberOptions>>();
  const media = new Map<string, MetaMediaOptions & MetaMediaInfo>();
  const downloads = new Map<string, { mediaId: string; token: string; expiresAt: number }>();
  const faults = new FaultQueue<{ endpoint: MetaCall['endpoint']; phoneNumberId?: string }, MetaFaultOptions>();
  const conditions = new Conditions();
  const sent = new Recorder<MetaSendRecord>();
  const calls: MetaCall[] = [];
  const deliveries: DeliverWebhookResult[] = [];
  const version = options.version ?? 'v23.0';
  const mediaUrlTtlMs = options.mediaUrlTtlMs ?? 5 * 60 * 1000;
  let baseUrl = '';

  const tokenIsKnown = (token: string): boolean => [...numbers.values()].some((n) => n.accessToken === token);

  const newWamidFor = (to: string): string =>
    `wamid.${Buffer.concat([Buffer.from(`HBgL${to}FQIAERgS`), randomBytes(18)]).toString('base64')}`;

  function handleSend(req: SimRequest, versionSeg: string, phoneNumberId: string): SimResponse {
    if (req.method !== 'POST') {
      return metaError(100, { message: `Unsupported ${req.method.toLowerCase()} request.`, subcode: 33 });
    }
    const token = bearerToken(req.headers);
    if (!token) return metaError(190, { message: 'An access token is required to request this resource.' });
    if (!tokenIsKnown(token)) return metaError(190);
    if (numbers.get(phoneNumberId)?.accessToken !== token) {
      return metaError(190, { message: `The access token is not valid for phone number ${phoneNumberId}` });
    }
    const fault = faults.take({ endpoint: 'messages', phoneNumberId });
    if (fault) return faultResponse(fault);
    if (mediaType(req.headers) !== 'application/json') {
      return metaError(100, { message: 'Content-Type must be application/json' });
    }
    const body = parseJson(req.body);
    if (!isObject(body)) return metaError(100, { message: 'The request body is not a valid JSON object' });
    const errors = validateSendBody(body);
    if (errors.length > 0) return metaError(100, { message: errors[0], details: errors.join('; ') });

    const send = body as unknown as MetaSendBody;
    const wamid = newWamidFor(send.to);
    sent.push({
      phoneNumberId,
      version: versionSeg,
      body: send,
      token,
      headers: redactHeaders(req.headers),
      wamid,
      time: new Date(),
    });
    return {
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        contacts: [{ input: send.to, wa_id: send.to }],
        // Templates are answered with a message_status, as Meta does.
        messages: [send.type === 'template' ? { id: wamid, message_status: 'accepted' } : { id: wamid }],
      },
    };
  }

  function handleMediaLookup(req: SimRequest, mediaId: string): SimResponse {
    if (req.method !== 'GET') {
      return metaError(100, { message: `Unsupported ${req.method.toLowerCase()} request.`, subcode: 33 });
    }
    const token = bearerToken(req.headers);
    if (!token) return metaError(190, { message: 'An access token is required to request this resource.' });
    if (!tokenIsKnown(token)) return metaError(190);
    const fault = faults.take({ endpoint: 'media' });
    if (fault) return faultResponse(fault);
    const item = media.get(mediaId);
    const scoped = req.query.get('phone_number_id');
    const allowed =
      item !== undefined &&
      (item.phoneNumberId === undefined || numbers.get(item.phoneNumberId)?.accessToken === token) &&
      (scoped === null || scoped === item.phoneNumberId || item.phoneNumberId === undefined);
    if (!item || !allowed) {
      return metaError(100, {
        message: `Unsupported get request. Object with ID '${mediaId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        subcode: 33,
      });
    }
    const downloadToken = randomBytes(24).toString('base64url');
    downloads.set(downloadToken, { mediaId, token, expiresAt: Date.now() + mediaUrlTtlMs });
    return {
      status: 200,
      body: {
        url: `${baseUrl}/media-download/${downloadToken}`,
        mime_type: item.mimeType,
        sha256: item.sha256Hex,
        file_size: item.fileSize,
        id: mediaId,
        messaging_product: 'whatsapp',
      },
    };
  }

  function handleDownload(req: SimRequest, downloadToken: string): SimResponse {
    if (req.method !== 'GET') return metaError(100, { message: 'Unsupported request.' });
    const token = bearerToken(req.headers);
    const link = downloads.get(downloadToken);
    if (!link || link.expiresAt <= Date.now()) {
      return metaError(100, { message: 'The media URL is unknown or has expired.', httpStatus: 404 });
    }
    if (!token) return metaError(190, { message: 'An access token is required to download this media.' });
    if (token !== link.token) return metaError(190, { message: 'This access token may not download this media.' });
    const fault = faults.take({ endpoint: 'download' });
    if (fault) return faultResponse(fault);
    const item = media.get(link.mediaId);
    if (!item) return metaError(100, { message: 'The media no longer exists.', httpStatus: 404 });
    return { status: 200, raw: item.bytes, headers: { 'Content-Type': item.mimeType } };
  }

  /** Answers produced by failNext, so that `calls` can flag them. */
  const injectedAnswers = new WeakSet<SimResponse>();

  function faultResponse(fault: MetaFaultOptions): SimResponse {
    const res = metaError(fault.code, {
      message: fault.message,
      httpStatus: fault.httpStatus,
      subcode: fault.errorSubcode,
      details: fault.details,
    });
    injectedAnswers.add(res);
    return res;
  }

  async function handle(req: SimRequest): Promise<SimResponse> {
    if (req.path.startsWith('/_sim/') && options.controlApi) return control(req);
    const versioned = VERSIONED.exec(req.path);
    const rest = versioned?.[2] ?? '';
    const send = versioned ? SEND_PATH.exec(rest) : null;
    const node = versioned && !send ? NODE_PATH.exec(rest) : null;
    const download = DOWNLOAD_PATH.exec(req.path);
    const phoneNumberId = send ? decodeURIComponent(send[1]) : undefined;
    const mediaId = node ? decodeURIComponent(node[1]) : undefined;
    const endpoint: MetaCall['endpoint'] = send ? 'messages' : node ? 'media' : download ? 'download' : 'other';

    const latency = conditions.latency(phoneNumberId);
    if (latency > 0) await sleep(latency);
    let res: SimResponse;
    let injected = false;
    if (conditions.isDown(phoneNumberId)) {
      res = metaError(131016, { httpStatus: 503, message: 'Service temporarily unavailable' });
      injected = true;
    } else if (send && versioned) {
      res = handleSend(req, versioned[1], phoneNumberId as string);
    } else if (node && mediaId !== undefined) {
      res = handleMediaLookup(req, mediaId);
    } else if (download) {
      res = handleDownload(req, download[1]);
    } else {
      res = metaError(2500, { message: `Unknown path components: ${req.path}`, httpStatus: 400 });
    }
    const error = (res.body as { error?: { code?: number } } | undefined)?.error;
    calls.push({
      endpoint,
      method: req.method,
      path: req.path,
      phoneNumberId,
      mediaId,
      status: res.status,
      errorCode: error?.code,
      injected: injected || injectedAnswers.has(res),
      time: new Date(),
    });
    return res;
  }

  const sim: MetaSimulator = {
    url: '',
    graphUrl: '',
    port: 0,
    addNumber(n) {
      if (!isNonEmptyString(n.phoneNumberId) || !isNonEmptyString(n.accessToken)) {
        throw new TypeError('addNumber: phoneNumberId and accessToken are required');
      }
      numbers.set(n.phoneNumberId, {
        phoneNumberId: n.phoneNumberId,
        accessToken: n.accessToken,
        displayPhoneNumber: n.displayPhoneNumber ?? n.phoneNumberId,
        wabaId: n.wabaId ?? '',
      });
    },
    addMedia(m) {
      const info: MetaMediaInfo = {
        mediaId: m.mediaId,
        mimeType: m.mimeType,
        fileSize: m.bytes.length,
        sha256Hex: createHash('sha256').update(m.bytes).digest('hex'),
        sha256Base64: createHash('sha256').update(m.bytes).digest('base64'),
      };
      media.set(m.mediaId, { ...m, ...info });
      return info;
    },
    failNext(n, fault) {
      const endpoint = fault.endpoint ?? 'messages';
      faults.add(
        n,
        (ctx) =>
          (endpoint === 'any' || endpoint === ctx.endpoint) &&
          (fault.phoneNumberId === undefined || fault.phoneNumberId === ctx.phoneNumberId),
        fault,
      );
    },
    setOutage: (on, scope) => conditions.setOutage(on, scope?.phoneNumberId),
    setLatency: (ms, scope) => conditions.setLatency(ms, scope?.phoneNumberId),
    clearFaults() {
      faults.clear();
      conditions.clear();
    },
    reset() {
      sim.clearFaults();
      sent.clear();
      calls.length = 0;
      deliveries.length = 0;
    },
    sent: sent.items,
    calls,
    deliveries,
    sends: (phoneNumberId) => sent.items.filter((s) => !phoneNumberId || s.phoneNumberId === phoneNumberId),
    waitFor: (predicate, timeoutMs) => sent.waitFor(predicate, timeoutMs, 'Meta send'),
    async deliverWebhook(o) {
      const result = await deliverMetaWebhook({
        ...o,
        retryDelayMs: o.retryDelayMs ?? options.retryDelayMs ?? 1000,
        maxAttempts: o.maxAttempts ?? options.maxAttempts ?? 5,
        timeoutMs: o.timeoutMs ?? options.webhookTimeoutMs ?? 10_000,
      });
      deliveries.push(result);
      return result;
    },
    async verifyWebhook({ url, verifyToken, challenge }) {
      const value = challenge ?? String(randomBytes(4).readUInt32BE(0));
      const target = new URL(url);
      target.searchParams.set('hub.mode', 'subscribe');
      target.searchParams.set('hub.verify_token', verifyToken);
      target.searchParams.set('hub.challenge', value);
      const res = await fetch(target, { headers: { 'User-Agent': 'facebookplatform/1.0' } });
      return { status: res.status, body: await res.text(), challenge: value };
    },
    close: async () => undefined,
  };

  const builders: Record<string, (o: never) => MetaWebhookPayload> = {
    text: buildTextMessage,
    image: buildImageMessage,
    video: buildVideoMessage,
    audio: buildAudioMessage,
    document: buildDocumentMessage,
    sticker: buildStickerMessage,
    location: buildLocationMessage,
    contacts: buildContactsMessage,
    button_reply: buildButtonReplyMessage,
    list_reply: buildListReplyMessage,
    button: buildButtonMessage,
    reaction: buildReactionMessage,
    unsupported: buildUnsupportedMessage,
    status: buildStatus,
    failed_status: buildFailedStatus,
  };

  /** The `/_sim/*` control API: the same operations over HTTP, for demos driven from a shell. */
  async function control(req: SimRequest): Promise<SimResponse> {
    const input = req.body.length > 0 ? parseJson(req.body) : {};
    if (!isObject(input)) return { status: 400, body: { error: 'JSON object body expected' } };
    const scope = { phoneNumberId: typeof input.phoneNumberId === 'string' ? input.phoneNumberId : undefined };
    const route = `${req.method} ${req.path}`;
    try {
      switch (route) {
        case 'POST /_sim/numbers':
          sim.addNumber(input as unknown as MetaNumberOptions);
          return { status: 201, body: { ok: true } };
        case 'POST /_sim/media': {
          const { base64, ...rest } = input as { base64?: string; mediaId: string; mimeType: string; phoneNumberId?: string };
          return { status: 201, body: sim.addMedia({ ...rest, bytes: Buffer.from(base64 ?? '', 'base64') }) };
        }
        case 'GET /_sim/sent':
          return { status: 200, body: sim.sent };
        case 'GET /_sim/calls':
          return { status: 200, body: sim.calls };
        case 'POST /_sim/deliver': {
          // {url, appSecret, kind, ...builder options} or {url, appSecret, payload}
          const { url, appSecret, kind, payload, duplicate, ...builderOptions } = input as Record<string, unknown>;
          let body = payload;
          if (body === undefined) {
            const build = builders[String(kind ?? 'text')];
            if (!build) return { status: 400, body: { error: `unknown kind ${String(kind)}; one of ${Object.keys(builders).join(', ')}` } };
            body = build(builderOptions as never);
          }
          const result = await sim.deliverWebhook({ url: String(url), appSecret: String(appSecret), payload: body, duplicate: duplicate === true });
          return { status: 200, body: { ...result, body: undefined } };
        }
        case 'POST /_sim/fail-next': {
          const { n, ...fault } = input as unknown as MetaFaultOptions & { n: number };
          sim.failNext(n, fault);
          return { status: 200, body: { ok: true } };
        }
        case 'POST /_sim/outage':
          sim.setOutage(input.on === true, scope);
          return { status: 200, body: { ok: true } };
        case 'POST /_sim/latency':
          sim.setLatency(Number(input.ms ?? 0), scope);
          return { status: 200, body: { ok: true } };
        case 'POST /_sim/reset':
          sim.reset();
          return { status: 200, body: { ok: true } };
        default:
          return { status: 404, body: { error: `unknown control route ${route}` } };
      }
    } catch (err) {
      return { status: 400, body: { error: (err as Error).message } };
    }
  }

  const server = await startServer(handle, { host: options.host, port: options.port });
  baseUrl = server.url;
  Object.assign(sim, { url: server.url, graphUrl: `${server.url}/${version}`, port: server.port, close: server.close });
  return sim;
}
