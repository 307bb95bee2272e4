/**
 * Genesys Cloud Open Messaging shapes as the bridge sends and receives them (facts:
 * shared/reference/genesys-open-messaging.md): the inbound message and receipt bodies we POST,
 * and the body Genesys POSTs to our outbound webhook.
 */

export type GenesysIdType = 'Phone' | 'Email' | 'Opaque';
export type GenesysMediaType = 'Image' | 'Video' | 'Audio' | 'File' | 'Link';

/** An attachment we send inbound: `url` is our signed link (Genesys fetches it), `mime` a bare type. */
export interface GenesysAttachment {
  mediaType: GenesysMediaType;
  url: string;
  mime: string;
  filename?: string;
}

/** Inbound `content[]` supports attachments only; anything richer reaches the agent as text. */
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

/**
 * The failure reasons the receipt endpoint accepts (genesys-open-messaging.md, Receipts; the Genesys
 * simulator refuses any other).
 */
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

/** Why a message failed, as a Failed receipt carries it. */
export interface GenesysReason {
  code: GenesysReasonCode;
  message: string;
}

/** Body of `POST .../{integrationId}/inbound/open/receipt`. */
export interface GenesysReceipt {
  id: string;
  channel: { to: { id: string; idType: GenesysIdType }; time: string };
  status: 'Delivered' | 'Failed';
  direction: 'Outbound';
  isFinalReceipt: boolean;
  reasons?: GenesysReason[];
}

/**
 * One `content[]` item of an outbound message. Agents send `Attachment`s; bot flows
 * (`type: "Structured"`, `originatingEntity: "Bot"`) also send `QuickReply`, `Card`,
 * `Carousel` and, rarely, `QuickReplyV2`, `ListTemplate` (list picker) and `DatePicker` — each
 * with its object under the lower-camel name (`quickReply`, `card`, ...). Shapes: the platform
 * SDK's MessageContent models (README, "Reference notes: structured messages").
 */
export interface GenesysOutboundContent {
  contentType?: string;
  attachment?: GenesysOutboundAttachment;
  quickReply?: GenesysQuickReply;
  quickReplyV2?: { title?: string; actions?: GenesysQuickReply[] };
  card?: GenesysCard;
  carousel?: { cards?: GenesysCard[] };
  list?: GenesysList;
  datePicker?: GenesysDatePicker;
  [k: string]: unknown;
}

/** ContentQuickReply: `text` is shown and is also the customer's answer; `payload` is for the bot. */
export interface GenesysQuickReply {
  text?: string;
  payload?: string;
  image?: string;
  action?: string;
}

/** ContentCardAction: `Postback` (text + payload, answered like a quick reply) or `Link` (text + url). */
export interface GenesysCardAction {
  type?: string;
  text?: string;
  payload?: string;
  url?: string;
}

/** ContentCard: a title, description, image or video, and actions (buttons). */
export interface GenesysCard {
  title?: string;
  description?: string;
  image?: string;
  video?: string;
  defaultAction?: GenesysCardAction;
  actions?: GenesysCardAction[];
}

/** ContentList (deprecated `ListTemplate`, a list picker): items with a textback payload or a URL. */
export interface GenesysList {
  title?: string;
  description?: string;
  submitLabel?: string;
  components?: Array<{ id?: string; title?: string; description?: string; image?: string; actions?: { url?: string; textback?: string } }>;
}

/** ContentDatePicker: times to choose from; the answer's text and payload are the chosen `dateTime`. */
export interface GenesysDatePicker {
  title?: string;
  subtitle?: string;
  availableTimes?: Array<{ dateTime?: string; duration?: number }>;
}

/** Body Genesys POSTs to our outbound webhook (agent reply, typing event, receipt). */
export interface GenesysOutboundMessage {
  id: string;
  type: string;
  text?: string;
  content?: GenesysOutboundContent[];
  channel?: { to?: { id?: string }; [k: string]: unknown };
  direction?: string;
  originatingEntity?: string;
  [k: string]: unknown;
}

/** An attachment in an agent message: Genesys hosts it at `url`. */
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
