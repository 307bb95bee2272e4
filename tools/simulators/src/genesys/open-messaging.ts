/**
 * Genesys' Open Messaging inbound API, `POST /api/v2/conversations/messages/{integrationId}/
 * inbound/open/message|receipt|event`: authenticated by the login service, checked against the
 * schema, recorded, and answered as Genesys does (a message gets a Genesys id and, per
 * integration and WhatsApp user, a stable conversation id).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { isObject, mediaType, parseJson, Recorder, redactHeaders, type SimRequest } from '../common';
import { apiError, faultResponse, type GenesysFaults, type Outcome } from './faults';
import type { GenesysLogin } from './oauth';
import {
  GENESYS_MAX_BODY_BYTES,
  validateInboundEvent,
  validateInboundMessage,
  validateInboundReceipt,
  type GenesysEndpoint,
  type GenesysInboundEvent,
  type GenesysInboundMessage,
  type GenesysInboundReceipt,
} from './open-messaging-schema';

/** `/api/v2/conversations/messages/{integrationId}/inbound/open/{endpoint}`. */
export const API_PATH = /^\/api\/v2\/conversations\/messages\/([^/]+)\/inbound\/open\/(message|receipt|event)$/;

interface RecordBase {
  integrationId: string;
  /** OAuth client whose token authorised the call. */
  clientId: string;
  /** Request headers, `authorization` redacted. */
  headers: Record<string, string>;
  query: Record<string, string>;
  time: Date;
  /** What the simulator answered (200 body). */
  response: Record<string, unknown>;
}
export interface GenesysMessageRecord extends RecordBase {
  kind: 'message';
  body: GenesysInboundMessage;
  /** The id Genesys gave the message (returned as `id`). */
  genesysMessageId: string;
  /** Stable per (integration, from.id); returned only with `?prefetchConversationId=true`. */
  conversationId: string;
}
export interface GenesysReceiptRecord extends RecordBase {
  kind: 'receipt';
  body: GenesysInboundReceipt;
}
export interface GenesysEventRecord extends RecordBase {
  kind: 'event';
  body: GenesysInboundEvent;
}
/** An accepted inbound API call. */
export type GenesysRecord = GenesysMessageRecord | GenesysReceiptRecord | GenesysEventRecord;

export interface AttachmentFetch {
  integrationId: string;
  genesysMessageId: string;
  url: string;
  status: number | null;
  error?: string;
  contentType?: string;
  size?: number;
  sha256?: string;
  time: Date;
}

/** A new 32-hex Genesys id (messages, events, agent replies). */
export const newGenesysId = (): string => randomBytes(16).toString('hex');

/** The inbound API of one simulator and what it accepted. */
export class OpenMessagingApi {
  readonly received = new Recorder<GenesysRecord>();
  readonly attachmentFetches = new Recorder<AttachmentFetch>();
  private readonly conversations = new Map<string, string>();

  constructor(
    private readonly login: GenesysLogin,
    private readonly faults: GenesysFaults,
    private readonly options: { fetchAttachments: boolean; timeoutMs: number },
  ) {}

  /** The conversation id the simulator assigns to (integration, WhatsApp user). */
  conversationIdFor(integrationId: string, fromId: string): string {
    const key = `${integrationId}\u0000${fromId}`;
    let id = this.conversations.get(key);
    if (!id) {
      id = randomUUID();
      this.conversations.set(key, id);
    }
    return id;
  }

  /** Starts a new conversation for (integration, user): later messages of that user join it. */
  startConversation(integrationId: string, fromId: string): string {
    const id = randomUUID();
    this.conversations.set(`${integrationId}\u0000${fromId}`, id);
    return id;
  }

  /** One call on `integrationId`'s `endpoint`, checked in Genesys' order: method, token, integration, fault, size, type, body. */
  handle(req: SimRequest, integrationId: string, endpoint: GenesysEndpoint): Outcome {
    if (req.method !== 'POST') return { res: apiError(405, `${req.method} is not allowed here`), injected: false };
    const auth = this.login.authorize(req, integrationId);
    if ('denied' in auth) return auth.denied;
    const clientId = auth.clientId;
    const fault = this.faults.take({ endpoint, integrationId });
    if (fault) return { res: faultResponse(fault), clientId, injected: true };
    if (req.tooLarge) {
      return {
        res: apiError(413, `The request body is over the limit of ${GENESYS_MAX_BODY_BYTES} bytes`),
        clientId,
        injected: false,
      };
    }
    if (mediaType(req.headers) !== 'application/json') {
      return { res: apiError(415, 'Content-Type must be application/json'), clientId, injected: false };
    }
    const body = parseJson(req.body);
    if (!isObject(body)) {
      return { res: apiError(400, 'The request body could not be parsed as a JSON object.'), clientId, injected: false };
    }
    const validate =
      endpoint === 'message' ? validateInboundMessage : endpoint === 'receipt' ? validateInboundReceipt : validateInboundEvent;
    const errors = validate(body);
    if (errors.length > 0) return { res: apiError(400, errors.join('; ')), clientId, injected: false };

    const base = {
      integrationId,
      clientId,
      headers: redactHeaders(req.headers),
      query: Object.fromEntries(req.query),
      time: new Date(),
    };
    const channelEcho = { ...(body.channel as Record<string, unknown>), id: integrationId, platform: 'Open', type: 'Private' };
    let response: Record<string, unknown>;
    if (endpoint === 'message') {
      const message = body as unknown as GenesysInboundMessage;
      const genesysMessageId = newGenesysId();
      const conversationId = this.conversationIdFor(integrationId, message.channel.from.id);
      response = {
        id: genesysMessageId,
        channel: channelEcho,
        type: 'Text',
        ...(message.text !== undefined ? { text: message.text } : {}),
        ...(message.content !== undefined ? { content: message.content } : {}),
        direction: 'Inbound',
        ...(req.query.get('prefetchConversationId') === 'true' ? { conversationId } : {}),
      };
      this.received.push({ ...base, kind: 'message', body: message, genesysMessageId, conversationId, response });
      if (this.options.fetchAttachments) void this.fetchAttachments(integrationId, genesysMessageId, message);
    } else if (endpoint === 'receipt') {
      response = { ...body, channel: channelEcho };
      this.received.push({ ...base, kind: 'receipt', body: body as unknown as GenesysInboundReceipt, response });
    } else {
      response = { id: newGenesysId(), ...body, channel: channelEcho };
      this.received.push({ ...base, kind: 'event', body: body as unknown as GenesysInboundEvent, response });
    }
    return { res: { status: 200, body: response, headers: { 'inin-correlation-id': randomUUID() } }, clientId, injected: false };
  }

  /** Genesys downloads attachments itself: check that the URLs we hand it are reachable. */
  private async fetchAttachments(integrationId: string, genesysMessageId: string, message: GenesysInboundMessage): Promise<void> {
    for (const item of message.content ?? []) {
      const url = item.attachment.url;
      const base = { integrationId, genesysMessageId, url };
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs) });
        const bytes = Buffer.from(await res.arrayBuffer());
        this.attachmentFetches.push({
          ...base,
          status: res.status,
          contentType: res.headers.get('content-type') ?? undefined,
          size: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          time: new Date(),
        });
      } catch (err) {
        this.attachmentFetches.push({ ...base, status: null, error: (err as Error).message, time: new Date() });
      }
    }
  }
}
