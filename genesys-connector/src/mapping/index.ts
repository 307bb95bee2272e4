/**
 * Pure translations between WhatsApp Cloud API payloads and Genesys Cloud Open Messaging bodies.
 * No I/O: the callers fetch, store and send. See shared/reference for the facts each rule follows.
 *
 * - meta-types.ts, genesys-types.ts: each provider's shapes.
 * - inbound.ts: a WhatsApp message → a Genesys inbound message (in parts when its text is long).
 * - outbound.ts: a Genesys agent or bot message → WhatsApp sends (its parts) and the choices offered.
 * - structured.ts: a bot's quick replies, cards, carousels, list and date pickers → interactive sends.
 * - receipts.ts: WhatsApp statuses of a reply's parts → Genesys receipts for the whole reply.
 * - templates.ts: the agent's `/template` command, template parameter text, and what the agent
 *   is told once the customer's 24-hour window has closed.
 * - meta-errors.ts: the one table of Meta error codes (Genesys reason, agent text, retry or not),
 *   and the one way a Meta error is written (describeMetaError).
 * - common.ts: limits, text splitting, MIME and time helpers both directions use.
 */

export * from './meta-types';
export * from './genesys-types';
export { MAX_GENESYS_TEXT, MAX_META_CAPTION, MAX_META_TEXT, UnmappableMessage, baseMime, isHttpUrl, splitText, truncateText } from './common';
export { inboundParts, metaMessageToGenesys, numberChangeOf, type InboundContext } from './inbound';
export { addressedSend, genesysOutboundPlan, genesysOutboundToMetaSends, type MetaAddressedSend, type OutboundPlan } from './outbound';
export { WHATSAPP_INTERACTIVE, type OfferedChoice } from './structured';
export { agentTemplateCommand, hasAttachments, reopenTemplateOf, templateHowTo, templateParameterText, windowClosedReason, windowClosedSentence } from './templates';
export {
  advanceStatus,
  agentFailedReceipt,
  buildReceipt,
  failureReason,
  overallStatus,
  partLabel,
  receiptDue,
  statusReceipt,
  type PartRef,
  type ReceiptDue,
  type ReceiptTarget,
  type ReceiptsPosted,
} from './receipts';
export {
  META_ERRORS,
  META_PAIR_INTERVAL_MS,
  classifyMetaError,
  describeMetaError,
  lookupMetaError,
  metaErrorText,
  metaErrorToReason,
  type MetaErrorClass,
  type MetaErrorEntry,
  type MetaErrorText,
} from './meta-errors';
