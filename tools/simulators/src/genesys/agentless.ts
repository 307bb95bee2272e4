/**
 * Agentless messages, `POST /api/v2/conversations/messages/agentless`: a message no agent wrote
 * (a proactive notification), sent into an integration's conversation with a customer. For Open
 * Messaging it is text only, `fromAddress` is the integration id and `toAddress` the customer's id;
 * Genesys answers 202, then delivers the message to the integration's outbound webhook normalized
 * like an agent's message, for us to send (facts and sources: README, "Reference notes").
 *
 * Checked in this order: method, bearer token (401), size (413), content type (415), JSON (400),
 * the body (400: unknown fields, a missing or empty field, a messenger type other than `open`, a
 * `messagingTemplate` — WhatsApp-integration only —, text over 2000 characters), the integration
 * (400 when the token's org does not have it), then injected faults.
 *
 * Choices where Genesys is silent: the webhook body's `id` is the `id` of the 202 answer (and
 * `channel.time` its `timestamp`); without `useExistingActiveConversation: true` a new
 * conversation is started, which the customer's later messages join; an integration with no
 * outbound webhook configured (`setOutboundWebhook`) still gets its 202, and the record says why
 * nothing was delivered.
 */
import { randomUUID } from 'node:crypto';
import { isNonEmptyString, isObject, mediaType, parseJson, Recorder, redactHeaders, type SimRequest } from '../common';
import { apiError, faultResponse, type GenesysFaults, type Outcome } from './faults';
import type { GenesysLogin } from './oauth';
import { newGenesysId, type OpenMessagingApi } from './open-messaging';
import { GENESYS_MAX_BODY_BYTES } from './open-messaging-schema';
import type { OutboundDeliveryResult, OutboundWebhook } from './outbound-webhook';

export const AGENTLESS_PATH = '/api/v2/conversations/messages/agentless';
/** The SDK's limit on `textBody` for channels other than SMS. */
export const AGENTLESS_TEXT_MAX = 2000;
const MESSENGER_TYPES = ['sms', 'whatsapp', 'open'];
const FIELDS = ['fromAddress', 'toAddress', 'toAddressMessengerType', 'textBody', 'messagingTemplate', 'useExistingActiveConversation'];

/** The request body (`SendAgentlessOutboundMessageRequest`), as this simulator accepts it. */
export interface GenesysAgentlessRequest {
  /** The Open Messaging integration id. */
  fromAddress: string;
  /** The customer's id in that integration (the `channel.from.id` of their messages). */
  toAddress: string;
  toAddressMessengerType: 'open';
  textBody: string;
  useExistingActiveConversation?: boolean;
}

/** The 202 answer (`SendAgentlessOutboundMessageResponse`). */
export interface GenesysAgentlessResponse {
  id: string;
  conversationId: string;
  fromAddress: string;
  toAddress: string;
  messengerType: 'open';
  textBody: string;
  useExistingActiveConversation?: boolean;
  /** ISO-8601. */
  timestamp: string;
}

/** An accepted agentless call, and what became of its delivery to our webhook. */
export interface GenesysAgentlessRecord {
  integrationId: string;
  clientId: string;
  body: GenesysAgentlessRequest;
  response: GenesysAgentlessResponse;
  /** Request headers, `authorization` redacted. */
  headers: Record<string, string>;
  time: Date;
  /** Set once the webhook delivery has finished. */
  delivery?: OutboundDeliveryResult;
  /** Why nothing was delivered (no outbound webhook configured for the integration). */
  deliverySkipped?: string;
}

/** Every problem with an agentless body (empty = valid). */
export function validateAgentlessBody(body: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) errors.push(`unknown field(s): ${unknown.join(', ')}`);
  if (!isNonEmptyString(body.fromAddress)) errors.push('fromAddress is required (the Open Messaging integration id)');
  if (!isNonEmptyString(body.toAddress)) errors.push('toAddress is required');
  if (!MESSENGER_TYPES.includes(body.toAddressMessengerType as string)) {
    errors.push(`toAddressMessengerType must be one of ${MESSENGER_TYPES.join(', ')}`);
  } else if (body.toAddressMessengerType !== 'open') {
    errors.push('toAddressMessengerType: only open is served here (fromAddress must be an Open Messaging integration)');
  }
  if (body.messagingTemplate !== undefined) errors.push('messagingTemplate is for WhatsApp integrations; Open Messaging agentless messages are text only');
  if (!isNonEmptyString(body.textBody)) errors.push('textBody is required for Open Messaging');
  else if (body.textBody.length > AGENTLESS_TEXT_MAX) errors.push(`textBody must be at most ${AGENTLESS_TEXT_MAX} characters long`);
  if (body.useExistingActiveConversation !== undefined && typeof body.useExistingActiveConversation !== 'boolean') {
    errors.push('useExistingActiveConversation must be a boolean');
  }
  return errors;
}

/** The integration an agentless request names (for scoping outages and latency before it is checked). */
export function fromAddressOf(req: SimRequest): string | undefined {
  const body = parseJson(req.body);
  return isObject(body) && typeof body.fromAddress === 'string' ? body.fromAddress : undefined;
}

/** The agentless endpoint of one simulator and what it accepted. */
export class AgentlessApi {
  readonly received = new Recorder<GenesysAgentlessRecord>();

  constructor(
    private readonly login: GenesysLogin,
    private readonly faults: GenesysFaults,
    private readonly conversations: Pick<OpenMessagingApi, 'conversationIdFor' | 'startConversation'>,
    private readonly webhook: OutboundWebhook,
  ) {}

  handle(req: SimRequest): Outcome {
    if (req.method !== 'POST') return { res: apiError(405, `${req.method} is not allowed here`), injected: false };
    const auth = this.login.authenticate(req);
    if ('denied' in auth) return auth.denied;
    const clientId = auth.clientId;
    const refuse = (status: number, message: string): Outcome => ({ res: apiError(status, message), clientId, injected: false });
    if (req.tooLarge) return refuse(413, `The request body is over the limit of ${GENESYS_MAX_BODY_BYTES} bytes`);
    if (mediaType(req.headers) !== 'application/json') return refuse(415, 'Content-Type must be application/json');
    const parsed = parseJson(req.body);
    if (!isObject(parsed)) return refuse(400, 'The request body could not be parsed as a JSON object.');
    const errors = validateAgentlessBody(parsed);
    if (errors.length > 0) return refuse(400, errors.join('; '));
    const body = parsed as unknown as GenesysAgentlessRequest;
    if (!this.login.owns(clientId, body.fromAddress)) {
      return refuse(400, `fromAddress ${body.fromAddress} is not an Open Messaging integration of this organization`);
    }
    const fault = this.faults.take({ endpoint: 'agentless', integrationId: body.fromAddress });
    if (fault) return { res: faultResponse(fault), clientId, injected: true };

    const conversationId =
      body.useExistingActiveConversation === true
        ? this.conversations.conversationIdFor(body.fromAddress, body.toAddress)
        : this.conversations.startConversation(body.fromAddress, body.toAddress);
    const response: GenesysAgentlessResponse = {
      id: newGenesysId(),
      conversationId,
      fromAddress: body.fromAddress,
      toAddress: body.toAddress,
      messengerType: 'open',
      textBody: body.textBody,
      ...(body.useExistingActiveConversation !== undefined ? { useExistingActiveConversation: body.useExistingActiveConversation } : {}),
      timestamp: new Date().toISOString(),
    };
    const record: GenesysAgentlessRecord = {
      integrationId: body.fromAddress,
      clientId,
      body,
      response,
      headers: redactHeaders(req.headers),
      time: new Date(),
    };
    const target = this.webhook.targetOf(body.fromAddress);
    if (!target) record.deliverySkipped = `no outbound webhook configured for integration ${body.fromAddress}`;
    this.received.push(record);
    const deliver = async (): Promise<void> => {
      if (!target) return;
      const message = { id: response.id, to: body.toAddress, text: body.textBody, time: response.timestamp };
      await this.webhook.agentless(target, message, (result) => {
        record.delivery = result;
      });
    };
    return {
      res: {
        status: 202,
        body: response,
        headers: { 'inin-correlation-id': randomUUID() },
        // Genesys answers first and delivers afterwards.
        after: () => void deliver(),
      },
      clientId,
      injected: false,
    };
  }
}
