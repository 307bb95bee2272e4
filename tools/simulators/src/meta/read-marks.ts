/**
 * Read marks and the typing indicator: `POST /{version}/{phone-number-id}/messages` with
 * `{"messaging_product":"whatsapp","status":"read","message_id":"<wamid>"}` marks a message a
 * user sent to that number read (and every earlier one), answered `{"success":true}`; with
 * `"typing_indicator":{"type":"text"}` it also shows "typing…" for up to 25 seconds. Sources:
 * Meta's "Mark messages as read" and "Typing indicators" pages (2026), summarised in
 * shared/reference/whatsapp-cloud-api.md; a `message_id` that is not a valid received message
 * gets error 131009 "Parameter value is not valid" (Meta's "Mark messages as read" page, June
 * 2026 revision: "If you mark a message as read with an invalid message ID, the API returns error
 * code 131009").
 *
 * The simulator knows a user's message from the webhooks it delivers (`deliverWebhook`): a
 * `message_id` it never delivered to that number — unknown, sent to another business number, or
 * one of the business's own sends — is 131009. Choices where Meta is silent: the body must say
 * `status: "read"` (another status is 100), `typing_indicator.type` must be `text`, and the window
 * is not checked (Meta documents marking messages read up to 30 days after receipt).
 */
import { bearerToken, isNonEmptyString, isObject, mediaType, parseJson, Recorder, webhookChanges, type SimRequest, type SimResponse } from '../common';
import { metaError, type MetaFaults } from './faults';
import type { MetaNumbers } from './numbers';

/** A read mark (and typing indicator) Meta accepted. */
export interface MetaReadRecord {
  phoneNumberId: string;
  /** The wamid marked read. */
  messageId: string;
  /** Who sent that message (`from`, or `from_user_id` when the webhook had no phone number). */
  from: string;
  /** The request also showed the typing indicator. */
  typing: boolean;
  body: Record<string, unknown>;
  time: Date;
}

/** 131009's message (Meta's error code table). */
export const INVALID_PARAMETER_VALUE = 'Parameter value is not valid';

/** True when a POST to /messages is a read mark (its body has `status`), not a send. */
export function isReadMarkBody(body: Buffer): boolean {
  const parsed = parseJson(body);
  return isObject(parsed) && parsed.status !== undefined;
}

/** The user messages each number received (through delivered webhooks), and the read marks accepted. */
export class MetaReadMarks {
  readonly reads = new Recorder<MetaReadRecord>();
  /** `${phoneNumberId}\0${wamid}` → who sent it. */
  private readonly received = new Map<string, string>();

  constructor(
    private readonly numbers: MetaNumbers,
    private readonly faults: MetaFaults,
  ) {}

  /**
   * Records every user message of a `messages` webhook payload (an object, or its JSON text or
   * bytes): its `id`, sent to `metadata.phone_number_id` by `from` (or `from_user_id`).
   */
  recordPayload(payload: unknown): void {
    for (const { field, value } of webhookChanges(payload)) {
      const { metadata, messages } = value;
      if (field !== 'messages' || !isObject(metadata) || typeof metadata.phone_number_id !== 'string' || !Array.isArray(messages)) continue;
      for (const m of messages) {
        if (!isObject(m) || !isNonEmptyString(m.id)) continue;
        const from = isNonEmptyString(m.from) ? m.from : isNonEmptyString(m.from_user_id) ? m.from_user_id : undefined;
        if (from) this.received.set(`${metadata.phone_number_id}\u0000${m.id}`, from);
      }
    }
  }

  /** A read mark (with or without the typing indicator), authorised like a send (any token problem is 401 with code 190). */
  handle(req: SimRequest, phoneNumberId: string): SimResponse {
    const token = bearerToken(req.headers);
    if (!token) return metaError(190, { message: 'An access token is required to request this resource.' });
    if (!this.numbers.tokenIsKnown(token)) return metaError(190);
    if (this.numbers.tokenOf(phoneNumberId) !== token) {
      return metaError(190, { message: `The access token is not valid for phone number ${phoneNumberId}` });
    }
    const fault = this.faults.take({ endpoint: 'read', phoneNumberId });
    if (fault) return fault;
    if (mediaType(req.headers) !== 'application/json') return metaError(100, { message: 'Content-Type must be application/json' });
    const body = parseJson(req.body);
    if (!isObject(body)) return metaError(100, { message: 'The request body is not a valid JSON object' });
    if (body.messaging_product !== 'whatsapp') return metaError(100, { message: "Param messaging_product must be 'whatsapp'" });
    if (body.status !== 'read') return metaError(100, { message: "Param status must be 'read'" });
    if (!isNonEmptyString(body.message_id)) return metaError(100, { message: 'The parameter message_id is required.' });
    const typing = body.typing_indicator;
    if (typing !== undefined && !(isObject(typing) && typing.type === 'text')) {
      return metaError(100, { message: "Param typing_indicator['type'] must be 'text'" });
    }
    const from = this.received.get(`${phoneNumberId}\u0000${body.message_id}`);
    if (!from) return metaError(131009, { message: INVALID_PARAMETER_VALUE, details: `Invalid message_id: ${body.message_id} is not a message received by ${phoneNumberId}` });
    this.reads.push({ phoneNumberId, messageId: body.message_id, from, typing: typing !== undefined, body, time: new Date() });
    return { status: 200, body: { success: true } };
  }

  /** Forgets the messages received and the read marks. */
  reset(): void {
    this.received.clear();
    this.reads.clear();
  }
}
