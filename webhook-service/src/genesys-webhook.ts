import type { RequestHandler } from 'express';
import { z } from 'zod';
import { appError, badInput, setContextTenant, type Database } from '@bridge/shared';
import type { OutboxNotifier } from './notifier';
import { parseWebhookBody } from './parse';
import { verifyGenesysSignature } from './signatures';
import { storeAgentMessage, storeGenesysEvent } from './store';
import type { WebhookTenants } from './tenants';

/** The outbound notification Genesys posts (reference: "Outbound: agent reply → our webhook"). */
const genesysBodySchema = z
  .object({
    id: z.string().min(1).max(256),
    type: z.string().min(1).max(64),
    channel: z
      .object({
        to: z.object({ id: z.string().min(1).max(128) }).passthrough().optional(),
        time: z.string().optional(),
        messageId: z.string().optional(),
      })
      .passthrough(),
    direction: z.string().optional(),
    status: z.string().optional(),
  })
  .passthrough();

export interface GenesysWebhookDeps {
  db: Database;
  tenants: WebhookTenants;
  notifier: OutboxNotifier;
}

function isoTime(value: string | undefined): string {
  const t = value ? Date.parse(value) : NaN;
  return new Date(Number.isFinite(t) ? t : Date.now()).toISOString();
}

/**
 * `POST /webhook/genesys/:tenantId`: the signature (base64 HMAC with the tenant's Genesys webhook
 * secret) on the raw bytes; then agent messages are stored and their sends queued, while
 * receipts and typing events are recorded only (typing is not forwarded to WhatsApp, which has
 * no typing indicator for businesses to send). Redeliveries (Genesys retries 5 times) have no
 * second effect. A reply that cannot reach WhatsApp is reported to the agent with a Failed
 * receipt, never by refusing the webhook, which Genesys would count against the conversation.
 */
export function genesysWebhook(deps: GenesysWebhookDeps): RequestHandler {
  return async (req, res) => {
    const tenantId = req.params.tenantId as string;
    const raw = req.body as Buffer;
    const signature = req.headers['x-hub-signature-256'] as string | undefined;
    if (!signature) throw appError('INVALID_SIGNATURE', 'Missing X-Hub-Signature-256');
    const genesys = await deps.tenants.genesysCredentials(tenantId);
    if (!genesys) throw appError('TENANT_NOT_FOUND', 'No tenant with Genesys credentials at this path');
    if (!Buffer.isBuffer(raw) || !verifyGenesysSignature(raw, signature, genesys.webhookSecret)) {
      throw appError('INVALID_SIGNATURE');
    }
    setContextTenant(tenantId);
    if (!(await deps.tenants.isActive(tenantId))) throw appError('TENANT_SUSPENDED');

    const body = parseWebhookBody(raw, genesysBodySchema);

    let outcome: 'queued' | 'recorded' | 'duplicate';
    if ((body.type === 'Text' || body.type === 'Structured') && body.direction !== 'Inbound') {
      const waId = body.channel.to?.id;
      if (!waId) throw badInput('channel.to.id', 'required for an agent message', 'INVALID_PAYLOAD');
      const stored = await deps.db.withTenant(tenantId, (q) =>
        storeAgentMessage(q, tenantId, { genesysMessageId: body.id, waId, type: body.type, time: isoTime(body.channel.time), payload: body }),
      );
      outcome = stored ? 'queued' : 'duplicate';
      if (stored) deps.notifier.touch();
    } else {
      const kind = body.type === 'Receipt' ? 'receipt' : body.type === 'Event' ? 'event' : body.type.toLowerCase();
      const key = body.type === 'Receipt' ? `${body.id}:${body.status ?? ''}` : body.id;
      const stored = await deps.db.withTenant(tenantId, (q) => storeGenesysEvent(q, tenantId, { kind, key, genesysMessageId: body.id, payload: body }));
      outcome = stored ? 'recorded' : 'duplicate';
    }
    res.status(200).json({ status: outcome });
  };
}
