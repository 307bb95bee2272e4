/**
 * What Genesys' Open Messaging inbound API accepts on its three endpoints (`message`, `receipt`,
 * `event`): the body types, the enumerations, and validators that return every problem found
 * (empty = valid), field paths as in the body.
 */
import { isHttpUrl, isIsoDateTime, isNonEmptyString, isObject } from '../common';

export const GENESYS_ID_TYPES = ['Phone', 'Email', 'Opaque'] as const;
export const GENESYS_MEDIA_TYPES = ['Image', 'Video', 'Audio', 'File', 'Link'] as const;
/** `Delivered` and `Failed` are documented for the receipt endpoint; the SDK also lists the others. */
export const GENESYS_RECEIPT_STATUSES = ['Delivered', 'Failed', 'Sent', 'Published', 'Removed', 'Read'] as const;
export const GENESYS_FAILURE_REASONS = [
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

/** Genesys' documented request body limit. */
export const GENESYS_MAX_BODY_BYTES = 512_000;

export type GenesysIdType = (typeof GENESYS_ID_TYPES)[number];
export type GenesysMediaType = (typeof GENESYS_MEDIA_TYPES)[number];
export type GenesysReceiptStatus = (typeof GENESYS_RECEIPT_STATUSES)[number];
export type GenesysFailureReason = (typeof GENESYS_FAILURE_REASONS)[number];
export type GenesysEndpoint = 'message' | 'receipt' | 'event';

export interface GenesysParticipant {
  id: string;
  idType: GenesysIdType;
  nickname?: string;
  firstName?: string;
  lastName?: string;
  image?: string;
}

export interface GenesysAttachment {
  mediaType: GenesysMediaType;
  url: string;
  mime: string;
  filename?: string;
  id?: string;
  sha256?: string;
  contentSizeBytes?: number;
  text?: string;
}

export interface GenesysContent {
  contentType: 'Attachment';
  attachment: GenesysAttachment;
}

/** Body of `.../inbound/open/message` (`OpenInboundNormalizedMessage`). */
export interface GenesysInboundMessage {
  channel: {
    messageId?: string;
    time: string;
    from: GenesysParticipant;
    metadata?: { customAttributes?: Record<string, string> };
  };
  text?: string;
  content?: GenesysContent[];
  metadata?: Record<string, string>;
}

/** Body of `.../inbound/open/receipt` (`OpenInboundNormalizedReceipt`). */
export interface GenesysInboundReceipt {
  id: string;
  channel: { to: { id: string; idType: GenesysIdType }; time: string; messageId?: string };
  status: GenesysReceiptStatus;
  direction: 'Outbound';
  isFinalReceipt?: boolean;
  reasons?: Array<{ code: GenesysFailureReason; message?: string }>;
}

/** Body of `.../inbound/open/event` (`OpenInboundNormalizedEvent`). */
export interface GenesysInboundEvent {
  channel: { from: GenesysParticipant; time: string; messageId?: string };
  events: Array<{ eventType: 'Typing'; typing?: { type: 'On'; duration?: number } }>;
}

// ---------------------------------------------------------------------------------------------
// Validation

function checkParticipant(value: unknown, path: string, errors: string[]): void {
  if (!isObject(value)) {
    errors.push(`${path} is required`);
    return;
  }
  if (!isNonEmptyString(value.id)) errors.push(`${path}.id is required`);
  if (!GENESYS_ID_TYPES.includes(value.idType as GenesysIdType)) {
    errors.push(`${path}.idType must be one of ${GENESYS_ID_TYPES.join(', ')}`);
  }
  for (const key of ['nickname', 'firstName', 'lastName', 'image']) {
    if (value[key] !== undefined && typeof value[key] !== 'string') errors.push(`${path}.${key} must be a string`);
  }
}

function checkTime(value: unknown, path: string, errors: string[]): void {
  if (value === undefined) errors.push(`${path} is required`);
  else if (!isIsoDateTime(value)) errors.push(`${path} must be an ISO-8601 date-time`);
}

function checkStringMap(value: unknown, path: string, errors: string[]): void {
  if (!isObject(value)) {
    errors.push(`${path} must be an object`);
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') errors.push(`${path}.${key} must be a string (nested values are not allowed)`);
  }
}

export function validateInboundMessage(body: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const channel = body.channel;
  if (!isObject(channel)) return ['channel is required'];
  checkParticipant(channel.from, 'channel.from', errors);
  checkTime(channel.time, 'channel.time', errors);
  if (channel.messageId !== undefined && typeof channel.messageId !== 'string') {
    errors.push('channel.messageId must be a string');
  }
  if (channel.metadata !== undefined) {
    if (!isObject(channel.metadata)) errors.push('channel.metadata must be an object');
    else if (channel.metadata.customAttributes !== undefined) {
      checkStringMap(channel.metadata.customAttributes, 'channel.metadata.customAttributes', errors);
    }
  }
  if (body.metadata !== undefined) checkStringMap(body.metadata, 'metadata', errors);
  if (body.type !== undefined && body.type !== 'Text') errors.push('type must be "Text"');
  if (body.direction !== undefined && body.direction !== 'Inbound') errors.push('direction must be "Inbound"');

  const hasText = typeof body.text === 'string' && body.text.length > 0;
  if (body.text !== undefined && typeof body.text !== 'string') errors.push('text must be a string');
  const content = body.content;
  if (content !== undefined) {
    if (!Array.isArray(content)) errors.push('content must be an array');
    else {
      content.forEach((item: unknown, i) => {
        const path = `content[${i}]`;
        if (!isObject(item)) {
          errors.push(`${path} must be an object`);
          return;
        }
        if (item.contentType !== 'Attachment') errors.push(`${path}.contentType must be "Attachment"`);
        const att = item.attachment;
        if (!isObject(att)) {
          errors.push(`${path}.attachment is required`);
          return;
        }
        if (!GENESYS_MEDIA_TYPES.includes(att.mediaType as GenesysMediaType)) {
          errors.push(`${path}.attachment.mediaType must be one of ${GENESYS_MEDIA_TYPES.join(', ')}`);
        }
        if (!isHttpUrl(att.url)) errors.push(`${path}.attachment.url is required (an http(s) URL)`);
        if (!isNonEmptyString(att.mime)) errors.push(`${path}.attachment.mime is required`);
        for (const key of ['filename', 'id', 'sha256', 'text']) {
          if (att[key] !== undefined && typeof att[key] !== 'string') errors.push(`${path}.attachment.${key} must be a string`);
        }
        if (att.contentSizeBytes !== undefined && typeof att.contentSizeBytes !== 'number') {
          errors.push(`${path}.attachment.contentSizeBytes must be a number`);
        }
      });
    }
  }
  const hasContent = Array.isArray(content) && content.length > 0;
  if (!hasText && !hasContent) errors.push('text or content is required');
  return errors;
}

export function validateInboundReceipt(body: Record<string, unknown>): string[] {
  const errors: string[] = [];
  if (!isNonEmptyString(body.id)) errors.push('id is required');
  const channel = body.channel;
  if (!isObject(channel)) errors.push('channel is required');
  else {
    const to = channel.to;
    if (!isObject(to)) errors.push('channel.to is required');
    else {
      if (!isNonEmptyString(to.id)) errors.push('channel.to.id is required');
      if (!GENESYS_ID_TYPES.includes(to.idType as GenesysIdType)) {
        errors.push(`channel.to.idType must be one of ${GENESYS_ID_TYPES.join(', ')}`);
      }
    }
    checkTime(channel.time, 'channel.time', errors);
    if (channel.messageId !== undefined && typeof channel.messageId !== 'string') {
      errors.push('channel.messageId must be a string');
    }
  }
  if (!GENESYS_RECEIPT_STATUSES.includes(body.status as GenesysReceiptStatus)) {
    errors.push(`status must be one of ${GENESYS_RECEIPT_STATUSES.join(', ')}`);
  }
  if (body.direction !== 'Outbound') errors.push('direction must be "Outbound"');
  if (body.isFinalReceipt !== undefined && typeof body.isFinalReceipt !== 'boolean') {
    errors.push('isFinalReceipt must be a boolean');
  }
  const reasons = body.reasons;
  if (reasons !== undefined) {
    if (!Array.isArray(reasons)) errors.push('reasons must be an array');
    else {
      reasons.forEach((r: unknown, i) => {
        if (!isObject(r)) errors.push(`reasons[${i}] must be an object`);
        else {
          if (!GENESYS_FAILURE_REASONS.includes(r.code as GenesysFailureReason)) {
            errors.push(`reasons[${i}].code must be one of ${GENESYS_FAILURE_REASONS.join(', ')}`);
          }
          if (r.message !== undefined && typeof r.message !== 'string') errors.push(`reasons[${i}].message must be a string`);
        }
      });
    }
  }
  if (body.status === 'Failed' && !(Array.isArray(reasons) && reasons.length > 0)) {
    errors.push('reasons is required when status is Failed');
  }
  return errors;
}

export function validateInboundEvent(body: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const channel = body.channel;
  if (!isObject(channel)) errors.push('channel is required');
  else {
    checkParticipant(channel.from, 'channel.from', errors);
    checkTime(channel.time, 'channel.time', errors);
  }
  const events = body.events;
  if (!Array.isArray(events) || events.length === 0) errors.push('events is required (a non-empty array)');
  else {
    events.forEach((e: unknown, i) => {
      if (!isObject(e)) {
        errors.push(`events[${i}] must be an object`);
        return;
      }
      if (e.eventType !== 'Typing') errors.push(`events[${i}].eventType must be "Typing"`);
      if (e.typing !== undefined) {
        if (!isObject(e.typing)) errors.push(`events[${i}].typing must be an object`);
        else {
          if (e.typing.type !== 'On') errors.push(`events[${i}].typing.type must be "On"`);
          if (e.typing.duration !== undefined && !(typeof e.typing.duration === 'number' && e.typing.duration >= 0)) {
            errors.push(`events[${i}].typing.duration must be a non-negative number`);
          }
        }
      }
    });
  }
  return errors;
}
