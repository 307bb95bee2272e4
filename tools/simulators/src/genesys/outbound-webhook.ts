/**
 * The other direction: what Genesys POSTs to an integration's outbound webhook — agent replies,
 * typing events and agentless messages, signed (base64 HMAC) and retried the way Genesys does —
 * and raw bodies for tests of our webhook's checks.
 */
import { postOnce, postWithRetries, Recorder, type DeliveryAttempt } from '../common';
import { signGenesys } from '../signatures';
import type { GenesysAttachment } from './open-messaging-schema';
import { newGenesysId } from './open-messaging';

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
  /**
   * `content[]` as Genesys normalizes it: attachments, and from bot flows (`type: "Structured"`,
   * `originatingEntity: "Bot"`) `QuickReply`, `Card`, `Carousel`, ... items (README, reference notes).
   */
  content?: Array<{ contentType: string; attachment?: Partial<GenesysAttachment> & Record<string, unknown>; [item: string]: unknown }>;
  /** Default "Text"; "Structured" for a bot's quick replies, cards and carousels. */
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

/** An integration's outbound webhook, as configured in Genesys: where agentless messages go. */
export interface OutboundWebhookTarget {
  integrationId: string;
  /** Our outbound webhook, e.g. `http://127.0.0.1:3000/webhook/genesys/acme`. */
  webhookUrl: string;
  /** The integration's outbound webhook signature secret. */
  secret: string;
  /** Sent on every call, like an integration's `webhookHeaders`. */
  headers?: Record<string, string>;
  /** `channel.from.nickname` of what it sends; default "Acme Support". */
  nickname?: string;
}

export interface OutboundRecord {
  kind: 'reply' | 'typing' | 'agentless' | 'raw';
  /** The Genesys message id of the body (not for raw bodies). */
  messageId?: string;
  webhookUrl: string;
  raw: string;
  attempts: DeliveryAttempt[];
  delivered: boolean;
  time: Date;
}

/** Sends to webhooks for one simulator, with its default retry delay and timeout, and records every send. */
export class OutboundWebhook {
  readonly outbound = new Recorder<OutboundRecord>();
  private readonly targets = new Map<string, OutboundWebhookTarget>();

  constructor(private readonly defaults: { retryDelayMs: number; timeoutMs: number }) {}

  /** Configures (or replaces) an integration's outbound webhook. */
  setTarget(target: OutboundWebhookTarget): void {
    this.targets.set(target.integrationId, { ...target });
  }

  targetOf(integrationId: string): OutboundWebhookTarget | undefined {
    return this.targets.get(integrationId);
  }

  /**
   * An agentless message, as Genesys delivers it to the integration's webhook: normalized like an
   * agent's message (type Text, direction Outbound), but with no `originatingEntity`, since no
   * agent wrote it (Genesys documents no value for it). `onDelivered` sees the result before the
   * send is recorded in `outbound` (so that whoever waits for that record finds it complete).
   */
  async agentless(
    target: OutboundWebhookTarget,
    message: { id: string; to: string; text: string; time: string },
    onDelivered?: (result: OutboundDeliveryResult) => void,
  ): Promise<OutboundDeliveryResult> {
    const o: OutboundCommonOptions = { ...target, id: message.id, to: message.to, time: message.time };
    const { direction, ...rest } = buildOutbound(o);
    return this.deliver('agentless', o, { ...rest, type: 'Text', text: message.text, direction } as GenesysOutboundMessage, onDelivered);
  }

  async agentReply(o: AgentReplyOptions): Promise<OutboundDeliveryResult> {
    const body = buildOutbound(o);
    body.type = o.type ?? 'Text';
    if (o.text !== undefined) body.text = o.text;
    if (o.content !== undefined) body.content = o.content;
    body.originatingEntity = o.originatingEntity ?? 'Human';
    // `direction` last, as in Genesys' own payloads (unless `extra` overrides it).
    const { direction, ...rest } = body;
    return this.deliver('reply', o, { ...rest, direction, ...o.extra } as GenesysOutboundMessage);
  }

  async agentTyping(o: AgentTypingOptions): Promise<OutboundDeliveryResult> {
    const base = buildOutbound(o);
    const { direction, ...rest } = base;
    const body: GenesysOutboundMessage = {
      ...rest,
      type: 'Event',
      events: [{ eventType: 'Typing', typing: { type: 'On', duration: o.durationMs ?? 5000 } }],
      originatingEntity: 'Human',
      direction,
    };
    return this.deliver('typing', o, body);
  }

  /** One POST of arbitrary bytes, no retries. */
  async sendRaw(o: RawOutboundOptions): Promise<{ status: number | null; error?: string; responseBody?: string }> {
    const bytes = typeof o.body === 'string' ? Buffer.from(o.body, 'utf8') : o.body;
    const headers: Record<string, string> = { ...o.headers, 'Content-Type': 'application/json' };
    const signature =
      o.signatureOverride !== undefined ? o.signatureOverride : o.signatureSecret ? signGenesys(o.signatureSecret, bytes) : null;
    if (signature !== null) headers['X-Hub-Signature-256'] = signature;
    const result = await postOnce(o.webhookUrl, bytes, headers, o.timeoutMs ?? this.defaults.timeoutMs);
    this.outbound.push({
      kind: 'raw',
      webhookUrl: o.webhookUrl,
      raw: bytes.toString('utf8'),
      attempts: [{ delivery: 1, attempt: 1, ...result }],
      delivered: result.status !== null && result.status >= 200 && result.status < 300,
      time: new Date(),
    });
    return { status: result.status, error: result.error, responseBody: result.responseBody };
  }

  /** Delivers like Genesys: retries on timeout, network error, 429 and 5xx, fixed delay. */
  private async deliver(
    kind: OutboundRecord['kind'],
    o: OutboundCommonOptions,
    body: GenesysOutboundMessage,
    onDelivered?: (result: OutboundDeliveryResult) => void,
  ): Promise<OutboundDeliveryResult> {
    const raw = JSON.stringify(body);
    const signature = signGenesys(o.secret, raw);
    const headers = {
      ...o.headers,
      'Content-Type': 'application/json',
      'User-Agent': 'Genesys-Open-Messaging-Simulator',
      'X-Hub-Signature-256': signature,
    };
    const retryDelayMs = o.retryDelayMs ?? this.defaults.retryDelayMs;
    const attempts: DeliveryAttempt[] = [];
    let delivered = false;
    for (let delivery = 1; delivery <= (o.duplicate ? 2 : 1); delivery++) {
      const result = await postWithRetries({
        url: o.webhookUrl,
        body: Buffer.from(raw, 'utf8'),
        headers,
        timeoutMs: o.timeoutMs ?? this.defaults.timeoutMs,
        maxAttempts: (o.maxRetries ?? 5) + 1,
        delivery,
        succeeded: (s) => s >= 200 && s < 300,
        retryable: (s) => s === null || s === 429 || s >= 500,
        delayFor: () => retryDelayMs,
      });
      attempts.push(...result.attempts);
      if (delivery === 1) delivered = result.delivered;
    }
    const result = { id: body.id, body, raw, signature, attempts, statuses: attempts.map((a) => a.status), delivered };
    onDelivered?.(result);
    this.outbound.push({ kind, messageId: body.id, webhookUrl: o.webhookUrl, raw, attempts, delivered, time: new Date() });
    return result;
  }
}

/** The fields every outbound body shares, `type` Text until the caller says otherwise. */
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
