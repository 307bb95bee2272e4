/**
 * A strict local stand-in for Genesys Cloud: the login service (`POST /oauth/token`, client
 * credentials) and the Open Messaging inbound API (`/api/v2/conversations/messages/{integrationId}/
 * inbound/open/message|receipt|event`) on one HTTP server, plus the other direction — agent
 * replies and typing events POSTed to our outbound webhook, signed and retried the way Genesys does.
 *
 * Choices where the reference is silent:
 * - A valid token used on another org's integration (or an unknown integration) gets 404
 *   `not.found`: integrations are org-scoped, so from the caller's org the id does not exist.
 * - An unscoped outage answers 503 on every route, login included; an outage scoped to an
 *   integration answers 503 on that integration's API routes only.
 * - `failNext` faults apply after authentication (a rate limit is per token); outage and latency
 *   apply before it.
 * - Inbound messages are not deduplicated on `channel.messageId`: each accepted POST gets a new
 *   Genesys id and is recorded, so tests can see duplicates the bridge let through.
 * - `channel.metadata.customAttributes` and top-level `metadata` must map strings to strings (the
 *   SDK types them `{ [key: string]: string }`); anything nested is a 400.
 * - Only `contentType: "Attachment"` content is accepted inbound.
 */
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import {
  Conditions,
  FaultQueue,
  Recorder,
  bearerToken,
  header,
  isHttpUrl,
  isIsoDateTime,
  isNonEmptyString,
  isObject,
  mediaType,
  parseJson,
  postOnce,
  postWithRetries,
  redactHeaders,
  sleep,
  startServer,
  type DeliveryAttempt,
  type SimRequest,
  type SimResponse,
} from './common';
import { signGenesys } from './signatures';

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

/** Every request the server answered (accepted or not), for counting attempts and retries. */
export interface GenesysCall {
  endpoint: 'token' | GenesysEndpoint | 'other';
  method: string;
  path: string;
  integrationId?: string;
  clientId?: string;
  status: number;
  /** True when the answer came from failNext or an outage. */
  injected: boolean;
  time: Date;
}

export interface GenesysOrgOptions {
  clientId: string;
  clientSecret: string;
  /** The org's Open Messaging integration(s). */
  integrationId: string | string[];
  /** Token lifetime; default 86400 (Genesys' default). */
  tokenTtlSeconds?: number;
}

export interface GenesysFaultOptions {
  /** HTTP status to answer, e.g. 429, 500, 503. */
  status: number;
  /** Sets `Retry-After`; a 429 without it gets `Retry-After: 1`. */
  retryAfterSeconds?: number;
  /** Replaces the default Genesys-shaped error body. */
  body?: unknown;
  /** Only requests for this integration. */
  integrationId?: string;
  /** Only this endpoint; default: any of message/receipt/event (never the token endpoint). */
  endpoint?: GenesysEndpoint | 'token';
  /** With `endpoint: 'token'`: only token requests of this client. */
  clientId?: string;
}

export interface GenesysSimulatorOptions {
  port?: number;
  host?: string;
  /** Delay between outbound webhook retries; default 5000 (Genesys' 5 s). */
  retryDelayMs?: number;
  /** Outbound webhook timeout; default 10000 (Genesys' 10 s). */
  webhookTimeoutMs?: number;
  /** Serve the `/_sim/*` control API (used by the CLI for demos); default false. */
  controlApi?: boolean;
  /**
   * After accepting a message, GET each attachment URL the way Genesys does, recording the
   * outcome in `attachmentFetches`; default false.
   */
  fetchAttachments?: boolean;
}

export interface OutboundCommonOptions {
  /** Our outbound webhook, e.g. `http://127.0.0.1:3000/webhook/genesys/acme`. */
  webhookUrl: string;
  /** The integration's outbound webhook signature secret. */
  secret: string;
  integrationId: string;
  /** The WhatsApp user (the `channel.from.id` we sent inbound). */
  to: string;
  /** Genesys message id; default a new 32-hex id. Reuse one to send a duplicate. */
  id?: string;
  /** `channel.from.nickname`; default "Acme Support". */
  nickname?: string;
  /** `channel.time`; default now. */
  time?: string | Date;
  /** Sent on every call, like an integration's `webhookHeaders`. */
  headers?: Record<string, string>;
  /** Default: the simulator's (5000). */
  retryDelayMs?: number;
  /** Default 5 (so at most 6 attempts). */
  maxRetries?: number;
  /** Default: the simulator's (10000). */
  timeoutMs?: number;
  /** After the first delivery finishes, deliver the identical bytes once more. */
  duplicate?: boolean;
}

export interface AgentReplyOptions extends OutboundCommonOptions {
  text?: string;
  content?: Array<{ contentType: string; attachment?: Partial<GenesysAttachment> & Record<string, unknown> }>;
  /** Default "Text". */
  type?: string;
  /** Default "Human". */
  originatingEntity?: 'Human' | 'Bot';
  /** Extra top-level fields merged into the body. */
  extra?: Record<string, unknown>;
}

export interface AgentTypingOptions extends OutboundCommonOptions {
  /** Default 5000. */
  durationMs?: number;
}

/** The body Genesys POSTs to the outbound webhook. */
export interface GenesysOutboundMessage {
  id: string;
  channel: {
    id: string;
    platform: 'Open';
    type: 'Private';
    to: { id: string };
    from: { nickname: string; id: string; idType: 'Opaque' };
    time: string;
    messageId: string;
  };
  type: string;
  text?: string;
  content?: unknown[];
  events?: unknown[];
  originatingEntity?: string;
  direction: 'Outbound';
  [extra: string]: unknown;
}

export interface OutboundDeliveryResult {
  id: string;
  body: GenesysOutboundMessage;
  /** The exact bytes sent. */
  raw: string;
  /** The `X-Hub-Signature-256` value sent. */
  signature: string;
  attempts: DeliveryAttempt[];
  /** Status codes of the attempts in order (null = no answer). */
  statuses: Array<number | null>;
  /** True when (the first) delivery got a 2xx. */
  delivered: boolean;
}

export interface RawOutboundOptions {
  webhookUrl: string;
  body: string | Buffer;
  /** Signs the body with this secret (base64, as Genesys does). */
  signatureSecret?: string;
  /** Sent verbatim as `X-Hub-Signature-256` (wins over signatureSecret); null sends no header. */
  signatureOverride?: string | null;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface OutboundRecord {
  kind: 'reply' | 'typing' | 'raw';
  webhookUrl: string;
  raw: string;
  attempts: DeliveryAttempt[];
  delivered: boolean;
  time: Date;
}

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

export interface GenesysSimulator {
  /** Base URL for both GENESYS_LOGIN_URL and GENESYS_API_URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  addOrg(org: GenesysOrgOptions): void;
  /** Token requests made with this client id (any outcome); all clients when omitted. */
  tokenRequests(clientId?: string): number;
  /** Tokens issued to this client (or to all). */
  tokensIssued(clientId?: string): number;
  /** Invalidates the tokens issued so far (to this client, or all): the API answers 401. */
  revokeTokens(clientId?: string): void;
  /** The next n matching requests get this error instead of being processed. */
  failNext(n: number, fault: GenesysFaultOptions): void;
  /** 503 on every call (or on one integration's API calls). */
  setOutage(on: boolean, scope?: { integrationId?: string }): void;
  /** Delays every answer (or one integration's) by ms. */
  setLatency(ms: number, scope?: { integrationId?: string }): void;
  /** Removes pending failNext rules, outages and latency. */
  clearFaults(): void;
  /** clearFaults() and forgets everything recorded (orgs and tokens stay). */
  reset(): void;
  /** Accepted inbound messages, receipts and events, in arrival order. */
  readonly received: GenesysRecord[];
  /** Every answered request. */
  readonly calls: GenesysCall[];
  /** Agent replies, typing events and raw bodies sent to webhooks. */
  readonly outbound: OutboundRecord[];
  readonly attachmentFetches: AttachmentFetch[];
  messages(integrationId?: string): GenesysMessageRecord[];
  receipts(integrationId?: string): GenesysReceiptRecord[];
  events(integrationId?: string): GenesysEventRecord[];
  /** Resolves with the first recorded item (past or future) matching; rejects after timeoutMs (default 5000). */
  waitFor(predicate: (record: GenesysRecord) => boolean, timeoutMs?: number): Promise<GenesysRecord>;
  waitForAttachmentFetch(predicate: (fetch: AttachmentFetch) => boolean, timeoutMs?: number): Promise<AttachmentFetch>;
  /** The conversation id the simulator assigns to (integration, WhatsApp user). */
  conversationIdFor(integrationId: string, fromId: string): string;
  agentReply(options: AgentReplyOptions): Promise<OutboundDeliveryResult>;
  agentTyping(options: AgentTypingOptions): Promise<OutboundDeliveryResult>;
  /** One POST of arbitrary bytes, no retries. */
  sendRawOutbound(options: RawOutboundOptions): Promise<{ status: number | null; error?: string; responseBody?: string }>;
  close(): Promise<void>;
}

interface Org {
  clientId: string;
  clientSecret: string;
  integrationIds: string[];
  tokenTtlSeconds: number;
}

interface Token {
  clientId: string;
  expiresAt: number;
}

const API_PATH = /^\/api\/v2\/conversations\/messages\/([^/]+)\/inbound\/open\/(message|receipt|event)$/;

const ERROR_CODES: Record<number, string> = {
  400: 'bad.request',
  401: 'bad.credentials',
  403: 'not.authorized',
  404: 'not.found',
  405: 'method.not.allowed',
  408: 'request.timeout',
  409: 'conflict',
  413: 'request.entity.too.large',
  415: 'unsupported.media.type',
  429: 'too.many.requests.retry.after',
  500: 'internal.server.error',
  502: 'bad.gateway',
  503: 'service.unavailable',
  504: 'gateway.timeout',
};

/** A Genesys Platform API error answer. */
function apiError(status: number, message: string, code = ERROR_CODES[status] ?? 'error'): SimResponse {
  return {
    status,
    body: { message, code, status, contextId: randomUUID(), details: [], errors: [] },
    headers: { 'inin-correlation-id': randomUUID() },
  };
}

/** A Genesys login service (OAuth) error answer. */
function oauthError(status: number, error: string, description: string): SimResponse {
  return { status, body: { error, description, error_description: description } };
}

function faultResponse(fault: GenesysFaultOptions): SimResponse {
  const headers: Record<string, string> = { 'inin-correlation-id': randomUUID() };
  const retryAfter = fault.retryAfterSeconds ?? (fault.status === 429 ? 1 : undefined);
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  if (fault.body !== undefined) return { status: fault.status, body: fault.body, headers };
  if (fault.status === 429) {
    return {
      status: 429,
      headers,
      body: {
        message: `Rate limit exceeded the maximum. Retry the request in [${retryAfter}] seconds`,
        code: 'too.many.requests.retry.after',
        status: 429,
      },
    };
  }
  const base = apiError(fault.status, `Simulated failure (HTTP ${fault.status})`);
  return { ...base, headers };
}

// ---------------------------------------------------------------------------------------------
// Validation: each returns the list of problems (empty = valid), field paths as in the body.

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

// ---------------------------------------------------------------------------------------------

const newGenesysId = (): string => randomBytes(16).toString('hex');

export async function startGenesysSimulator(options: GenesysSimulatorOptions = {}): Promise<GenesysSimulator> {
  const orgs = new Map<string, Org>();
  const integrationOwner = new Map<string, string>();
  const tokens = new Map<string, Token>();
  const tokenRequestCounts = new Map<string, number>();
  const tokensIssuedCounts = new Map<string, number>();
  const conversations = new Map<string, string>();
  const faults = new FaultQueue<{ endpoint: GenesysEndpoint | 'token'; integrationId?: string; clientId?: string }, GenesysFaultOptions>();
  const conditions = new Conditions();
  const received = new Recorder<GenesysRecord>();
  const calls: GenesysCall[] = [];
  const outbound: OutboundRecord[] = [];
  const attachmentFetches = new Recorder<AttachmentFetch>();
  const defaultRetryDelayMs = options.retryDelayMs ?? 5000;
  const defaultTimeoutMs = options.webhookTimeoutMs ?? 10_000;

  const conversationIdFor = (integrationId: string, fromId: string): string => {
    const key = `${integrationId}\u0000${fromId}`;
    let id = conversations.get(key);
    if (!id) {
      id = randomUUID();
      conversations.set(key, id);
    }
    return id;
  };

  const count = (map: Map<string, number>, key?: string): number =>
    key === undefined ? [...map.values()].reduce((a, b) => a + b, 0) : (map.get(key) ?? 0);

  async function handleToken(req: SimRequest): Promise<{ res: SimResponse; clientId?: string; injected: boolean }> {
    if (req.method !== 'POST') return { res: oauthError(405, 'invalid_request', 'Use POST'), injected: false };
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header(req.headers, 'authorization') ?? '');
    const decoded = basic ? Buffer.from(basic[1], 'base64').toString('utf8') : '';
    const sep = decoded.indexOf(':');
    const clientId = sep > 0 ? decoded.slice(0, sep) : undefined;
    const secret = sep > 0 ? decoded.slice(sep + 1) : undefined;
    if (clientId) tokenRequestCounts.set(clientId, count(tokenRequestCounts, clientId) + 1);
    if (!clientId) {
      return {
        res: oauthError(401, 'invalid_client', 'Client authentication is required (HTTP Basic)'),
        injected: false,
      };
    }
    const org = orgs.get(clientId);
    if (!org || org.clientSecret !== secret) {
      return { res: oauthError(401, 'invalid_client', 'client not found or bad client credentials'), clientId, injected: false };
    }
    const fault = faults.take({ endpoint: 'token', clientId });
    if (fault) return { res: faultResponse(fault), clientId, injected: true };
    if (mediaType(req.headers) !== 'application/x-www-form-urlencoded') {
      return {
        res: oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded'),
        clientId,
        injected: false,
      };
    }
    const form = new URLSearchParams(req.body.toString('utf8'));
    const grant = form.get('grant_type');
    if (!grant) return { res: oauthError(400, 'invalid_request', 'grant_type is required'), clientId, injected: false };
    if (grant !== 'client_credentials') {
      return { res: oauthError(400, 'unsupported_grant_type', `grant_type ${grant} is not supported`), clientId, injected: false };
    }
    const accessToken = randomBytes(48).toString('base64url');
    tokens.set(accessToken, { clientId, expiresAt: Date.now() + org.tokenTtlSeconds * 1000 });
    tokensIssuedCounts.set(clientId, count(tokensIssuedCounts, clientId) + 1);
    return {
      res: {
        status: 200,
        body: { access_token: accessToken, token_type: 'bearer', expires_in: org.tokenTtlSeconds },
        headers: { 'Cache-Control': 'no-store' },
      },
      clientId,
      injected: false,
    };
  }

  async function handleApi(
    req: SimRequest,
    integrationId: string,
    endpoint: GenesysEndpoint,
  ): Promise<{ res: SimResponse; clientId?: string; injected: boolean }> {
    if (req.method !== 'POST') return { res: apiError(405, `${req.method} is not allowed here`), injected: false };
    const bearer = bearerToken(req.headers);
    if (!bearer) {
      return { res: apiError(401, 'No authentication bearer token specified in authorization header.'), injected: false };
    }
    const token = tokens.get(bearer);
    if (!token || token.expiresAt <= Date.now()) {
      return { res: apiError(401, 'Invalid login credentials.'), injected: false };
    }
    const clientId = token.clientId;
    if (integrationOwner.get(integrationId) !== clientId) {
      return { res: apiError(404, `Integration ${integrationId} not found`), clientId, injected: false };
    }
    const fault = faults.take({ endpoint, integrationId });
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
      const conversationId = conversationIdFor(integrationId, message.channel.from.id);
      response = {
        id: genesysMessageId,
        channel: channelEcho,
        type: 'Text',
        ...(message.text !== undefined ? { text: message.text } : {}),
        ...(message.content !== undefined ? { content: message.content } : {}),
        direction: 'Inbound',
        ...(req.query.get('prefetchConversationId') === 'true' ? { conversationId } : {}),
      };
      received.push({ ...base, kind: 'message', body: message, genesysMessageId, conversationId, response });
      if (options.fetchAttachments) void fetchAttachments(integrationId, genesysMessageId, message);
    } else if (endpoint === 'receipt') {
      response = { ...body, channel: channelEcho };
      received.push({ ...base, kind: 'receipt', body: body as unknown as GenesysInboundReceipt, response });
    } else {
      response = { id: newGenesysId(), ...body, channel: channelEcho };
      received.push({ ...base, kind: 'event', body: body as unknown as GenesysInboundEvent, response });
    }
    return { res: { status: 200, body: response, headers: { 'inin-correlation-id': randomUUID() } }, clientId, injected: false };
  }

  /** Genesys downloads attachments itself: check that the URLs we hand it are reachable. */
  async function fetchAttachments(integrationId: string, genesysMessageId: string, message: GenesysInboundMessage): Promise<void> {
    for (const item of message.content ?? []) {
      const url = item.attachment.url;
      const base = { integrationId, genesysMessageId, url };
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(defaultTimeoutMs) });
        const bytes = Buffer.from(await res.arrayBuffer());
        attachmentFetches.push({
          ...base,
          status: res.status,
          contentType: res.headers.get('content-type') ?? undefined,
          size: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          time: new Date(),
        });
      } catch (err) {
        attachmentFetches.push({ ...base, status: null, error: (err as Error).message, time: new Date() });
      }
    }
  }

  async function handle(req: SimRequest): Promise<SimResponse> {
    if (req.path.startsWith('/_sim/') && options.controlApi) return control(req);
    const api = API_PATH.exec(req.path);
    const integrationId = api ? decodeURIComponent(api[1]) : undefined;
    const endpoint: GenesysCall['endpoint'] = api ? (api[2] as GenesysEndpoint) : req.path === '/oauth/token' ? 'token' : 'other';
    const latency = conditions.latency(integrationId);
    if (latency > 0) await sleep(latency);

    let outcome: { res: SimResponse; clientId?: string; injected: boolean };
    if (conditions.isDown(integrationId) && endpoint !== 'other') {
      outcome = { res: apiError(503, 'The service is currently unavailable (simulated outage).'), injected: true };
    } else if (endpoint === 'token') {
      outcome = await handleToken(req);
    } else if (api && integrationId !== undefined) {
      outcome = await handleApi(req, integrationId, api[2] as GenesysEndpoint);
    } else {
      outcome = { res: apiError(404, `No resource at ${req.method} ${req.path}`), injected: false };
    }
    calls.push({
      endpoint,
      method: req.method,
      path: req.path,
      integrationId,
      clientId: outcome.clientId,
      status: outcome.res.status,
      injected: outcome.injected,
      time: new Date(),
    });
    return outcome.res;
  }

  function buildOutbound(o: OutboundCommonOptions): GenesysOutboundMessage {
    const id = o.id ?? newGenesysId();
    const time = o.time === undefined ? new Date().toISOString() : typeof o.time === 'string' ? o.time : o.time.toISOString();
    return {
      id,
      channel: {
        id: o.integrationId,
        platform: 'Open',
        type: 'Private',
        to: { id: o.to },
        from: { nickname: o.nickname ?? 'Acme Support', id: o.integrationId, idType: 'Opaque' },
        time,
        messageId: id,
      },
      type: 'Text',
      direction: 'Outbound',
    };
  }

  /** Delivers like Genesys: retries on timeout, network error, 429 and 5xx, fixed delay. */
  async function deliver(kind: OutboundRecord['kind'], o: OutboundCommonOptions, body: GenesysOutboundMessage): Promise<OutboundDeliveryResult> {
    const raw = JSON.stringify(body);
    const signature = signGenesys(o.secret, raw);
    const headers = {
      ...o.headers,
      'Content-Type': 'application/json',
      'User-Agent': 'Genesys-Open-Messaging-Simulator',
      'X-Hub-Signature-256': signature,
    };
    const retryDelayMs = o.retryDelayMs ?? defaultRetryDelayMs;
    const attempts: DeliveryAttempt[] = [];
    let delivered = false;
    for (let delivery = 1; delivery <= (o.duplicate ? 2 : 1); delivery++) {
      const result = await postWithRetries({
        url: o.webhookUrl,
        body: Buffer.from(raw, 'utf8'),
        headers,
        timeoutMs: o.timeoutMs ?? defaultTimeoutMs,
        maxAttempts: (o.maxRetries ?? 5) + 1,
        delivery,
        succeeded: (s) => s >= 200 && s < 300,
        retryable: (s) => s === null || s === 429 || s >= 500,
        delayFor: () => retryDelayMs,
      });
      attempts.push(...result.attempts);
      if (delivery === 1) delivered = result.delivered;
    }
    outbound.push({ kind, webhookUrl: o.webhookUrl, raw, attempts, delivered, time: new Date() });
    return { id: body.id, body, raw, signature, attempts, statuses: attempts.map((a) => a.status), delivered };
  }

  async function agentReply(o: AgentReplyOptions): Promise<OutboundDeliveryResult> {
    const body = buildOutbound(o);
    body.type = o.type ?? 'Text';
    if (o.text !== undefined) body.text = o.text;
    if (o.content !== undefined) body.content = o.content;
    body.originatingEntity = o.originatingEntity ?? 'Human';
    // `direction` last, as in Genesys' own payloads (unless `extra` overrides it).
    const { direction, ...rest } = body;
    return deliver('reply', o, { ...rest, direction, ...o.extra } as GenesysOutboundMessage);
  }

  async function agentTyping(o: AgentTypingOptions): Promise<OutboundDeliveryResult> {
    const base = buildOutbound(o);
    const { direction, ...rest } = base;
    const body: GenesysOutboundMessage = {
      ...rest,
      type: 'Event',
      events: [{ eventType: 'Typing', typing: { type: 'On', duration: o.durationMs ?? 5000 } }],
      originatingEntity: 'Human',
      direction,
    };
    return deliver('typing', o, body);
  }

  async function sendRawOutbound(o: RawOutboundOptions): Promise<{ status: number | null; error?: string; responseBody?: string }> {
    const bytes = typeof o.body === 'string' ? Buffer.from(o.body, 'utf8') : o.body;
    const headers: Record<string, string> = { ...o.headers, 'Content-Type': 'application/json' };
    const signature =
      o.signatureOverride !== undefined ? o.signatureOverride : o.signatureSecret ? signGenesys(o.signatureSecret, bytes) : null;
    if (signature !== null) headers['X-Hub-Signature-256'] = signature;
    const result = await postOnce(o.webhookUrl, bytes, headers, o.timeoutMs ?? defaultTimeoutMs);
    outbound.push({
      kind: 'raw',
      webhookUrl: o.webhookUrl,
      raw: bytes.toString('utf8'),
      attempts: [{ delivery: 1, attempt: 1, ...result }],
      delivered: result.status !== null && result.status >= 200 && result.status < 300,
      time: new Date(),
    });
    return { status: result.status, error: result.error, responseBody: result.responseBody };
  }

  const sim: GenesysSimulator = {
    url: '',
    port: 0,
    addOrg(org) {
      if (!isNonEmptyString(org.clientId) || !isNonEmptyString(org.clientSecret)) {
        throw new TypeError('addOrg: clientId and clientSecret are required');
      }
      const integrationIds = Array.isArray(org.integrationId) ? org.integrationId : [org.integrationId];
      for (const id of integrationIds) {
        const owner = integrationOwner.get(id);
        if (owner !== undefined && owner !== org.clientId) throw new Error(`addOrg: integration ${id} already belongs to ${owner}`);
      }
      orgs.set(org.clientId, {
        clientId: org.clientId,
        clientSecret: org.clientSecret,
        integrationIds,
        tokenTtlSeconds: org.tokenTtlSeconds ?? 86_400,
      });
      for (const id of integrationIds) integrationOwner.set(id, org.clientId);
    },
    tokenRequests: (clientId) => count(tokenRequestCounts, clientId),
    tokensIssued: (clientId) => count(tokensIssuedCounts, clientId),
    revokeTokens(clientId) {
      for (const [value, token] of tokens) if (clientId === undefined || token.clientId === clientId) tokens.delete(value);
    },
    failNext(n, fault) {
      faults.add(
        n,
        (ctx) => {
          if (fault.endpoint === 'token' || ctx.endpoint === 'token') {
            return fault.endpoint === ctx.endpoint && (fault.clientId === undefined || fault.clientId === ctx.clientId);
          }
          return (
            (fault.endpoint === undefined || fault.endpoint === ctx.endpoint) &&
            (fault.integrationId === undefined || fault.integrationId === ctx.integrationId)
          );
        },
        fault,
      );
    },
    setOutage: (on, scope) => conditions.setOutage(on, scope?.integrationId),
    setLatency: (ms, scope) => conditions.setLatency(ms, scope?.integrationId),
    clearFaults() {
      faults.clear();
      conditions.clear();
    },
    reset() {
      sim.clearFaults();
      received.clear();
      calls.length = 0;
      outbound.length = 0;
      attachmentFetches.clear();
      tokenRequestCounts.clear();
      tokensIssuedCounts.clear();
    },
    received: received.items,
    calls,
    outbound,
    attachmentFetches: attachmentFetches.items,
    messages: (integrationId) =>
      received.items.filter((r): r is GenesysMessageRecord => r.kind === 'message' && (!integrationId || r.integrationId === integrationId)),
    receipts: (integrationId) =>
      received.items.filter((r): r is GenesysReceiptRecord => r.kind === 'receipt' && (!integrationId || r.integrationId === integrationId)),
    events: (integrationId) =>
      received.items.filter((r): r is GenesysEventRecord => r.kind === 'event' && (!integrationId || r.integrationId === integrationId)),
    waitFor: (predicate, timeoutMs) => received.waitFor(predicate, timeoutMs, 'Genesys inbound call'),
    waitForAttachmentFetch: (predicate, timeoutMs) => attachmentFetches.waitFor(predicate, timeoutMs, 'attachment fetch'),
    conversationIdFor,
    agentReply,
    agentTyping,
    sendRawOutbound,
    close: async () => undefined,
  };

  /** The `/_sim/*` control API: the same operations over HTTP, for demos driven from a shell. */
  async function control(req: SimRequest): Promise<SimResponse> {
    const input = req.body.length > 0 ? parseJson(req.body) : {};
    if (!isObject(input)) return { status: 400, body: { error: 'JSON object body expected' } };
    const scope = { integrationId: typeof input.integrationId === 'string' ? input.integrationId : undefined };
    const route = `${req.method} ${req.path}`;
    try {
      switch (route) {
        case 'POST /_sim/orgs':
          sim.addOrg(input as unknown as GenesysOrgOptions);
          return { status: 201, body: { ok: true } };
        case 'GET /_sim/received':
          return { status: 200, body: sim.received };
        case 'GET /_sim/calls':
          return { status: 200, body: sim.calls };
        case 'GET /_sim/outbound':
          return { status: 200, body: sim.outbound };
        case 'POST /_sim/agent-reply':
          return { status: 200, body: await sim.agentReply(input as unknown as AgentReplyOptions) };
        case 'POST /_sim/agent-typing':
          return { status: 200, body: await sim.agentTyping(input as unknown as AgentTypingOptions) };
        case 'POST /_sim/fail-next': {
          const { n, ...fault } = input as unknown as GenesysFaultOptions & { n: number };
          sim.failNext(n, fault);
          return { status: 200, body: { ok: true } };
        }
        case 'POST /_sim/outage':
          sim.setOutage(input.on === true, scope);
          return { status: 200, body: { ok: true } };
        case 'POST /_sim/latency':
          sim.setLatency(Number(input.ms ?? 0), scope);
          return { status: 200, body: { ok: true } };
        case 'POST /_sim/revoke-tokens':
          sim.revokeTokens(typeof input.clientId === 'string' ? input.clientId : undefined);
          return { status: 200, body: { ok: true } };
        case 'POST /_sim/reset':
          sim.reset();
          return { status: 200, body: { ok: true } };
        default:
          return { status: 404, body: { error: `unknown control route ${route}` } };
      }
    } catch (err) {
      return { status: 400, body: { error: (err as Error).message } };
    }
  }

  const server = await startServer(handle, { host: options.host, port: options.port, bodyLimit: GENESYS_MAX_BODY_BYTES });
  Object.assign(sim, { url: server.url, port: server.port, close: server.close });
  return sim;
}
