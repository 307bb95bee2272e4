/**
 * Inbound: one WhatsApp message (a webhook's `value.messages[]` item) → the body of Genesys'
 * inbound message endpoint. Pure: the caller resolves the tenant, signs media URLs and sends.
 * Facts: shared/reference/whatsapp-cloud-api.md (message types) and
 * shared/reference/genesys-open-messaging.md (inbound body, attachments only in `content[]`).
 *
 * Choices where the references are silent:
 * - Text is never cut: `inboundParts` splits a body whose text is over MAX_GENESYS_TEXT (4000)
 *   UTF-16 units into several messages, in order (see there).
 * - Attachment `mime` is Meta's `mime_type` without parameters (`audio/ogg; codecs=opus` →
 *   `audio/ogg`), lower-cased: the bare type is what Genesys' allow-lists compare against.
 * - Genesys has no location, contact, reaction, order or interactive type: these become text an
 *   agent can read, with machine-readable details in `channel.metadata.customAttributes` (all
 *   strings — Genesys refuses nested values there).
 * - A choice (a reply button or list row tapped, a template's quick reply button, or a number
 *   typed to answer a numbered text, see structured.ts) becomes its title as text, so that a bot
 *   matching on the text works, with `replyType` (`button_reply`, `list_reply`, `button`,
 *   `typed_number`), `replyId` (the WhatsApp id) and `replyPayload` (the Genesys payload the bot
 *   flow branches on) as custom attributes. The payload is the id itself unless `ctx.choices`
 *   says otherwise; for a generated id (`option-<n>`) without `ctx.choices` it is unknown and left out.
 * - `channel.from.id` is the customer's key (`ctx.waId`: their phone number, or the BSUID of a
 *   customer first seen without one), so that Genesys keeps one conversation per customer
 *   whichever ids a later message carries; without it, `message.from`, else the business-scoped
 *   user id (`from_user_id`, else `ctx.userId`); else UnmappableMessage. `idType` is `Phone` for a
 *   phone number, `Opaque` for a BSUID. The nickname is the username when there is one. The
 *   BSUID is the `waUserId` attribute, the username `waUsername`, and the number they write from
 *   `waId` when Genesys knows them by another id.
 *   A customer who changed number keeps the id Genesys knows them by (`ctx.genesysId`), so that
 *   their Genesys conversation continues; the number they write from is then the `waId`
 *   attribute, and the id Genesys knows the `previousWaId` attribute. A number change itself
 *   (`system` message, `user_changed_number`) carries both numbers the same way.
 */

import { genesysIdType, isBsuid, isWhatsAppPhone } from '@bridge/shared';
import { MAX_GENESYS_TEXT, UnmappableMessage, baseMime, cleanFilename, extensionFor, nonEmpty, splitText, unixToIso } from './common';
import type { GenesysContent, GenesysInboundMessage, GenesysMediaType } from './genesys-types';
import { describeMetaError, metaErrorText } from './meta-errors';
import type { MetaErrorObject, MetaMessage, MetaSharedContact } from './meta-types';
import type { OfferedChoice } from './structured';

/** Custom attribute values are kept short; only ids and URLs go there. */
const MAX_ATTRIBUTE = 1000;

/**
 * What the caller knows besides the message: the tenant, the webhook's `value.contacts[]` entry for
 * the sender, and how to link a media id (Genesys fetches attachments itself, from our URL).
 */
export interface InboundContext {
  tenantId: string;
  /**
   * The customer's key (`message_tracking.wa_id`): the id the bridge first knew them by, their
   * phone number or, for a customer first seen without one, their business-scoped user id. Unless
   * they changed number (`genesysId`), Genesys knows them by it, whichever ids this message carries.
   */
  waId: string | undefined;
  /** The business-scoped user id (`contacts[].user_id`), when the message carries no `from_user_id`. */
  userId?: string;
  /** The sender's WhatsApp profile name; split into firstName/lastName, the nickname when they have no username. */
  profileName?: string;
  /** The sender's WhatsApp username (`contacts[].profile.username`): the nickname when present. */
  username?: string;
  /**
   * The id Genesys knows this customer by, when it is not the number they write from (they
   * changed number: their conversation is keyed by the old one).
   */
  genesysId?: string;
  /**
   * The message's time as stored (ISO 8601): Meta's `timestamp` made plausible by the webhook
   * (webhook-service ingest/time.ts). Preferred to the payload's, so that a message whose own
   * timestamp is not usable still reaches the agent, at the time it was stored with.
   */
  time?: string;
  /** Builds our signed, expiring URL for a Meta media id. */
  mediaUrl: (media: { mediaId: string; mimeType: string; filename?: string }) => string;
  /**
   * The choices the bridge offered this customer (OutboundPlan.choices): those of the message the
   * answer replies to (`context.id`), or else the latest ones offered as a numbered text. With
   * them a reply id maps back to its payload, and a typed number to its choice; an id not among
   * them (`[]`: the message answered offered this customer nothing) gets no payload. Undefined:
   * the message answered is not known, and an id that is not `option-<n>` is its own payload.
   */
  choices?: readonly OfferedChoice[];
}

/** Ids structured.ts makes up when a payload cannot be the id: only `ctx.choices` knows their payload. */
const GENERATED_CHOICE_ID = /^option-\d+$/;
/**
 * A text that is only a number ("2", " 2. ", "#2", "2)", "02"): an answer to a numbered text.
 * Its digits may be any script's decimal digits (`\p{Nd}`: a phone set to Arabic types "٢").
 */
const TYPED_NUMBER = /^\s*#?(\p{Nd}{1,3})\s*[.)]?\s*$/u;

/**
 * The first code point (the zero) of each run of ten decimal digits phones' keyboards type,
 * besides ASCII: Arabic-Indic, Extended Arabic-Indic (Persian, Urdu), N'Ko, Devanagari, Bengali,
 * Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam, Thai, Lao, Tibetan, Myanmar,
 * Khmer, Mongolian, full-width. A digit of another run is not read as a number.
 */
const DIGIT_ZEROS = [0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6, 0x0d66, 0x0e50, 0x0ed0, 0x0f20, 0x1040, 0x17e0, 0x1810, 0xff10];

/** The value of a typed number's digits (TYPED_NUMBER's group), or NaN when a digit is of no known run. */
function typedNumberValue(digits: string): number {
  let value = 0;
  for (const ch of digits) {
    const code = ch.codePointAt(0)!;
    const zero = code >= 0x30 && code <= 0x39 ? 0x30 : DIGIT_ZEROS.find((z) => code >= z && code <= z + 9);
    if (zero === undefined) return Number.NaN;
    value = value * 10 + (code - zero);
  }
  return value;
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

/**
 * The sender's names for Genesys: their WhatsApp username as the nickname when they have one
 * (what the agent knows them by: a customer with a username may show no number), else their
 * profile name; first and last name split from the profile name.
 */
function splitName(profileName: string | undefined, username?: string): { nickname?: string; firstName?: string; lastName?: string } {
  const name = profileName?.trim();
  const handle = username?.trim() || undefined;
  if (!name) return handle ? { nickname: handle } : {};
  const space = name.search(/\s/);
  if (space === -1) return { nickname: handle ?? name, firstName: name };
  return { nickname: handle ?? name, firstName: name.slice(0, space), lastName: name.slice(space + 1).trim() || undefined };
}

/** Meta's errors on a customer's message, each in Meta's own words (describeMetaError). */
function errorNotice(errors: MetaErrorObject[] | undefined): string[] {
  if (!Array.isArray(errors)) return [];
  return errors.map((e) => `[WhatsApp error: ${describeMetaError(typeof e?.code === 'number' ? e.code : undefined, metaErrorText(e))}]`);
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
 * message has no usable sender or id, or no usable timestamp (`ctx.time`, else its own).
 */
export function metaMessageToGenesys(message: MetaMessage, ctx: InboundContext): GenesysInboundMessage {
  if (!message || !nonEmpty(message.id)) throw new UnmappableMessage('Message has no id');
  const time = nonEmpty(ctx.time) ? ctx.time : unixToIso(message.timestamp, `Message ${message.id}`);

  const phone = nonEmpty(message.from) ? message.from : isWhatsAppPhone(ctx.waId) ? ctx.waId : undefined;
  const userId = nonEmpty(message.from_user_id)
    ? message.from_user_id
    : nonEmpty(ctx.userId)
      ? ctx.userId
      : isBsuid(ctx.waId) && ctx.waId !== phone
        ? ctx.waId
        : undefined;
  if (!phone && !userId) throw new UnmappableMessage(`Message ${message.id} has neither a phone number nor a user id`);
  const sender = phone ?? userId!;
  // Whoever they write as now, Genesys keeps knowing them by one id: the one it knows (they
  // changed number), else their key (the id they were first known by), else who writes.
  const changedNumber = nonEmpty(ctx.genesysId) && ctx.genesysId !== sender;
  const knownAs = changedNumber ? ctx.genesysId! : nonEmpty(ctx.waId) ? ctx.waId : sender;
  const from: GenesysInboundMessage['channel']['from'] = {
    id: knownAs,
    idType: genesysIdType(knownAs),
    ...splitName(ctx.profileName, ctx.username),
  };

  const type = nonEmpty(message.type) ? message.type : 'unknown';
  const attributes: Record<string, string | undefined> = { tenantId: ctx.tenantId, waMessageType: type };
  if (userId) attributes.waUserId = userId;
  if (nonEmpty(ctx.username)) attributes.waUsername = ctx.username;
  // The number they write from, when Genesys knows them by another id (an earlier number, or their BSUID).
  if (phone && knownAs !== phone) attributes.waId = phone;
  if (changedNumber) {
    attributes.waId = sender;
    attributes.previousWaId = knownAs;
  }
  const context = message.context;
  if (context && typeof context === 'object') {
    if (nonEmpty(context.id)) attributes.replyTo = context.id;
    if (context.forwarded === true || context.frequently_forwarded === true) attributes.forwarded = 'true';
    if (context.frequently_forwarded === true) attributes.frequentlyForwarded = 'true';
  }

  const texts: string[] = [];
  const content: GenesysContent[] = [];

  /** The customer chose `id` (a WhatsApp reply id): its payload from ctx.choices, else the id itself. */
  const chose = (replyType: string, id: string | undefined): void => {
    attributes.replyType = replyType;
    if (!nonEmpty(id)) return;
    attributes.replyId = id;
    // With the choices of the message answered known, only an id among them has a payload; without
    // them (a message the bridge did not record), an id that is not made up is its own payload.
    const offered = ctx.choices?.find((c) => c.id === id);
    const payload = offered ? offered.payload : ctx.choices || GENERATED_CHOICE_ID.test(id) ? undefined : id;
    if (payload !== undefined) attributes.replyPayload = payload;
  };

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
    case 'text': {
      const body = message.text?.body;
      const typed = typeof body === 'string' ? TYPED_NUMBER.exec(body) : null;
      const choice = typed ? ctx.choices?.find((c) => c.number === typedNumberValue(typed[1])) : undefined;
      if (choice) {
        texts.push(choice.title);
        chose('typed_number', choice.id);
        attributes.typedText = body;
      } else if (typeof body === 'string' && body.length > 0) {
        texts.push(body);
      }
      break;
    }
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
        chose('button_reply', i.button_reply.id);
      } else if (i?.type === 'list_reply' && i.list_reply) {
        const title = i.list_reply.title ?? i.list_reply.id ?? '[list reply]';
        texts.push(nonEmpty(i.list_reply.description) ? `${title}\n${i.list_reply.description}` : title);
        chose('list_reply', i.list_reply.id);
      } else if (i?.type === 'nfm_reply') {
        texts.push(flowResponseText(i.nfm_reply));
      } else {
        texts.push(unsupportedNotice(nonEmpty(i?.type) ? `interactive/${i.type}` : 'interactive'));
      }
      break;
    }
    case 'button':
      texts.push(nonEmpty(message.button?.text) ? message.button.text : (message.button?.payload ?? '[button reply]'));
      // A template's quick reply button: its payload is the template's, never one of our ids.
      attributes.replyType = 'button';
      if (nonEmpty(message.button?.payload)) attributes.buttonPayload = attributes.replyPayload = message.button.payload;
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
    case 'system': {
      texts.push(nonEmpty(message.system?.body) ? `[WhatsApp system message] ${message.system.body}` : '[WhatsApp system message]');
      const newNumber = numberChangeOf(message);
      if (newNumber) {
        attributes.waId = newNumber;
        attributes.previousWaId = phone;
      }
      if (nonEmpty(message.system?.type)) attributes.waSystemType = message.system.type;
      break;
    }
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
  if (texts.length > 0) body.text = texts.join('\n\n');
  if (content.length > 0) body.content = content;
  return body;
}

/**
 * The new number of a customer who changed number: a `system` message of type
 * `user_changed_number` (`customer_changed_number` in older webhooks) from their old number, the
 * new one in `system.wa_id` (`new_wa_id` up to webhook version 11). Undefined for anything else.
 * Source: Meta's "System messages webhook reference" (shared/reference/whatsapp-cloud-api.md).
 */
export function numberChangeOf(message: MetaMessage): string | undefined {
  if (message?.type !== 'system' || !nonEmpty(message.from)) return undefined;
  const system = message.system;
  if (system?.type !== 'user_changed_number' && system?.type !== 'customer_changed_number') return undefined;
  const next = [system.wa_id, system.new_wa_id].find(nonEmpty);
  return next && next !== message.from ? next : undefined;
}

/**
 * The messages that carry one inbound body to Genesys, in order: the body itself when its text
 * fits in `max` UTF-16 units, else one message per piece of the text (splitText: at line breaks or
 * spaces, never inside a character), so that nothing the customer wrote is cut. The first part
 * keeps the wamid as `channel.messageId` and any attachments; part k (k ≥ 2) is `<wamid>#k`, so
 * each is its own message to Genesys, timed 1 ms after the one before it so that Genesys shows
 * them in order. Each part has the custom attribute `messagePart` ("2/3").
 */
export function inboundParts(body: GenesysInboundMessage, max = MAX_GENESYS_TEXT): GenesysInboundMessage[] {
  if (body.text === undefined || body.text.length <= max) return [body];
  const pieces = splitText(body.text, max);
  // Nothing but whitespace: there is nothing to lose by sending less of it.
  if (pieces.length === 0) return [{ ...body, text: body.text.slice(0, max) }];
  const start = Date.parse(body.channel.time);
  return pieces.map((text, i) => {
    const part: GenesysInboundMessage = {
      channel: {
        ...body.channel,
        messageId: i === 0 ? body.channel.messageId : `${body.channel.messageId}#${i + 1}`,
        time: new Date(start + i).toISOString(),
        metadata: { customAttributes: { ...body.channel.metadata.customAttributes, messagePart: `${i + 1}/${pieces.length}` } },
      },
      text,
    };
    if (i === 0 && body.content) part.content = body.content;
    return part;
  });
}
