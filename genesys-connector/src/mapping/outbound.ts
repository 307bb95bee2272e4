/**
 * Outbound: one Genesys agent or bot message (the body Genesys POSTs to our outbound webhook) →
 * the WhatsApp sends that carry it, in order. Pure: the caller sends them with the tenant's token.
 * Facts: shared/reference/genesys-open-messaging.md (outbound body, 4000-character agent text) and
 * shared/reference/whatsapp-cloud-api.md (send bodies, 4096-character text, 1024-character captions).
 * A bot's quick replies, cards and carousels are rendered by structured.ts.
 */

import { isBsuid, isWhatsAppPhone } from '@bridge/shared';
import { MAX_META_CAPTION, UnmappableMessage, baseMime, cleanFilename, extensionFor, isHttpUrl, textSends } from './common';
import type { GenesysOutboundAttachment, GenesysOutboundMessage } from './genesys-types';
import type { MetaMediaRef, MetaSendBody } from './meta-types';
import { renderStructured, structuredBlocks, type OfferedChoice } from './structured';

/** MIME types WhatsApp accepts per media type; anything else is sent as a document. */
const WHATSAPP_MIMES: Record<'image' | 'video' | 'audio', string[]> = {
  image: ['image/jpeg', 'image/png'],
  video: ['video/mp4', 'video/3gpp'],
  audio: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'],
};

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

/** The sends of one Genesys message, and the choices they offer the customer (structured.ts). */
export interface OutboundPlan {
  sends: MetaSendBody[];
  /**
   * Every choice offered (quick replies, card buttons, list items), with the send that offers it
   * and, in a numbered text, its number. Empty for a message without choices. The delivery keeps
   * it to map the customer's answer back (InboundContext.choices).
   */
  choices: OfferedChoice[];
}

/**
 * The WhatsApp sends for one Genesys message, in order, and the choices they offer. Only `Text`
 * and `Structured` messages produce sends; receipts and events give none. Attachments without an
 * http(s) URL are skipped; `Link` attachments are sent as their URL in the text. Without
 * structured content: the text (split at 4096), then each attachment; with exactly one
 * attachment, and that one an image, video or document, text of at most 1024 characters becomes
 * its caption. With structured content (a bot's quick replies, cards, carousel, list or date
 * picker): the text first unless quick replies carry it, the attachments, then each block as
 * structured.ts renders it.
 */
export function genesysOutboundPlan(msg: GenesysOutboundMessage, to: string): OutboundPlan {
  if (!msg || (msg.type !== 'Text' && msg.type !== 'Structured')) return { sends: [], choices: [] };
  let text = typeof msg.text === 'string' ? msg.text : '';
  const content = Array.isArray(msg.content) ? msg.content : [];
  const media: OutboundMedia[] = [];
  for (const item of content) {
    if (item?.contentType !== 'Attachment' || !item.attachment || typeof item.attachment !== 'object') continue;
    if (item.attachment.mediaType === 'Link') {
      if (isHttpUrl(item.attachment.url)) text = text.trim().length > 0 ? `${text}\n${item.attachment.url}` : item.attachment.url;
      continue;
    }
    const m = outboundMedia(item.attachment);
    if (m) media.push(m);
  }
  const { blocks, quickReplies } = structuredBlocks(content);
  if (blocks.length > 0 || quickReplies) {
    return renderStructured({ text, blocks, quickReplies, before: media.map((m) => mediaSend(to, m)) }, to);
  }
  const hasText = text.trim().length > 0;
  if (hasText && media.length === 1 && media[0].kind !== 'audio' && text.length <= MAX_META_CAPTION) {
    return { sends: [mediaSend(to, media[0], text)], choices: [] };
  }
  const sends: MetaSendBody[] = hasText ? textSends(text, to) : [];
  for (const m of media) sends.push(mediaSend(to, m));
  return { sends, choices: [] };
}

/** The sends of genesysOutboundPlan, without the choices. */
export function genesysOutboundToMetaSends(msg: GenesysOutboundMessage, to: string): MetaSendBody[] {
  return genesysOutboundPlan(msg, to).sends;
}

/** A send as it goes to Meta: the customer in `to` (a phone number) or in `recipient` (a BSUID). */
export type MetaAddressedSend = Omit<MetaSendBody, 'to'> & ({ to: string; recipient?: never } | { recipient: string; to?: never });

/**
 * The send as Meta takes it. Every send body names its customer in `to` as the mappings build
 * it; a phone number stays there, a business-scoped user id (BSUID, parent BSUIDs included) goes
 * in `recipient` instead, since Meta refuses a BSUID in `to` (and with both, `to` wins). Source:
 * shared/reference/whatsapp-cloud-api.md, "Usernames and business-scoped user ids". Throws
 * UnmappableMessage when the customer id is neither (the one rule: shared/src/ids.ts).
 */
export function addressedSend(body: MetaSendBody): MetaAddressedSend {
  if (isWhatsAppPhone(body.to)) return body as MetaAddressedSend;
  if (isBsuid(body.to)) {
    const { to, ...rest } = body;
    return { ...rest, recipient: to } as MetaAddressedSend;
  }
  throw new UnmappableMessage('The customer id is neither a WhatsApp phone number nor a business-scoped user id');
}
