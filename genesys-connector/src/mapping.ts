/**
 * Pure translations between WhatsApp Cloud API payloads and Genesys Cloud Open Messaging bodies.
 * No I/O: the callers fetch, store and send. See shared/reference for the facts each rule follows.
 *
 * Choices where the references are silent:
 * - Inbound text is cut to MAX_GENESYS_TEXT (4000) UTF-16 units, the last one an ellipsis. Genesys
 *   documents 4000 for agent text and no inbound limit; the same bound keeps both sides symmetric.
 * - Attachment `mime` is Meta's `mime_type` without parameters (`audio/ogg; codecs=opus` →
 *   `audio/ogg`), lower-cased: the bare type is what Genesys' allow-lists compare against.
 * - Genesys has no location, contact, reaction, order or interactive type: these become text an
 *   agent can read, with machine-readable details in `channel.metadata.customAttributes` (all
 *   strings — Genesys refuses nested values there).
 * - `channel.from.id` is `message.from`, else `ctx.waId` (Phone); without either, the
 *   business-scoped user id (`from_user_id`, else `ctx.userId`) as Opaque; else UnmappableMessage.
 */

// ---------------------------------------------------------------------------------------------
// Types: Meta (loose, as webhooks deliver them) and Genesys (as the bridge sends/receives them).

export interface MetaMediaObject {
  id?: string;
  mime_type?: string;
  sha256?: string;
  caption?: string;
  filename?: string;
  voice?: boolean;
  animated?: boolean;
  url?: string;
}

export interface MetaErrorObject {
  code?: number;
  title?: string;
  message?: string;
  error_data?: { details?: string };
  href?: string;
}

export interface MetaSharedContact {
  name?: { formatted_name?: string; first_name?: string; last_name?: string; [k: string]: unknown };
  phones?: Array<{ phone?: string; wa_id?: string; type?: string }>;
  emails?: Array<{ email?: string; type?: string }>;
  org?: { company?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** A `value.messages[]` item of a Meta webhook, loosely typed: anything may be missing. */
export interface MetaMessage {
  id: string;
  timestamp: string | number;
  type: string;
  from?: string;
  /** Business-scoped user id (newer payloads). */
  from_user_id?: string;
  context?: { from?: string; id?: string; forwarded?: boolean; frequently_forwarded?: boolean; [k: string]: unknown };
  text?: { body?: string };
  image?: MetaMediaObject;
  video?: MetaMediaObject;
  audio?: MetaMediaObject;
  document?: MetaMediaObject;
  sticker?: MetaMediaObject;
  location?: { latitude?: number | string; longitude?: number | string; name?: string; address?: string; url?: string };
  contacts?: MetaSharedContact[];
  interactive?: {
    type?: string;
    button_reply?: { id?: string; title?: string };
    list_reply?: { id?: string; title?: string; description?: string };
    nfm_reply?: { name?: string; body?: string; response_json?: string };
    [k: string]: unknown;
  };
  button?: { payload?: string; text?: string };
  reaction?: { message_id?: string; emoji?: string };
  order?: {
    catalog_id?: string;
    text?: string;
    product_items?: Array<{ product_retailer_id?: string; quantity?: number | string; item_price?: number | string; currency?: string }>;
  };
  referral?: {
    source_url?: string;
    source_id?: string;
    source_type?: string;
    headline?: string;
    body?: string;
    ctwa_clid?: string;
    [k: string]: unknown;
  };
  system?: { body?: string; type?: string; [k: string]: unknown };
  unsupported?: { type?: string };
  errors?: MetaErrorObject[];
  [k: string]: unknown;
}

/** A `value.statuses[]` item of a Meta webhook. */
export interface MetaStatus {
  id: string;
  status: string;
  timestamp: string | number;
  recipient_id?: string;
  /** Business-scoped user id (newer payloads). */
  recipient_user_id?: string;
  recipient_type?: string;
  errors?: MetaErrorObject[];
  [k: string]: unknown;
}

export type GenesysIdType = 'Phone' | 'Email' | 'Opaque';
export type GenesysMediaType = 'Image' | 'Video' | 'Audio' | 'File' | 'Link';

export interface GenesysAttachment {
  mediaType: GenesysMediaType;
  url: string;
  mime: string;
  filename?: string;
}

export interface GenesysContent {
  contentType: 'Attachment';
  attachment: GenesysAttachment;
}

/** Body of `POST .../{integrationId}/inbound/open/message`. */
export interface GenesysInboundMessage {
  channel: {
    messageId: string;
    time: string;
    from: { id: string; idType: GenesysIdType; nickname?: string; firstName?: string; lastName?: string };
    metadata: { customAttributes: Record<string, string> };
  };
  text?: string;
  content?: GenesysContent[];
}

/** The failure reasons the receipt endpoint accepts. */
export const GENESYS_REASON_CODES = [
  'MessageExpired',
  'RateLimited',
  'MessageNotAllowed',
  'GeneralError',
  'UnsupportedMessage',
  'UnknownMessage',
  'InvalidMessageStructure',
  'InvalidDestination',
  'ServerError',
  'MediaTypeNotAllowed',
  'InvalidMediaContentLength',
  'RecipientOptedOut',
  'DataFiltered',
] as const;
export type GenesysReasonCode = (typeof GENESYS_REASON_CODES)[number];

/** Body of `POST .../{integrationId}/inbound/open/receipt`. */
export interface GenesysReceipt {
  id: string;
  channel: { to: { id: string; idType: GenesysIdType }; time: string };
  status: 'Delivered' | 'Failed';
  direction: 'Outbound';
  isFinalReceipt: boolean;
  reasons?: Array<{ code: GenesysReasonCode; message: string }>;
}

/** Body Genesys POSTs to our outbound webhook (agent reply, typing event, receipt). */
export interface GenesysOutboundMessage {
  id: string;
  type: string;
  text?: string;
  content?: Array<{ contentType?: string; attachment?: GenesysOutboundAttachment; [k: string]: unknown }>;
  channel?: { to?: { id?: string }; [k: string]: unknown };
  direction?: string;
  originatingEntity?: string;
  [k: string]: unknown;
}

export interface GenesysOutboundAttachment {
  id?: string;
  mediaType?: string;
  url?: string;
  mime?: string;
  filename?: string;
  sha256?: string;
  contentSizeBytes?: number;
  [k: string]: unknown;
}

export type MetaMediaRef = { link: string; caption?: string; filename?: string };

interface MetaSendBase {
  messaging_product: 'whatsapp';
  recipient_type: 'individual';
  to: string;
}

/** Body of `POST {graph}/{phone_number_id}/messages`, as this module produces them. */
export type MetaSendBody =
  | (MetaSendBase & { type: 'text'; text: { body: string; preview_url: boolean } })
  | (MetaSendBase & { type: 'image'; image: MetaMediaRef })
  | (MetaSendBase & { type: 'video'; video: MetaMediaRef })
  | (MetaSendBase & { type: 'audio'; audio: MetaMediaRef })
  | (MetaSendBase & { type: 'document'; document: MetaMediaRef });

/** The message cannot be represented in Genesys (no sender id, no id/timestamp): mark it failed. */
export class UnmappableMessage extends Error {
  readonly code = 'UNMAPPABLE_MESSAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UnmappableMessage';
  }
}

// ---------------------------------------------------------------------------------------------
// Limits

/** Inbound text cap (see the module comment). */
export const MAX_GENESYS_TEXT = 4000;
/** Meta's text body limit. */
export const MAX_META_TEXT = 4096;
/** Meta's caption limit (image, video, document). */
export const MAX_META_CAPTION = 1024;
/** Custom attribute values are kept short; only ids and URLs go there. */
const MAX_ATTRIBUTE = 1000;

const ELLIPSIS = '…';

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** Cuts `text` to at most `max` UTF-16 units, ending with an ellipsis; never splits a surrogate pair. */
export function truncateText(text: string, max = MAX_GENESYS_TEXT): string {
  if (text.length <= max) return text;
  let cut = max - ELLIPSIS.length;
  if (isHighSurrogate(text.charCodeAt(cut - 1))) cut -= 1;
  return text.slice(0, cut) + ELLIPSIS;
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;

// ---------------------------------------------------------------------------------------------
// Inbound: WhatsApp message → Genesys message

export interface InboundContext {
  tenantId: string;
  /** The user's phone number (`contacts[].wa_id` or `messages[].from`). */
  waId: string | undefined;
  /** The business-scoped user id (`contacts[].user_id`), used when no phone number is known. */
  userId?: string;
  profileName?: string;
  /** builds our signed, expiring URL for a Meta media id */
  mediaUrl: (media: { mediaId: string; mimeType: string; filename?: string }) => string;
}

const MEDIA_KINDS = ['image', 'video', 'audio', 'document', 'sticker'] as const;
type MediaKind = (typeof MEDIA_KINDS)[number];

const GENESYS_MEDIA_TYPE: Record<MediaKind, GenesysMediaType> = {
  image: 'Image',
  video: 'Video',
  audio: 'Audio',
  document: 'File',
  sticker: 'Image',
};

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'video/3gpp': '3gp',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/aac': 'aac',
  'audio/amr': 'amr',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.ms-powerpoint': 'ppt',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
};

/** `audio/ogg; codecs=opus` → `audio/ogg`; absent or malformed → application/octet-stream. */
export function baseMime(mime: unknown): string {
  const base = typeof mime === 'string' ? mime.split(';')[0].trim().toLowerCase() : '';
  return /^[a-z0-9][\w.+-]*\/[\w.+-]+$/.test(base) ? base : 'application/octet-stream';
}

function extensionFor(mime: string): string {
  const known = EXTENSIONS[mime];
  if (known) return known;
  const sub = mime.split('/')[1] ?? '';
  return /^[a-z0-9]{1,8}$/.test(sub) ? sub : 'bin';
}

/** A user-supplied filename made safe to carry in URLs and headers (no control characters or paths). */
function cleanFilename(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const cleaned = name.replace(/[\u0000-\u001f\u007f]/g, '').replace(/^.*[\\/]/, '').trim();
  return cleaned.length > 0 ? cleaned.slice(0, 255) : undefined;
}

function unixToIso(value: unknown, what: string): string {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  const date = new Date(seconds * 1000);
  if (!Number.isFinite(seconds) || Number.isNaN(date.getTime())) throw new UnmappableMessage(`${what} has no valid timestamp`);
  return date.toISOString();
}

function splitName(profileName: string | undefined): { nickname?: string; firstName?: string; lastName?: string } {
  const name = profileName?.trim();
  if (!name) return {};
  const space = name.search(/\s/);
  if (space === -1) return { nickname: name, firstName: name };
  return { nickname: name, firstName: name.slice(0, space), lastName: name.slice(space + 1).trim() || undefined };
}

function errorNotice(errors: MetaErrorObject[] | undefined): string[] {
  if (!Array.isArray(errors)) return [];
  return errors.map((e) => {
    const what = e?.title ?? e?.message ?? 'unknown error';
    return `[WhatsApp error${e?.code !== undefined ? ` ${e.code}` : ''}: ${what}]`;
  });
}

const unsupportedNotice = (type: string): string => `[Unsupported WhatsApp message type: ${type}]`;

function locationText(loc: MetaMessage['location']): string {
  const lat = Number(loc?.latitude);
  const lng = Number(loc?.longitude);
  const hasCoords = loc?.latitude !== undefined && loc?.longitude !== undefined && Number.isFinite(lat) && Number.isFinite(lng);
  const lines = [`📍 ${nonEmpty(loc?.name) ? loc!.name : 'Location'}`];
  if (nonEmpty(loc?.address)) lines.push(loc!.address!);
  if (hasCoords) lines.push(`https://maps.google.com/?q=${lat},${lng}`);
  else lines.push('[location without coordinates]');
  if (nonEmpty(loc?.url)) lines.push(loc!.url!);
  return lines.join('\n');
}

function contactsText(contacts: MetaSharedContact[] | undefined): string {
  if (!Array.isArray(contacts) || contacts.length === 0) return '[Shared contacts: empty]';
  return contacts
    .map((c) => {
      const n = c?.name;
      const name =
        (nonEmpty(n?.formatted_name) && n!.formatted_name) ||
        [n?.first_name, n?.last_name].filter(nonEmpty).join(' ') ||
        'Unnamed contact';
      const lines = [`👤 ${name}`];
      if (nonEmpty(c?.org?.company)) lines.push(`🏢 ${c.org!.company}`);
      for (const p of Array.isArray(c?.phones) ? c.phones : []) {
        const phone = p?.phone ?? (p?.wa_id ? `+${p.wa_id}` : undefined);
        if (nonEmpty(phone)) lines.push(`📞 ${phone}${nonEmpty(p.type) ? ` (${p.type})` : ''}`);
      }
      for (const e of Array.isArray(c?.emails) ? c.emails : []) {
        if (nonEmpty(e?.email)) lines.push(`✉️ ${e.email}${nonEmpty(e.type) ? ` (${e.type})` : ''}`);
      }
      return lines.join('\n');
    })
    .join('\n\n');
}

function flowResponseText(nfm: NonNullable<MetaMessage['interactive']>['nfm_reply']): string {
  const lines = ['📝 Form submitted'];
  const raw = nfm?.response_json;
  let parsed: unknown;
  try {
    parsed = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (key === 'flow_token') continue;
      lines.push(`${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  } else if (nonEmpty(raw)) {
    lines.push(raw);
  } else if (nonEmpty(nfm?.body)) {
    lines.push(nfm!.body!);
  }
  return lines.join('\n');
}

function orderText(order: MetaMessage['order']): string {
  const items = Array.isArray(order?.product_items) ? order!.product_items! : [];
  const lines = [`🛒 Order (${items.length} item${items.length === 1 ? '' : 's'})`];
  let total = 0;
  const currencies = new Set<string>();
  for (const item of items) {
    const qty = Number(item?.quantity ?? 1);
    const price = Number(item?.item_price);
    const currency = item?.currency ?? '';
    currencies.add(currency);
    const priceText = Number.isFinite(price) ? ` — ${price} ${currency}`.trimEnd() : '';
    lines.push(`• ${Number.isFinite(qty) ? qty : '?'} × ${item?.product_retailer_id ?? 'item'}${priceText}`);
    total += Number.isFinite(qty) && Number.isFinite(price) ? qty * price : NaN;
  }
  if (items.length > 0 && currencies.size === 1 && Number.isFinite(total)) {
    lines.push(`Total: ${Math.round(total * 100) / 100} ${[...currencies][0]}`.trimEnd());
  }
  if (nonEmpty(order?.text)) lines.push(order!.text!);
  return lines.join('\n');
}

function referralText(referral: MetaMessage['referral']): string | undefined {
  if (!referral || typeof referral !== 'object') return undefined;
  const parts = [referral.headline, referral.source_url].filter(nonEmpty);
  const via = nonEmpty(referral.source_type) ? referral.source_type : 'ad';
  return parts.length > 0 ? `↪ Referred by ${via}: ${parts.join('\n')}` : `↪ Referred by ${via}`;
}

/**
 * Maps one WhatsApp message to the body of Genesys' inbound message endpoint. Every Meta type
 * maps to something (unknown types to a notice text); throws UnmappableMessage only when the
 * message has no usable sender, id or timestamp.
 */
export function metaMessageToGenesys(message: MetaMessage, ctx: InboundContext): GenesysInboundMessage {
  if (!message || !nonEmpty(message.id)) throw new UnmappableMessage('Message has no id');
  const time = unixToIso(message.timestamp, `Message ${message.id}`);

  const phone = nonEmpty(message.from) ? message.from : nonEmpty(ctx.waId) ? ctx.waId : undefined;
  const userId = nonEmpty(message.from_user_id) ? message.from_user_id : nonEmpty(ctx.userId) ? ctx.userId : undefined;
  if (!phone && !userId) throw new UnmappableMessage(`Message ${message.id} has neither a phone number nor a user id`);
  const from: GenesysInboundMessage['channel']['from'] = phone
    ? { id: phone, idType: 'Phone', ...splitName(ctx.profileName) }
    : { id: userId!, idType: 'Opaque', ...splitName(ctx.profileName) };

  const type = nonEmpty(message.type) ? message.type : 'unknown';
  const attributes: Record<string, string | undefined> = { tenantId: ctx.tenantId, waMessageType: type };
  if (userId) attributes.waUserId = userId;
  const context = message.context;
  if (context && typeof context === 'object') {
    if (nonEmpty(context.id)) attributes.replyTo = context.id;
    if (context.forwarded === true || context.frequently_forwarded === true) attributes.forwarded = 'true';
    if (context.frequently_forwarded === true) attributes.frequentlyForwarded = 'true';
  }

  const texts: string[] = [];
  const content: GenesysContent[] = [];

  const addMedia = (kind: MediaKind): void => {
    const media = message[kind];
    if (!media || typeof media !== 'object' || !nonEmpty(media.id)) {
      texts.push(`[${kind} could not be retrieved]`);
      return;
    }
    const mime = baseMime(media.mime_type);
    const filename = (kind === 'document' ? cleanFilename(media.filename) : undefined) ?? `${kind}.${extensionFor(mime)}`;
    content.push({
      contentType: 'Attachment',
      attachment: {
        mediaType: GENESYS_MEDIA_TYPE[kind],
        url: ctx.mediaUrl({ mediaId: media.id, mimeType: mime, filename }),
        mime,
        filename,
      },
    });
    if (kind === 'audio' && media.voice === true) attributes.voiceNote = 'true';
    if (kind === 'sticker' && media.animated === true) attributes.animatedSticker = 'true';
    if (nonEmpty(media.caption)) texts.push(media.caption);
  };

  switch (type) {
    case 'text':
      if (typeof message.text?.body === 'string' && message.text.body.length > 0) texts.push(message.text.body);
      break;
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker':
      addMedia(type);
      break;
    case 'location':
      texts.push(locationText(message.location));
      break;
    case 'contacts':
      texts.push(contactsText(message.contacts));
      break;
    case 'interactive': {
      const i = message.interactive;
      if (i?.type === 'button_reply' && i.button_reply) {
        texts.push(i.button_reply.title ?? i.button_reply.id ?? '[button reply]');
        if (nonEmpty(i.button_reply.id)) attributes.replyId = i.button_reply.id;
      } else if (i?.type === 'list_reply' && i.list_reply) {
        const title = i.list_reply.title ?? i.list_reply.id ?? '[list reply]';
        texts.push(nonEmpty(i.list_reply.description) ? `${title}\n${i.list_reply.description}` : title);
        if (nonEmpty(i.list_reply.id)) attributes.replyId = i.list_reply.id;
      } else if (i?.type === 'nfm_reply') {
        texts.push(flowResponseText(i.nfm_reply));
      } else {
        texts.push(unsupportedNotice(nonEmpty(i?.type) ? `interactive/${i.type}` : 'interactive'));
      }
      break;
    }
    case 'button':
      texts.push(nonEmpty(message.button?.text) ? message.button.text : (message.button?.payload ?? '[button reply]'));
      if (nonEmpty(message.button?.payload)) attributes.buttonPayload = message.button.payload;
      break;
    case 'reaction': {
      const emoji = message.reaction?.emoji;
      texts.push(nonEmpty(emoji) ? `Reacted ${emoji} to a message` : 'Removed a reaction');
      if (nonEmpty(message.reaction?.message_id)) attributes.reactionTo = message.reaction.message_id;
      break;
    }
    case 'order':
      texts.push(orderText(message.order));
      if (nonEmpty(message.order?.catalog_id)) attributes.orderCatalogId = message.order.catalog_id;
      break;
    case 'system':
      texts.push(nonEmpty(message.system?.body) ? `[WhatsApp system message] ${message.system.body}` : '[WhatsApp system message]');
      break;
    case 'unsupported':
      texts.push(unsupportedNotice(nonEmpty(message.unsupported?.type) ? message.unsupported.type : 'unsupported'));
      break;
    default:
      texts.push(unsupportedNotice(type));
  }

  const errors = errorNotice(message.errors);
  texts.push(...errors);
  if (Array.isArray(message.errors) && message.errors[0]?.code !== undefined) attributes.waErrorCode = String(message.errors[0].code);

  const referral = referralText(message.referral);
  if (referral) {
    texts.push(referral);
    const r = message.referral!;
    if (nonEmpty(r.source_url)) attributes.referralSourceUrl = r.source_url;
    if (nonEmpty(r.source_id)) attributes.referralSourceId = r.source_id;
    if (nonEmpty(r.source_type)) attributes.referralSourceType = r.source_type;
    if (nonEmpty(r.ctwa_clid)) attributes.referralCtwaClid = r.ctwa_clid;
  }

  // A body Genesys would refuse (neither text nor content) still tells the agent something arrived.
  if (texts.length === 0 && content.length === 0) texts.push(`[Empty WhatsApp ${type} message]`);

  const customAttributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value === 'string') customAttributes[key] = value.slice(0, MAX_ATTRIBUTE);
  }
  const body: GenesysInboundMessage = { channel: { messageId: message.id, time, from, metadata: { customAttributes } } };
  if (texts.length > 0) body.text = truncateText(texts.join('\n\n'));
  if (content.length > 0) body.content = content;
  return body;
}

// ---------------------------------------------------------------------------------------------
// Statuses: WhatsApp status → Genesys receipt

/**
 * Maps a status of one of our outbound messages to a Genesys receipt, or undefined when there is
 * nothing to tell Genesys:
 * - `delivered` → Delivered, not final (a `read` may follow).
 * - `read` → Delivered, final: Genesys' receipt endpoint documents no Read status, and `delivered`
 *   may never arrive when the user reads at once, so `read` is the delivery proof of last resort.
 *   Statuses arrive out of order: callers should drop a `delivered` after a final receipt.
 * - `failed` → Failed, final, reasons from the first Meta error (metaErrorToReason).
 * - `sent` (accepted by WhatsApp's servers, not yet on the phone), `played` (voice note listened
 *   to, always after `read`) and unknown statuses → undefined.
 * `channel.to.idType` is Phone for a digits-only recipient, Opaque otherwise (group ids, BSUIDs).
 */
export function metaStatusToGenesysReceipt(status: MetaStatus, genesysMessageId: string): GenesysReceipt | undefined {
  const kind = status?.status;
  if (kind !== 'delivered' && kind !== 'read' && kind !== 'failed') return undefined;
  const recipient = nonEmpty(status.recipient_id) ? status.recipient_id : nonEmpty(status.recipient_user_id) ? status.recipient_user_id : undefined;
  if (!recipient) throw new UnmappableMessage(`Status ${status.id} has no recipient`);
  if (!nonEmpty(genesysMessageId)) throw new UnmappableMessage(`Status ${status.id} has no Genesys message id`);
  const receipt: GenesysReceipt = {
    id: genesysMessageId,
    channel: {
      to: { id: recipient, idType: /^\d+$/.test(recipient) ? 'Phone' : 'Opaque' },
      time: unixToIso(status.timestamp, `Status ${status.id}`),
    },
    status: kind === 'failed' ? 'Failed' : 'Delivered',
    direction: 'Outbound',
    isFinalReceipt: kind !== 'delivered',
  };
  if (kind === 'failed') {
    const error = Array.isArray(status.errors) ? status.errors[0] : undefined;
    const detail = error?.error_data?.details ?? error?.message ?? error?.title;
    receipt.reasons = [metaErrorToReason(error?.code, error ? detail : 'WhatsApp reported the message as failed')];
  }
  return receipt;
}

// ---------------------------------------------------------------------------------------------
// Meta error codes

const REASONS: Record<number, { code: GenesysReasonCode; text: string }> = {
  131047: { code: 'MessageExpired', text: 'More than 24 hours since the customer last wrote; only an approved template can be sent' },
  470: { code: 'MessageExpired', text: 'More than 24 hours since the customer last wrote; only an approved template can be sent' },
  130429: { code: 'RateLimited', text: 'WhatsApp throughput limit of the business number reached' },
  131056: { code: 'RateLimited', text: 'Too many messages to this customer in a short time' },
  4: { code: 'RateLimited', text: 'WhatsApp API rate limit of the app reached' },
  80007: { code: 'RateLimited', text: 'WhatsApp API rate limit of the business account reached' },
  131048: { code: 'RateLimited', text: 'WhatsApp spam rate limit: too many messages from this number were blocked or flagged' },
  // "Undeliverable": not on WhatsApp, terms not accepted, outdated app — the destination is the problem.
  131026: { code: 'InvalidDestination', text: 'The message could not be delivered to this WhatsApp user' },
  131021: { code: 'InvalidDestination', text: 'The recipient cannot be the sender' },
  131051: { code: 'UnsupportedMessage', text: 'WhatsApp does not support this message type' },
  // 131052 is Meta failing to fetch a user's media (inbound); 131053 is Meta failing to take our
  // media, in practice an unsupported type or size.
  131052: { code: 'GeneralError', text: 'WhatsApp could not download the media' },
  131053: { code: 'MediaTypeNotAllowed', text: 'WhatsApp could not accept the media (type or size not allowed)' },
  100: { code: 'InvalidMessageStructure', text: 'WhatsApp rejected the message as invalid' },
  131008: { code: 'InvalidMessageStructure', text: 'A required parameter is missing' },
  131009: { code: 'InvalidMessageStructure', text: 'A parameter value is invalid' },
  131050: { code: 'RecipientOptedOut', text: 'The customer has stopped marketing messages from this business' },
  130472: { code: 'MessageNotAllowed', text: "The customer's number is part of a WhatsApp experiment" },
  131049: { code: 'MessageNotAllowed', text: 'WhatsApp chose not to deliver this message to maintain healthy engagement' },
  368: { code: 'MessageNotAllowed', text: 'The business account is temporarily blocked for policy violations' },
  131031: { code: 'MessageNotAllowed', text: 'The business account has been locked' },
  190: { code: 'GeneralError', text: "The tenant's WhatsApp access token is invalid or expired" },
  131000: { code: 'ServerError', text: 'WhatsApp had an internal error' },
  131016: { code: 'ServerError', text: 'WhatsApp is temporarily unavailable' },
  131057: { code: 'ServerError', text: 'The business account is in maintenance mode' },
  133004: { code: 'ServerError', text: 'WhatsApp is temporarily unavailable' },
  1: { code: 'ServerError', text: 'WhatsApp API unknown error' },
  2: { code: 'ServerError', text: 'WhatsApp API temporarily unavailable' },
};

/**
 * A Meta error code as a Genesys failure reason. Known codes get an explanation written for the
 * agent, with Meta's own text (`message`) and the code appended; unknown codes are GeneralError
 * with Meta's text. Template errors (132000-132999) are InvalidMessageStructure.
 */
export function metaErrorToReason(code: number | undefined, message?: string): { code: GenesysReasonCode; message: string } {
  const known = code !== undefined ? REASONS[code] : undefined;
  const reason: GenesysReasonCode = known?.code ?? (code !== undefined && code >= 132000 && code < 133000 ? 'InvalidMessageStructure' : 'GeneralError');
  const metaText = nonEmpty(message) ? message.trim() : undefined;
  const base = known?.text ?? metaText ?? 'WhatsApp could not deliver the message';
  const suffix = code === undefined ? '' : known && metaText ? ` (WhatsApp error ${code}: ${metaText})` : ` (WhatsApp error ${code})`;
  return { code: reason, message: truncateText(base + suffix, 1000) };
}

export type MetaErrorClass = 'transient' | 'permanent';

/** Meta codes worth retrying with backoff. */
const TRANSIENT_CODES = new Set([
  130429, // throughput limit of the number
  131056, // pair rate limit (same user)
  131057, // account in maintenance
  4, // app-level API rate limit
  80007, // WABA-level API rate limit
  131000, // Meta internal error
  131016, // service unavailable
  133004, // server temporarily unavailable
  1, // API unknown (Meta: "possibly a temporary issue")
  2, // API service temporarily unavailable
]);

/** Meta codes that will fail the same way on retry. */
const PERMANENT_CODES = new Set([
  131047, // 24 h window closed: needs a template
  100, // invalid parameter
  190, // token expired/invalid: the tenant's credentials need fixing
  131026, // undeliverable
  131051, // unsupported message type
  131050, // user stopped marketing messages
  131052, // media download error
  131053, // media upload error
  368, // temporarily blocked for policy violations (hours to days: not a backoff matter)
  131031, // account locked
  131048, // spam rate limit (quality problem, not throughput)
  131049, // ecosystem engagement: Meta says do not retry immediately
  130472, // user in experiment
  131021, // recipient = sender
  131008, // required parameter missing
  131009, // parameter value invalid
  470, // legacy 24 h window
]);

/**
 * Whether a failed Meta call is worth retrying. Meta answers most errors with HTTP 400, so the
 * code decides first: TRANSIENT_CODES → transient, PERMANENT_CODES → permanent (even on a 5xx).
 * Otherwise by HTTP status: 5xx, 429, 408 and no answer at all (0, e.g. a network error or
 * timeout) → transient; other 4xx → permanent. Unknown codes on a 2xx/3xx (should not happen) →
 * permanent.
 */
export function classifyMetaError(code: number | undefined, httpStatus: number): MetaErrorClass {
  if (code !== undefined && TRANSIENT_CODES.has(code)) return 'transient';
  if (code !== undefined && PERMANENT_CODES.has(code)) return 'permanent';
  if (!(httpStatus > 0) || httpStatus >= 500 || httpStatus === 429 || httpStatus === 408) return 'transient';
  return 'permanent';
}

// ---------------------------------------------------------------------------------------------
// Outbound: Genesys agent reply → WhatsApp sends

/** MIME types WhatsApp accepts per media type; anything else is sent as a document. */
const WHATSAPP_MIMES: Record<'image' | 'video' | 'audio', string[]> = {
  image: ['image/jpeg', 'image/png'],
  video: ['video/mp4', 'video/3gpp'],
  audio: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'],
};

const URL_IN_TEXT = /(https?:\/\/|www\.)\S/i;

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Splits text into pieces of at most `max` UTF-16 units, preferring a line break, then any
 * whitespace, in the second half of the window; a text with no whitespace there is cut hard
 * (never inside a surrogate pair). Whitespace at the cuts is dropped; blank pieces are skipped.
 */
export function splitText(text: string, max = MAX_META_TEXT): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max + 1);
    const floor = Math.floor(max / 2);
    let cut = window.lastIndexOf('\n');
    if (cut <= floor) {
      cut = -1;
      for (let i = max; i > floor; i--) {
        if (/\s/.test(window[i])) {
          cut = i;
          break;
        }
      }
    }
    let piece: string;
    if (cut === -1) {
      cut = isHighSurrogate(rest.charCodeAt(max - 1)) ? max - 1 : max;
      piece = rest.slice(0, cut);
      rest = rest.slice(cut);
    } else {
      piece = rest.slice(0, cut).trimEnd();
      rest = rest.slice(cut).trimStart();
    }
    if (piece.trim().length > 0) pieces.push(piece);
  }
  if (rest.trim().length > 0) pieces.push(rest);
  return pieces;
}

type OutboundKind = 'image' | 'video' | 'audio' | 'document';

interface OutboundMedia {
  kind: OutboundKind;
  link: string;
  filename?: string;
}

function outboundMedia(att: GenesysOutboundAttachment): OutboundMedia | undefined {
  if (!isHttpUrl(att.url)) return undefined;
  const mime = att.mime ? baseMime(att.mime) : undefined;
  let kind: OutboundKind;
  switch (att.mediaType) {
    case 'Image':
      kind = 'image';
      break;
    case 'Video':
      kind = 'video';
      break;
    case 'Audio':
      kind = 'audio';
      break;
    case 'File':
      kind = 'document';
      break;
    default:
      kind = mime?.startsWith('image/') ? 'image' : mime?.startsWith('video/') ? 'video' : mime?.startsWith('audio/') ? 'audio' : 'document';
  }
  // WhatsApp refuses e.g. a GIF as an image (131053); as a document it still arrives.
  if (kind !== 'document' && mime && mime !== 'application/octet-stream' && !WHATSAPP_MIMES[kind].includes(mime)) kind = 'document';
  if (kind !== 'document') return { kind, link: att.url };
  let fromUrl: string | undefined;
  try {
    fromUrl = cleanFilename(decodeURIComponent(new URL(att.url).pathname.split('/').pop() ?? ''));
  } catch {
    fromUrl = undefined;
  }
  const filename = cleanFilename(att.filename) ?? (fromUrl && fromUrl.includes('.') ? fromUrl : undefined) ?? `file.${extensionFor(mime ?? '')}`;
  return { kind, link: att.url, filename };
}

function mediaSend(to: string, media: OutboundMedia, caption?: string): MetaSendBody {
  const ref: MetaMediaRef = { link: media.link };
  if (caption !== undefined) ref.caption = caption;
  if (media.filename !== undefined) ref.filename = media.filename;
  const base = { messaging_product: 'whatsapp', recipient_type: 'individual', to } as const;
  switch (media.kind) {
    case 'image':
      return { ...base, type: 'image', image: ref };
    case 'video':
      return { ...base, type: 'video', video: ref };
    case 'audio':
      return { ...base, type: 'audio', audio: ref };
    case 'document':
      return { ...base, type: 'document', document: ref };
  }
}

/**
 * The WhatsApp sends for one Genesys agent message, in order. Only `Text` and `Structured`
 * messages produce sends; receipts and events give []. Attachments without an http(s) URL are
 * skipped; `Link` attachments are sent as their URL in the text; content other than attachments
 * (quick replies, cards) is not mapped. With exactly one attachment, and that one an image,
 * video or document, text of at most 1024 characters becomes its caption.
 */
export function genesysOutboundToMetaSends(msg: GenesysOutboundMessage, to: string): MetaSendBody[] {
  if (!msg || (msg.type !== 'Text' && msg.type !== 'Structured')) return [];
  let text = typeof msg.text === 'string' ? msg.text : '';
  const media: OutboundMedia[] = [];
  for (const item of Array.isArray(msg.content) ? msg.content : []) {
    if (item?.contentType !== 'Attachment' || !item.attachment || typeof item.attachment !== 'object') continue;
    if (item.attachment.mediaType === 'Link') {
      if (isHttpUrl(item.attachment.url)) text = text.trim().length > 0 ? `${text}\n${item.attachment.url}` : item.attachment.url;
      continue;
    }
    const m = outboundMedia(item.attachment);
    if (m) media.push(m);
  }
  const hasText = text.trim().length > 0;
  if (hasText && media.length === 1 && media[0].kind !== 'audio' && text.length <= MAX_META_CAPTION) {
    return [mediaSend(to, media[0], text)];
  }
  const sends: MetaSendBody[] = [];
  if (hasText) {
    for (const body of splitText(text)) {
      sends.push({ messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body, preview_url: URL_IN_TEXT.test(body) } });
    }
  }
  for (const m of media) sends.push(mediaSend(to, m));
  return sends;
}

/**
 * The Failed receipt for an agent's message that will not reach WhatsApp (refused for good, or
 * out of retries), so the agent sees it: final, with Meta's error (`metaCode` when Meta gave one,
 * and `message`) as the reason. `time`: when it was given up.
 */
export function agentFailedReceipt(
  message: { genesysMessageId: string; waId: string },
  error: { metaCode?: number; message: string },
  time = new Date(),
): GenesysReceipt {
  return {
    id: message.genesysMessageId,
    channel: { to: { id: message.waId, idType: 'Phone' }, time: time.toISOString() },
    status: 'Failed',
    direction: 'Outbound',
    isFinalReceipt: true,
    reasons: [metaErrorToReason(error.metaCode, error.message)],
  };
}
