import { OUTBOX_CHANNEL, type CredentialsClient, type Database, type Logger, type Queryable } from '@bridge/shared';
import { DeliveryError, permanent, transient } from './errors';
import type { GenesysClient } from './genesys-client';
import {
  UnmappableMessage,
  genesysOutboundToMetaSends,
  metaErrorToReason,
  metaMessageToGenesys,
  metaStatusToGenesysReceipt,
  type GenesysOutboundMessage,
  type MetaMessage,
} from './mapping';
import type { MetaClient } from './meta-client';
import type { Job, OutboxRepository } from './outbox';

export interface DeliveryDeps {
  db: Database;
  outbox: OutboxRepository;
  genesys: GenesysClient;
  meta: MetaClient;
  credentials: Pick<CredentialsClient, 'meta' | 'genesys'>;
  /** Our signed, expiring link for a Meta media id (Genesys fetches attachments itself). */
  mediaUrl: (tenantId: string, media: { mediaId: string; mimeType: string; filename?: string }) => string;
  logger: Logger;
}

interface MessageRow {
  id: string;
  wa_id: string | null;
  wamid: string | null;
  genesys_message_id: string | null;
  status: string;
  payload: Record<string, unknown>;
}

async function loadMessage(q: Queryable, tenantId: string, id: string): Promise<MessageRow | undefined> {
  const { rows } = await q.query<MessageRow>(
    'SELECT id::text, wa_id, wamid, genesys_message_id, status, payload FROM message_tracking WHERE tenant_id = $1 AND id = $2',
    [tenantId, id],
  );
  return rows[0];
}

/** Status order for outbound messages: a late `delivered` never replaces `read`. */
const STATUS_RANK: Record<string, number> = { pending: 0, sent: 1, delivered: 2, read: 3 };

/**
 * One delivery of each kind. Each either completes (its outcome and the removal of the job
 * committed together), or throws a DeliveryError for the worker to retry or end.
 */
export function createDeliveries(deps: DeliveryDeps) {
  const { db, outbox } = deps;

  /** WhatsApp → Genesys: a customer's message to the tenant's agents. */
  async function toGenesysMessage(job: Job): Promise<void> {
    const msg = await db.withTenant(job.tenantId, (q) => loadMessage(q, job.tenantId, job.messageId!));
    if (!msg || msg.status !== 'pending') {
      await db.withTenant(job.tenantId, (q) => outbox.complete(q, job));
      return;
    }
    const payload = msg.payload as { message: MetaMessage; contact?: { profile?: { name?: string }; user_id?: string } | null };
    let body;
    try {
      body = metaMessageToGenesys(payload.message, {
        tenantId: job.tenantId,
        waId: msg.wa_id ?? undefined,
        userId: payload.contact?.user_id,
        profileName: payload.contact?.profile?.name,
        mediaUrl: (media) => deps.mediaUrl(job.tenantId, media),
      });
    } catch (err) {
      if (err instanceof UnmappableMessage) throw permanent('UNMAPPABLE_MESSAGE', err.message);
      throw err;
    }
    const res = await deps.genesys.send<{ id?: string; conversationId?: string }>(job.tenantId, 'message', body);
    await db.withTenant(job.tenantId, async (q) => {
      await q.query(
        `UPDATE message_tracking SET status = 'delivered', genesys_message_id = COALESCE($3, genesys_message_id),
                genesys_conversation_id = COALESCE($4, genesys_conversation_id), error_code = NULL, error_message = NULL, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [job.tenantId, msg.id, res.id ?? null, res.conversationId ?? null],
      );
      if (res.conversationId && msg.wa_id) {
        await q.query(
          `UPDATE conversation_mappings SET conversation_id = $3, updated_at = now() WHERE tenant_id = $1 AND wa_id = $2 AND conversation_id IS DISTINCT FROM $3`,
          [job.tenantId, msg.wa_id, res.conversationId],
        );
      }
      await outbox.complete(q, job);
    });
  }

  /** Genesys → WhatsApp: an agent's reply, in as many sends as it needs (text, attachments). */
  async function toWhatsAppMessage(job: Job): Promise<void> {
    const msg = await db.withTenant(job.tenantId, (q) => loadMessage(q, job.tenantId, job.messageId!));
    if (!msg || msg.status !== 'pending') {
      await db.withTenant(job.tenantId, (q) => outbox.complete(q, job));
      return;
    }
    const credentials = await deps.credentials.meta(job.tenantId);
    if (!credentials) throw transient('META_NOT_CONFIGURED', 'The tenant has no Meta credentials yet');
    const sends = genesysOutboundToMetaSends(msg.payload as GenesysOutboundMessage, msg.wa_id!);
    if (sends.length === 0) throw permanent('EMPTY_MESSAGE', 'The agent message has nothing WhatsApp can show');
    // Parts already accepted by Meta are not sent again when a later part is retried.
    const wamids = [...((job.payload.wamids as string[] | undefined) ?? [])];
    for (let part = wamids.length; part < sends.length; part++) {
      wamids.push(await deps.meta.send(credentials, sends[part]));
      if (part < sends.length - 1) await outbox.saveProgress(job, { ...job.payload, wamids });
    }
    await db.withTenant(job.tenantId, async (q) => {
      // Statuses are tracked on the first part's wamid.
      await q.query(
        `UPDATE message_tracking SET status = 'sent', wamid = $3, payload = payload || jsonb_build_object('wamids', $4::jsonb), updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [job.tenantId, msg.id, wamids[0], JSON.stringify(wamids)],
      );
      await outbox.complete(q, job);
    });
  }

  /** A Meta status of an agent's message (or a failed send) → a Genesys receipt. */
  async function toGenesysReceipt(job: Job): Promise<void> {
    let receipt: unknown;
    let update: { messageId: string; status: string; errorCode?: string; errorMessage?: string } | undefined;
    if (job.eventId) {
      const found = await db.withTenant(job.tenantId, async (q) => {
        const { rows } = await q.query<{ payload: Record<string, unknown>; wamid: string }>(
          'SELECT payload, wamid FROM message_events WHERE tenant_id = $1 AND id = $2',
          [job.tenantId, job.eventId],
        );
        const event = rows[0];
        if (!event) return undefined;
        const { rows: messages } = await q.query<{ id: string; genesys_message_id: string; status: string }>(
          `SELECT id::text, genesys_message_id, status FROM message_tracking WHERE tenant_id = $1 AND wamid = $2 AND direction = 'outbound'`,
          [job.tenantId, event.wamid],
        );
        return { event, message: messages[0] };
      });
      if (!found) {
        await db.withTenant(job.tenantId, (q) => outbox.complete(q, job));
        return;
      }
      if (!found.message) {
        // The status can arrive before the send's wamid is committed; after a few tries it is
        // a status of a message that did not go through us (e.g. sent from Meta's own tools).
        if (job.attempts < 5) throw transient('MESSAGE_NOT_YET_KNOWN', 'No outbound message with this wamid yet');
        throw permanent('UNKNOWN_MESSAGE', 'No outbound message with this wamid');
      }
      const status = found.event.payload as Parameters<typeof metaStatusToGenesysReceipt>[0];
      receipt = metaStatusToGenesysReceipt(status, found.message.genesys_message_id);
      const newStatus = status.status === 'failed' ? 'failed' : status.status;
      if (newStatus === 'failed' ? found.message.status !== 'read' : (STATUS_RANK[newStatus] ?? -1) > (STATUS_RANK[found.message.status] ?? 99)) {
        const reason = status.status === 'failed' ? metaErrorToReason(status.errors?.[0]?.code, status.errors?.[0]?.title) : undefined;
        update = { messageId: found.message.id, status: newStatus, errorCode: reason?.code, errorMessage: reason?.message };
      }
    } else {
      receipt = job.payload.receipt;
    }
    if (receipt) await deps.genesys.send(job.tenantId, 'receipt', receipt);
    await db.withTenant(job.tenantId, async (q) => {
      if (update) {
        await q.query(
          `UPDATE message_tracking SET status = $3, error_code = COALESCE($4, error_code), error_message = COALESCE($5, error_message), updated_at = now()
            WHERE tenant_id = $1 AND id = $2`,
          [job.tenantId, update.messageId, update.status, update.errorCode ?? null, update.errorMessage ?? null],
        );
      }
      await outbox.complete(q, job);
    });
  }

  /**
   * A job that will not be retried: its message is marked with the reason, and an agent reply
   * that could not reach WhatsApp is reported to Genesys with a Failed receipt, so the agent sees it.
   */
  async function giveUp(job: Job, err: DeliveryError, state: 'failed' | 'dead'): Promise<void> {
    await db.withTenant(job.tenantId, async (q) => {
      await outbox.finish(q, job, state, `${err.code}: ${err.message}`);
      if (!job.messageId) return;
      const { rows } = await q.query<{ direction: string; wa_id: string; genesys_message_id: string }>(
        `UPDATE message_tracking SET status = $3, error_code = $4, error_message = $5, updated_at = now()
          WHERE tenant_id = $1 AND id = $2 AND status = 'pending' RETURNING direction, wa_id, genesys_message_id`,
        [job.tenantId, job.messageId, state, err.metaCode ? String(err.metaCode) : err.code, err.message],
      );
      const msg = rows[0];
      if (msg?.direction === 'outbound') {
        const reason = metaErrorToReason(err.metaCode, err.message);
        const receipt = {
          id: msg.genesys_message_id,
          channel: { to: { id: msg.wa_id, idType: 'Phone' }, time: new Date().toISOString() },
          status: 'Failed',
          direction: 'Outbound',
          isFinalReceipt: true,
          reasons: [reason],
        };
        await q.query(
          `INSERT INTO outbox (tenant_id, kind, lane, payload) VALUES ($1, 'to_genesys_receipt', $2, $3)`,
          [job.tenantId, `rcpt:${msg.genesys_message_id}`, JSON.stringify({ receipt })],
        );
        await q.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, job.tenantId]);
      }
    });
  }

  const handlers: Record<Job['kind'], (job: Job) => Promise<void>> = {
    to_genesys_message: toGenesysMessage,
    to_whatsapp_message: toWhatsAppMessage,
    to_genesys_receipt: toGenesysReceipt,
  };
  return { deliver: (job: Job) => handlers[job.kind](job), giveUp };
}

export type Deliveries = ReturnType<typeof createDeliveries>;
