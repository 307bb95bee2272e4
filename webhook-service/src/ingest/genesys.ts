import { z } from 'zod';
import { createHash } from 'node:crypto';
import { AppError, CUSTOMER_ID_PATTERN, CUSTOMER_ID_RULE, MAX_CUSTOMER_ID_LENGTH, appError, enqueue, genesysIdType, isTenantId, lanes, setContextTenant } from '@bridge/shared';
import { parseWebhookBody } from '../parse';
import { verifyGenesysSignature } from '../signatures';
import { storeAgentMessage, storeGenesysEvent } from '../store';
import type { IngestDeps } from './deps';
import { reportBadSignature } from './security';
import { isAgentTyping, queueAgentSignal } from './signals';
import { genesysIsoTime } from './time';

/** The outbound notification Genesys posts (reference: "Outbound: agent reply → our webhook"). */
const genesysBodySchema = z
  .object({
    id: z.string().min(1).max(256),
    type: z.string().min(1).max(64),
    channel: z
      .object({
        // The customer, as we introduced them to Genesys: the one rule for customer ids (shared/src/ids.ts).
        to: z.object({ id: z.string().regex(CUSTOMER_ID_PATTERN, CUSTOMER_ID_RULE) }).passthrough().optional(),
        time: z.string().max(64).optional(),
        messageId: z.string().max(256).optional(),
      })
      .passthrough(),
    direction: z.string().max(64).optional(),
    status: z.string().max(64).optional(),
  })
  .passthrough();

export interface GenesysWebhookInput {
  /** The tenant named by the path (`/webhook/genesys/:tenantId`). */
  tenantId: string;
  /** The body's exact bytes (the signature covers them); undefined when the request had none. */
  raw: Buffer | undefined;
  /** `X-Hub-Signature-256`: `sha256=<base64>`. */
  signature: string | undefined;
}

/**
 * `queued`: an agent message stored and its send queued; `echo`: the agentless copy of one of our
 * proactive messages, recorded on it and not sent again; `recorded`: an event stored;
 * `duplicate`: already stored; `rejected`: signed, but can never be delivered (malformed, no
 * recipient, an unknown type, a suspended tenant): recorded, and reported to the agent with a
 * Failed receipt when it names a message and a recipient.
 */
export type GenesysIngestOutcome = 'queued' | 'echo' | 'recorded' | 'duplicate' | 'rejected';

/** The types Genesys's outbound webhook posts (reference: "Outbound: agent reply → our webhook"). */
const AGENT_MESSAGE_TYPES = new Set(['Text', 'Structured']);
const EVENT_TYPES: Record<string, string> = { Receipt: 'receipt', Event: 'event' };

/**
 * Ingests one Genesys webhook delivery for the path's tenant: the signature (base64 HMAC with
 * the tenant's Genesys webhook secret) on the raw bytes, before anything is parsed; an unknown
 * or malformed tenant id gets the same 401 after the same work, so a request that is not
 * correctly signed learns nothing of which tenants exist. Then agent messages are stored and
 * their sends queued, and receipts and typing events recorded; an agent's typing event and
 * reply also queue a typing indicator or read mark for the customer, as the tenant's `markRead`
 * says (ingest/signals.ts). Redeliveries (Genesys retries 5 times) have no second effect.
 *
 * Once the signature verifies, the answer is 2xx: Genesys documents that any other non-2xx than
 * 429/5xx can fail the whole conversation for the agent (genesys-open-messaging.md, "Timeouts
 * and retries"). What can never be delivered — malformed JSON, a body that fails the schema, an
 * agent message without `channel.to.id`, an unknown type, any message of a suspended tenant — is
 * recorded (`rejected`) and, when it names its message id and recipient, reported to the agent
 * with a Failed receipt through the outbox. The only non-2xx after the signature is the 503 of a
 * database that cannot store it (Genesys retries that).
 *
 * Errors (AppError): 401 INVALID_SIGNATURE; database errors are thrown.
 */
export async function ingestGenesysWebhook(deps: IngestDeps, input: GenesysWebhookInput): Promise<GenesysIngestOutcome> {
  const { tenantId, signature } = input;
  const raw = input.raw ?? Buffer.alloc(0);
  if (!signature) {
    reportBadSignature(deps, 'genesys', [tenantId], 'missing', 'POST /webhook/genesys/:tenantId');
    throw appError('INVALID_SIGNATURE', 'Missing X-Hub-Signature-256');
  }
  const genesys = isTenantId(tenantId) ? await deps.tenants.genesysCredentials(tenantId) : undefined;
  if (!verifyGenesysSignature(raw, signature, genesys?.webhookSecret)) {
    reportBadSignature(deps, 'genesys', [tenantId], 'mismatch', 'POST /webhook/genesys/:tenantId');
    throw appError('INVALID_SIGNATURE');
  }
  setContextTenant(tenantId);

  let body: z.infer<typeof genesysBodySchema>;
  try {
    body = parseWebhookBody(raw, genesysBodySchema);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return reject(deps, tenantId, raw, `${err.code}: ${err.message}`);
  }
  const standing = await deps.tenants.standing(tenantId);
  if (standing?.status === 'pending') {
    return reject(deps, tenantId, raw, 'TENANT_PENDING: the tenant is pending activation; nothing is sent to WhatsApp', body);
  }
  if (standing?.status !== 'active') {
    const why = standing?.suspendedReason ? ` (${standing.suspendedReason})` : '';
    return reject(deps, tenantId, raw, `TENANT_SUSPENDED: the tenant is suspended${why}; nothing is sent to WhatsApp`, body);
  }

  if (AGENT_MESSAGE_TYPES.has(body.type) && body.direction !== 'Inbound') {
    const waId = body.channel.to?.id;
    if (!waId) return reject(deps, tenantId, raw, 'INVALID_PAYLOAD: channel.to.id is required for an agent message', body);
    // A Text may be the agentless copy of a proactive message: recognised by its id or its text.
    const text = body.type === 'Text' && typeof body.text === 'string' ? body.text : undefined;
    const outcome = await deps.db.withTenant(tenantId, async (q) => {
      const stored = await storeAgentMessage(q, tenantId, { genesysMessageId: body.id, waId, type: body.type, time: genesysIsoTime(body.channel.time), payload: body, text });
      // An agent's reply (not the copy of a proactive message) is agent activity: a read mark, per markRead.
      if (stored === 'queued') await queueAgentSignal(q, deps, tenantId, waId, 'reply');
      return stored;
    });
    if (outcome === 'queued') deps.notifier.touch();
    return outcome;
  }
  const kind = EVENT_TYPES[body.type];
  if (!kind) return reject(deps, tenantId, raw, `UNSUPPORTED_TYPE: a message of type ${body.type} cannot be sent to WhatsApp`, body);
  const key = body.type === 'Receipt' ? `${body.id}:${body.status ?? ''}` : body.id;
  const stored = await deps.db.withTenant(tenantId, async (q) => {
    const isNew = await storeGenesysEvent(q, tenantId, { kind, key, genesysMessageId: body.id, payload: body });
    return { isNew, signal: isNew && isAgentTyping(body) && (await queueAgentSignal(q, deps, tenantId, body.channel.to?.id, 'typing')) };
  });
  if (stored.signal) deps.notifier.touch();
  return stored.isNew ? 'recorded' : 'duplicate';
}

/**
 * Records a signed request that can never be delivered (once per body: its SHA-256 is the key)
 * and, the first time, queues a Failed receipt for it when it is an outbound message naming its
 * id and recipient (a receipt needs both): the agent sees the reply did not go out.
 */
async function reject(deps: IngestDeps, tenantId: string, raw: Buffer, reason: string, body?: unknown): Promise<'rejected'> {
  const parsed = body ?? parseLoosely(raw);
  const ref = receiptTarget(parsed);
  const queued = await deps.db.withTenant(tenantId, async (q) => {
    const stored = await storeGenesysEvent(q, tenantId, {
      kind: 'rejected',
      key: `rejected:${createHash('sha256').update(raw).digest('hex')}`,
      genesysMessageId: ref?.id ?? null,
      payload: { reason, body: parsed ?? null },
    });
    if (!stored || !ref) return false;
    const receipt = {
      id: ref.id,
      channel: { to: { id: ref.to, idType: genesysIdType(ref.to) }, time: new Date().toISOString() },
      status: 'Failed',
      direction: 'Outbound',
      isFinalReceipt: true,
      // Genesys's reason codes: genesys-open-messaging.md, Receipts.
      reasons: [{ code: 'InvalidMessageStructure', message: reason.slice(0, 1000) }],
    };
    await enqueue(q, { tenantId, kind: 'to_genesys_receipt', lane: lanes.receipts(ref.id), payload: { receipt } });
    return true;
  });
  if (queued) deps.notifier.touch();
  return 'rejected';
}

/** The body as JSON if it is JSON at all (else undefined): kept with the record of its rejection. */
function parseLoosely(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The message id and recipient of an outbound agent message, when the body names both as bounded strings. */
function receiptTarget(body: unknown): { id: string; to: string } | undefined {
  const b = body as { id?: unknown; direction?: unknown; type?: unknown; channel?: { to?: { id?: unknown } } } | null | undefined;
  const id = b?.id;
  const to = b?.channel?.to?.id;
  const bounded = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
  if (!bounded(id, 256) || !bounded(to, MAX_CUSTOMER_ID_LENGTH) || b?.direction === 'Inbound' || b?.type === 'Receipt' || b?.type === 'Event') return undefined;
  return { id, to };
}
