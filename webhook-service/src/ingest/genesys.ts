import { z } from 'zod';
import { appError, badInput, isTenantId, setContextTenant } from '@bridge/shared';
import { parseWebhookBody } from '../parse';
import { verifyGenesysSignature } from '../signatures';
import { storeAgentMessage, storeGenesysEvent } from '../store';
import type { IngestDeps } from './deps';
import { genesysIsoTime } from './time';

/** The outbound notification Genesys posts (reference: "Outbound: agent reply → our webhook"). */
const genesysBodySchema = z
  .object({
    id: z.string().min(1).max(256),
    type: z.string().min(1).max(64),
    channel: z
      .object({
        to: z.object({ id: z.string().min(1).max(128) }).passthrough().optional(),
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

/** `queued`: an agent message stored and its send queued; `recorded`: an event stored; `duplicate`: already stored. */
export type GenesysIngestOutcome = 'queued' | 'recorded' | 'duplicate';

/**
 * Ingests one Genesys webhook delivery for the path's tenant: the signature (base64 HMAC with
 * the tenant's Genesys webhook secret) on the raw bytes, before anything is parsed; an unknown
 * or malformed tenant id gets the same 401 after the same work, so a request that is not
 * correctly signed learns nothing of which tenants exist. Then agent messages are stored and
 * their sends queued, while receipts and typing events are recorded only (typing is not
 * forwarded to WhatsApp, which has no typing indicator for businesses to send). Redeliveries
 * (Genesys retries 5 times) have no second effect. A reply that cannot reach WhatsApp is reported
 * to the agent with a Failed receipt later, never by refusing the webhook, which Genesys would
 * count against the conversation.
 *
 * Errors (AppError): 400 MALFORMED_JSON / INVALID_PAYLOAD, 401 INVALID_SIGNATURE,
 * 423 TENANT_SUSPENDED.
 */
export async function ingestGenesysWebhook(deps: IngestDeps, input: GenesysWebhookInput): Promise<GenesysIngestOutcome> {
  const { tenantId, signature } = input;
  const raw = input.raw ?? Buffer.alloc(0);
  if (!signature) throw appError('INVALID_SIGNATURE', 'Missing X-Hub-Signature-256');
  const genesys = isTenantId(tenantId) ? await deps.tenants.genesysCredentials(tenantId) : undefined;
  if (!verifyGenesysSignature(raw, signature, genesys?.webhookSecret)) {
    throw appError('INVALID_SIGNATURE');
  }
  setContextTenant(tenantId);
  if (!(await deps.tenants.isActive(tenantId))) throw appError('TENANT_SUSPENDED');

  const body = parseWebhookBody(raw, genesysBodySchema);

  if ((body.type === 'Text' || body.type === 'Structured') && body.direction !== 'Inbound') {
    const waId = body.channel.to?.id;
    if (!waId) throw badInput('channel.to.id', 'required for an agent message', 'INVALID_PAYLOAD');
    const stored = await deps.db.withTenant(tenantId, (q) =>
      storeAgentMessage(q, tenantId, { genesysMessageId: body.id, waId, type: body.type, time: genesysIsoTime(body.channel.time), payload: body }),
    );
    if (stored) deps.notifier.touch();
    return stored ? 'queued' : 'duplicate';
  }
  const kind = body.type === 'Receipt' ? 'receipt' : body.type === 'Event' ? 'event' : body.type.toLowerCase();
  const key = body.type === 'Receipt' ? `${body.id}:${body.status ?? ''}` : body.id;
  const stored = await deps.db.withTenant(tenantId, (q) => storeGenesysEvent(q, tenantId, { kind, key, genesysMessageId: body.id, payload: body }));
  return stored ? 'recorded' : 'duplicate';
}
