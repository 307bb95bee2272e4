/**
 * Pure translations between WhatsApp Cloud API payloads and Genesys Cloud Open Messaging bodies.
 * No I/O: the callers fetch, store and send. See shared/reference for the facts each rule follows.
 *
 * - meta-types.ts, genesys-types.ts: each provider's shapes.
 * - inbound.ts: a WhatsApp message → a Genesys inbound message.
 * - outbound.ts: a Genesys agent message → WhatsApp sends.
 * - receipts.ts: WhatsApp statuses → Genesys receipts.
 * - meta-errors.ts: the one table of Meta error codes (Genesys reason, agent text, retry or not).
 * - common.ts: limits, text, MIME and time helpers both directions use.
 */

export * from './meta-types';
export * from './genesys-types';
export { MAX_GENESYS_TEXT, MAX_META_CAPTION, MAX_META_TEXT, UnmappableMessage, baseMime, truncateText } from './common';
export { metaMessageToGenesys, type InboundContext } from './inbound';
export { genesysOutboundToMetaSends, splitText } from './outbound';
export { agentFailedReceipt, metaStatusToGenesysReceipt } from './receipts';
export { META_ERRORS, classifyMetaError, lookupMetaError, metaErrorToReason, type MetaErrorClass, type MetaErrorEntry } from './meta-errors';
