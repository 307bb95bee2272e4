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
