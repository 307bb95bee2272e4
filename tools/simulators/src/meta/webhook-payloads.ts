/**
 * Builders for the webhook payloads Meta POSTs to us: one builder per inbound message type in the
 * reference table, one for statuses, and `batch` to combine several into one POST (several
 * `changes` for several numbers of one WABA, several `entry` for several WABAs). Shapes follow
 * the reference and the pywa fixtures in /work/shared/fixtures/meta-pywa.
 */
import { randomBytes } from 'node:crypto';

export interface MetaWebhookPayload {
  object: 'whatsapp_business_account';
  entry: MetaWebhookEntry[];
}

export interface MetaWebhookEntry {
  /** WABA id. */
  id: string;
  changes: MetaWebhookChange[];
}

export interface MetaWebhookChange {
  field: 'messages';
  value: MetaWebhookValue;
}

export interface MetaWebhookValue {
  messaging_product: 'whatsapp';
  metadata: { display_phone_number: string; phone_number_id: string };
  /** Messages: the sender. Statuses (sent, delivered, read; never failed): the recipient. */
  contacts?: MetaWebhookContact[];
  messages?: MetaInboundMessage[];
  statuses?: MetaStatus[];
  errors?: MetaErrorObject[];
}

export interface MetaWebhookContact {
  /** `username`: the user's WhatsApp username, when they adopted one (messages, delivered and read statuses). */
  profile?: { name?: string; username?: string };
  /** The phone number; absent for a user who hides it behind a username. */
  wa_id?: string;
  /** The business-scoped user id (BSUID). */
  user_id?: string;
  /** The parent BSUID (`CC.ENT.…`), when parent BSUIDs are enabled. */
  parent_user_id?: string;
}

export interface MetaErrorObject {
  code: number;
  title: string;
  message?: string;
  error_data?: { details: string };
  href?: string;
}

export interface MetaInboundMessage {
  from?: string;
  from_user_id?: string;
  id: string;
  timestamp: string;
  type: string;
  context?: MessageContext;
  errors?: MetaErrorObject[];
  [body: string]: unknown;
}

export interface MetaStatus {
  id: string;
  status: MetaStatusValue;
  timestamp: string;
  /** The user's phone number; absent when the message went to a BSUID and no number is shown. */
  recipient_id?: string;
  /** The user's business-scoped user id. */
  recipient_user_id?: string;
  errors?: MetaErrorObject[];
  conversation?: { id: string; expiration_timestamp?: string; origin: { type: string } };
  pricing?: { billable: boolean; pricing_model: string; category: string };
  biz_opaque_callback_data?: string;
}

export type MetaStatusValue = 'sent' | 'delivered' | 'read' | 'failed' | 'played';

export interface MessageContext {
  from?: string;
  id?: string;
  forwarded?: boolean;
  frequently_forwarded?: boolean;
}

/** What every inbound-message builder takes. */
export interface InboundMessageOptions {
  /** The business number the message was sent to (selects the tenant). */
  phoneNumberId: string;
  /** Default "15550000000". */
  displayPhoneNumber?: string;
  /** Default DEFAULT_WABA_ID. */
  wabaId?: string;
  /** The user's wa_id; default "16505551234". null = a payload without a phone number (it happens). */
  from?: string | null;
  /** `contacts[].profile.name`; default "Test User"; null = no profile. */
  profileName?: string | null;
  /** Business-scoped user id: sets `contacts[].user_id` and `messages[].from_user_id`. */
  userId?: string;
  /** `contacts[].profile.username`: a user who adopted a username (pass `from: null` when they hide their number). */
  username?: string;
  /** `contacts[].parent_user_id`: the parent BSUID (`CC.ENT.…`). */
  parentUserId?: string;
  /** No `contacts` array at all (it may be absent). */
  omitContacts?: boolean;
  /** Default: a new unique wamid. */
  wamid?: string;
  /** Unix seconds (number or string) or a Date; default now. */
  timestamp?: number | string | Date;
  /** Reply / forward context. */
  context?: MessageContext;
}

export const DEFAULT_WABA_ID = '102290129340398';
export const DEFAULT_DISPLAY_PHONE_NUMBER = '15550000000';
export const DEFAULT_USER_WA_ID = '16505551234';

/**
 * A new message id shaped like Meta's (`wamid.` + base64, which may contain `+`, `/` and `=`),
 * unique per call.
 */
export function newWamid(): string {
  return `wamid.HBgL${randomBytes(30).toString('base64')}`;
}

function unixSeconds(ts: InboundMessageOptions['timestamp']): string {
  if (ts === undefined) return String(Math.floor(Date.now() / 1000));
  if (ts instanceof Date) return String(Math.floor(ts.getTime() / 1000));
  return String(ts);
}

function envelope(
  o: { phoneNumberId: string; displayPhoneNumber?: string; wabaId?: string },
  value: Omit<MetaWebhookValue, 'messaging_product' | 'metadata'>,
): MetaWebhookPayload {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: o.wabaId ?? DEFAULT_WABA_ID,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: o.displayPhoneNumber ?? DEFAULT_DISPLAY_PHONE_NUMBER,
                phone_number_id: o.phoneNumberId,
              },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

/** Wraps one message of `type` with body `typeBody` (omitted when undefined) in a full payload. */
export function buildInboundMessage(
  o: InboundMessageOptions,
  type: string,
  typeBody: unknown,
  extra: Record<string, unknown> = {},
): MetaWebhookPayload {
  const from = o.from === undefined ? DEFAULT_USER_WA_ID : o.from;
  const profileName = o.profileName === undefined ? 'Test User' : o.profileName;
  const contact: MetaWebhookContact = {};
  if (profileName !== null || o.username) {
    contact.profile = {
      ...(profileName !== null ? { name: profileName } : {}),
      ...(o.username ? { username: o.username } : {}),
    };
  }
  if (from !== null) contact.wa_id = from;
  if (o.userId) contact.user_id = o.userId;
  if (o.parentUserId) contact.parent_user_id = o.parentUserId;
  const message: MetaInboundMessage = {
    ...(o.context ? { context: o.context } : {}),
    ...(from !== null ? { from } : {}),
    ...(o.userId ? { from_user_id: o.userId } : {}),
    id: o.wamid ?? newWamid(),
    timestamp: unixSeconds(o.timestamp),
    type,
    ...(typeBody !== undefined ? { [type]: typeBody } : {}),
    ...extra,
  };
  return envelope(o, {
    ...(o.omitContacts || Object.keys(contact).length === 0 ? {} : { contacts: [contact] }),
    messages: [message],
  });
}

export function buildTextMessage(o: InboundMessageOptions & { body: string }): MetaWebhookPayload {
  return buildInboundMessage(o, 'text', { body: o.body });
}

export type MetaMediaKind = 'image' | 'video' | 'audio' | 'document' | 'sticker';

export interface MediaMessageOptions extends InboundMessageOptions {
  mediaId: string;
  mimeType: string;
  /** Base64 SHA-256 of the file, as in webhooks; default random. */
  sha256?: string;
  caption?: string;
  /** Documents. */
  filename?: string;
  /** Audio: a voice note. */
  voice?: boolean;
  /** Stickers. */
  animated?: boolean;
  /** Newer payloads may carry a URL too. */
  url?: string;
}

export function buildMediaMessage(o: MediaMessageOptions & { mediaType: MetaMediaKind }): MetaWebhookPayload {
  const media: Record<string, unknown> = {};
  if (o.caption !== undefined) media.caption = o.caption;
  if (o.filename !== undefined) media.filename = o.filename;
  media.mime_type = o.mimeType;
  media.sha256 = o.sha256 ?? randomBytes(32).toString('base64');
  media.id = o.mediaId;
  if (o.url !== undefined) media.url = o.url;
  if (o.voice !== undefined) media.voice = o.voice;
  if (o.animated !== undefined) media.animated = o.animated;
  return buildInboundMessage(o, o.mediaType, media);
}

export const buildImageMessage = (o: MediaMessageOptions): MetaWebhookPayload => buildMediaMessage({ ...o, mediaType: 'image' });
export const buildVideoMessage = (o: MediaMessageOptions): MetaWebhookPayload => buildMediaMessage({ ...o, mediaType: 'video' });
export const buildAudioMessage = (o: MediaMessageOptions): MetaWebhookPayload => buildMediaMessage({ ...o, mediaType: 'audio' });
export const buildDocumentMessage = (o: MediaMessageOptions): MetaWebhookPayload =>
  buildMediaMessage({ ...o, mediaType: 'document' });
export const buildStickerMessage = (o: MediaMessageOptions): MetaWebhookPayload =>
  buildMediaMessage({ ...o, mediaType: 'sticker' });

export function buildLocationMessage(
  o: InboundMessageOptions & { latitude: number; longitude: number; name?: string; address?: string; url?: string },
): MetaWebhookPayload {
  const location: Record<string, unknown> = { latitude: o.latitude, longitude: o.longitude };
  if (o.name !== undefined) location.name = o.name;
  if (o.address !== undefined) location.address = o.address;
  if (o.url !== undefined) location.url = o.url;
  return buildInboundMessage(o, 'location', location);
}

export interface SharedContact {
  name: { formatted_name: string; first_name?: string; last_name?: string };
  phones?: Array<{ phone: string; wa_id?: string; type?: string }>;
  emails?: Array<{ email: string; type?: string }>;
  [more: string]: unknown;
}

export function buildContactsMessage(o: InboundMessageOptions & { contacts?: SharedContact[] }): MetaWebhookPayload {
  const contacts = o.contacts ?? [
    {
      name: { first_name: 'Chandler', last_name: 'Bing', formatted_name: 'Chandler Bing' },
      phones: [{ phone: '+1 555-555-5555', wa_id: '15555555555', type: 'CELL' }],
    },
  ];
  return buildInboundMessage(o, 'contacts', contacts);
}

/** An interactive reply button tap. */
export function buildButtonReplyMessage(o: InboundMessageOptions & { replyId: string; title: string }): MetaWebhookPayload {
  return buildInboundMessage(o, 'interactive', { type: 'button_reply', button_reply: { id: o.replyId, title: o.title } });
}

/** An interactive list row choice. */
export function buildListReplyMessage(
  o: InboundMessageOptions & { replyId: string; title: string; description?: string },
): MetaWebhookPayload {
  const listReply: Record<string, unknown> = { id: o.replyId, title: o.title };
  if (o.description !== undefined) listReply.description = o.description;
  return buildInboundMessage(o, 'interactive', { type: 'list_reply', list_reply: listReply });
}

/** A template quick-reply button tap (`type: "button"`). */
export function buildButtonMessage(o: InboundMessageOptions & { payload: string; text: string }): MetaWebhookPayload {
  return buildInboundMessage(o, 'button', { payload: o.payload, text: o.text });
}

/** A reaction; `emoji: ""` or `emoji: null` (field absent) means the reaction was removed. */
export function buildReactionMessage(
  o: InboundMessageOptions & { messageId: string; emoji?: string | null },
): MetaWebhookPayload {
  const reaction: Record<string, unknown> = { message_id: o.messageId };
  const emoji = o.emoji === undefined ? '\u{1F44D}' : o.emoji;
  if (emoji !== null) reaction.emoji = emoji;
  return buildInboundMessage(o, 'reaction', reaction);
}

/** A message type the Cloud API does not support (error 131051). */
export function buildUnsupportedMessage(o: InboundMessageOptions & { unsupportedType?: string }): MetaWebhookPayload {
  return buildInboundMessage(o, 'unsupported', o.unsupportedType ? { type: o.unsupportedType } : undefined, {
    errors: [
      {
        code: 131051,
        title: 'Message type unknown',
        message: 'Message type unknown',
        error_data: { details: 'Message type is currently not supported.' },
      },
    ],
  });
}

/**
 * The system message Meta sends when a customer changes their phone number: from the old number
 * (`from`, default "16505551234"), the new one in `system.wa_id`. Shaped as Meta's "System messages
 * webhook reference" (2026) shows it: no `contacts` array, `system.type` "user_changed_number",
 * and a body naming both numbers.
 */
export function buildNumberChangeMessage(o: InboundMessageOptions & { newWaId: string }): MetaWebhookPayload {
  const from = o.from ?? DEFAULT_USER_WA_ID;
  const name = o.profileName ?? 'Test User';
  return buildInboundMessage({ ...o, from, omitContacts: true }, 'system', {
    body: `User ${name} changed from ${from} to ${o.newWaId}`,
    wa_id: o.newWaId,
    type: 'user_changed_number',
  });
}

export interface StatusOptions {
  phoneNumberId: string;
  displayPhoneNumber?: string;
  wabaId?: string;
  /** The wamid of our outbound message. */
  wamid: string;
  status: MetaStatusValue;
  /** The user's wa_id; default "16505551234"; null: none (a message sent to a BSUID, whose number is not shown). */
  recipientId?: string | null;
  /**
   * The user's business-scoped user id: `recipient_user_id`, and (on sent, delivered and read
   * statuses, which carry the recipient as a contact; failed ones do not) `contacts[]` with
   * `user_id`, the `wa_id` when there is one and `profile.username` when given.
   */
  recipientUserId?: string;
  /** With recipientUserId: the user's username, on delivered and read statuses. */
  username?: string;
  timestamp?: number | string | Date;
  /** For `failed`; default one 131047 (re-engagement) error. */
  errors?: MetaErrorObject[];
  /** Conversation and pricing blocks (not on failed statuses); default true. */
  withPricing?: boolean;
  bizOpaqueCallbackData?: string;
}

export function buildStatus(o: StatusOptions): MetaWebhookPayload {
  const recipientId = o.recipientId === undefined ? DEFAULT_USER_WA_ID : o.recipientId;
  const status: MetaStatus = {
    id: o.wamid,
    status: o.status,
    timestamp: unixSeconds(o.timestamp),
    ...(recipientId !== null ? { recipient_id: recipientId } : {}),
    ...(o.recipientUserId ? { recipient_user_id: o.recipientUserId } : {}),
  };
  if (o.bizOpaqueCallbackData !== undefined) status.biz_opaque_callback_data = o.bizOpaqueCallbackData;
  if (o.status === 'failed') {
    status.errors = o.errors ?? [
      {
        code: 131047,
        title: 'Re-engagement message',
        message: 'Re-engagement message',
        error_data: {
          details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
        },
        href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
      },
    ];
  } else {
    if (o.errors) status.errors = o.errors;
    if (o.withPricing !== false) {
      status.conversation = { id: randomBytes(15).toString('hex'), origin: { type: 'service' } };
      status.pricing = { billable: true, pricing_model: 'CBP', category: 'service' };
    }
  }
  const contacts: MetaWebhookContact[] | undefined =
    o.recipientUserId && o.status !== 'failed'
      ? [
          {
            ...(o.username && (o.status === 'delivered' || o.status === 'read') ? { profile: { username: o.username } } : {}),
            ...(recipientId !== null ? { wa_id: recipientId } : {}),
            user_id: o.recipientUserId,
          },
        ]
      : undefined;
  return envelope(o, { ...(contacts ? { contacts } : {}), statuses: [status] });
}

/** A `failed` status with one error of `code` (default 131047). */
export function buildFailedStatus(
  o: Omit<StatusOptions, 'status'> & { errorCode?: number; errorTitle?: string; errorDetails?: string },
): MetaWebhookPayload {
  const errors =
    o.errors ??
    (o.errorCode !== undefined
      ? [
          {
            code: o.errorCode,
            title: o.errorTitle ?? `Error ${o.errorCode}`,
            message: o.errorTitle ?? `Error ${o.errorCode}`,
            error_data: { details: o.errorDetails ?? `Simulated error ${o.errorCode}` },
          },
        ]
      : undefined);
  return buildStatus({ ...o, status: 'failed', errors });
}

/**
 * Combines payloads into one POST. Changes of the same WABA share one `entry`; changes of the
 * same phone number are merged into one `value` (messages, statuses and errors concatenated,
 * contacts de-duplicated by wa_id) — unless `separateChanges` keeps one change per input.
 */
export function batch(payloads: MetaWebhookPayload[], options: { separateChanges?: boolean } = {}): MetaWebhookPayload {
  const entries: MetaWebhookEntry[] = [];
  for (const payload of payloads) {
    for (const entry of payload.entry) {
      let target = entries.find((e) => e.id === entry.id);
      if (!target) {
        target = { id: entry.id, changes: [] };
        entries.push(target);
      }
      for (const change of entry.changes) {
        const same = options.separateChanges
          ? undefined
          : target.changes.find((c) => c.value.metadata.phone_number_id === change.value.metadata.phone_number_id);
        if (!same) {
          target.changes.push(structuredClone(change));
          continue;
        }
        const into = same.value;
        const from = change.value;
        for (const key of ['messages', 'statuses', 'errors'] as const) {
          if (from[key]) into[key] = [...((into[key] ?? []) as never[]), ...(structuredClone(from[key]) as never[])];
        }
        for (const contact of from.contacts ?? []) {
          into.contacts ??= [];
          const known = into.contacts.some(
            (c) => (contact.wa_id !== undefined && c.wa_id === contact.wa_id) || (contact.user_id !== undefined && c.user_id === contact.user_id),
          );
          if (!known) into.contacts.push(structuredClone(contact));
        }
      }
    }
  }
  return { object: 'whatsapp_business_account', entry: entries };
}

/** The wamid of the first message (or status) in a payload. */
export function wamidOf(payload: MetaWebhookPayload): string {
  const value = payload.entry[0]?.changes[0]?.value;
  const id = value?.messages?.[0]?.id ?? value?.statuses?.[0]?.id;
  if (!id) throw new Error('wamidOf: payload has no message or status');
  return id;
}
