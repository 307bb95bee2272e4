import { lanes, type CredentialsClient, type Database, type Job, type MetaCredentials, type Outbox, type OutboxNotifier, type Queryable } from '@bridge/shared';
import { permanent, transient, type DeliveryError } from './errors';
import type { GenesysClient } from './genesys-client';
import {
  UnmappableMessage,
  agentFailedReceipt,
  genesysOutboundToMetaSends,
  metaErrorToReason,
  metaMessageToGenesys,
  metaStatusToGenesysReceipt,
  type GenesysInboundMessage,
  type GenesysOutboundMessage,
  type MetaMessage,
  type MetaSendBody,
  type MetaStatus,
} from './mapping';
import type { MetaClient } from './meta-client';
import * as messages from './messages';

export interface DeliveryDeps {
  db: Database;
  outbox: Outbox;
  /** Wakes the workers for the receipts that giving up queues. */
  notifier: Pick<OutboxNotifier, 'touch'>;
  genesys: Pick<GenesysClient, 'send'>;
  meta: Pick<MetaClient, 'send'>;
  credentials: Pick<CredentialsClient, 'meta'>;
  /** Our signed, expiring link for a Meta media id (Genesys fetches attachments itself). */
  mediaUrl: (tenantId: string, media: { mediaId: string; mimeType: string; filename?: string }) => string;
}

/**
 * One delivery of each kind: load, map, send, record. Each either completes (its outcome and the
 * removal of the job committed together), or throws a DeliveryError for the worker to retry or
 * end (see `afterFailure` in the outbox module), and `giveUp` records the end.
 */
export function createDeliveries(deps: DeliveryDeps) {
  const { db, outbox } = deps;

  /**
   * Removes the job and records the outcome (if any), in one transaction: when another worker has
   * claimed the job since (this attempt stalled past its lease), `complete` throws LeaseLost and
   * the outcome is not recorded either; that worker records its own.
   */
  const record = (job: Job, outcome?: (q: Queryable) => Promise<unknown>) =>
    db.withTenant(job.tenantId, async (q) => {
      await outbox.complete(q, job);
      if (outcome) await outcome(q);
    });

  /** The job's message, unless it is gone or no longer waits for this delivery. */
  async function pendingMessage(job: Job): Promise<messages.TrackedMessage | undefined> {
    const msg = await db.withTenant(job.tenantId, (q) => messages.findMessage(q, job.tenantId, job.messageId!));
    return msg?.status === 'pending' ? msg : undefined;
  }

  /** WhatsApp → Genesys: a customer's message to the tenant's agents. */
  async function toGenesysMessage(job: Job): Promise<void> {
    const msg = await pendingMessage(job);
    if (!msg) return record(job);
    const res = await deps.genesys.send<{ id?: string; conversationId?: string }>(job.tenantId, 'message', inboundBody(job.tenantId, msg));
    await record(job, (q) => messages.recordDeliveredToGenesys(q, job.tenantId, msg, { messageId: res.id, conversationId: res.conversationId }));
  }

  function inboundBody(tenantId: string, msg: messages.TrackedMessage): GenesysInboundMessage {
    const payload = msg.payload as { message: MetaMessage; contact?: { profile?: { name?: string }; user_id?: string } | null };
    return mapOrFail('UNMAPPABLE_MESSAGE', () =>
      metaMessageToGenesys(payload.message, {
        tenantId,
        waId: msg.waId ?? undefined,
        userId: payload.contact?.user_id,
        profileName: payload.contact?.profile?.name,
        mediaUrl: (media) => deps.mediaUrl(tenantId, media),
      }),
    );
  }

  /** Genesys → WhatsApp: an agent's reply, in as many sends as it needs (text, attachments). */
  async function toWhatsAppMessage(job: Job): Promise<void> {
    const msg = await pendingMessage(job);
    if (!msg) return record(job);
    const credentials = await deps.credentials.meta(job.tenantId);
    if (!credentials) throw transient('META_NOT_CONFIGURED', 'The tenant has no Meta credentials yet');
    const sends = mapOrFail('UNMAPPABLE_MESSAGE', () => genesysOutboundToMetaSends(msg.payload as GenesysOutboundMessage, msg.waId!));
    if (sends.length === 0) throw permanent('EMPTY_MESSAGE', 'The agent message has nothing WhatsApp can show');
    const wamids = await sendParts(job, credentials, sends);
    await record(job, (q) => messages.recordSentToWhatsApp(q, job.tenantId, msg.id, wamids));
  }

  /** Sends each part in turn; parts already accepted by Meta are not sent again when a later one is retried. */
  async function sendParts(job: Job, credentials: MetaCredentials, sends: MetaSendBody[]): Promise<string[]> {
    const wamids = [...((job.payload.wamids as string[] | undefined) ?? [])];
    for (let part = wamids.length; part < sends.length; part++) {
      wamids.push(await deps.meta.send(credentials, sends[part]));
      if (part < sends.length - 1) await outbox.saveProgress(job, { ...job.payload, wamids });
    }
    return wamids;
  }

  /** A Meta status of an agent's message (or a failed send) → a Genesys receipt. */
  async function toGenesysReceipt(job: Job): Promise<void> {
    if (!job.eventId) {
      // The Failed receipt of a send given up (see giveUp), built when it was queued.
      if (job.payload.receipt) await deps.genesys.send(job.tenantId, 'receipt', job.payload.receipt);
      return record(job);
    }
    const event = await db.withTenant(job.tenantId, (q) => messages.findStatusEvent(q, job.tenantId, job.eventId!));
    if (!event) return record(job);
    if (!event.message) {
      // The status can arrive before the send's wamid is committed; after a few tries it is
      // a status of a message that did not go through us (e.g. sent from Meta's own tools).
      if (job.attempts < 5) throw transient('MESSAGE_NOT_YET_KNOWN', 'No outbound message with this wamid yet');
      throw permanent('UNKNOWN_MESSAGE', 'No outbound message with this wamid');
    }
    const status = event.payload as MetaStatus;
    const message = event.message;
    const { receipt, update } = mapOrFail('UNMAPPABLE_RECEIPT', () => ({
      receipt: metaStatusToGenesysReceipt(status, message.genesysMessageId),
      update: statusUpdate(status, message),
    }));
    if (receipt) await deps.genesys.send(job.tenantId, 'receipt', receipt);
    await record(job, update && ((q) => messages.recordStatus(q, job.tenantId, update)));
  }

  /**
   * A job that will not be retried: its message is marked with the reason, and an agent reply
   * that could not reach WhatsApp is reported to Genesys with a Failed receipt, so the agent sees it.
   */
  async function giveUp(job: Job, err: DeliveryError, state: 'failed' | 'dead'): Promise<void> {
    const receiptQueued = await db.withTenant(job.tenantId, async (q) => {
      await outbox.finish(q, job, state, `${err.code}: ${err.message}`);
      if (!job.messageId) return false;
      const reason = { code: err.metaCode ? String(err.metaCode) : err.code, message: err.message };
      const msg = await messages.recordGivenUp(q, job.tenantId, job.messageId, state, reason);
      if (msg?.direction !== 'outbound') return false;
      const receipt = agentFailedReceipt(msg, err);
      await outbox.enqueue(q, { tenantId: job.tenantId, kind: 'to_genesys_receipt', lane: lanes.receipts(msg.genesysMessageId), payload: { receipt } });
      return true;
    });
    if (receiptQueued) deps.notifier.touch();
  }

  const handlers: Record<Job['kind'], (job: Job) => Promise<void>> = {
    to_genesys_message: toGenesysMessage,
    to_whatsapp_message: toWhatsAppMessage,
    to_genesys_receipt: toGenesysReceipt,
  };
  return { deliver: (job: Job) => handlers[job.kind](job), giveUp };
}

export type Deliveries = ReturnType<typeof createDeliveries>;

/**
 * Runs a mapping. Mapping is pure over what is stored, so what it cannot map now it never will:
 * whatever it throws (UnmappableMessage, or a payload shape it did not foresee) ends the
 * delivery at once as a permanent failure `code` with the reason, instead of a retry for the
 * whole budget while the rest of its lane waits behind it.
 */
function mapOrFail<T>(code: string, map: () => T): T {
  try {
    return map();
  } catch (err) {
    throw permanent(code, err instanceof UnmappableMessage ? err.message : `Cannot be mapped: ${(err as Error).message}`);
  }
}

/** Status order for outbound messages: a late `delivered` never replaces `read`. */
const STATUS_RANK: Record<string, number> = { pending: 0, sent: 1, delivered: 2, read: 3 };

/**
 * What a Meta status changes on its agent message: statuses only move forward, and a failure
 * replaces any status but `read` (with Meta's reason). Undefined: nothing to change.
 */
function statusUpdate(status: MetaStatus, message: { id: string; status: string }) {
  const advances = status.status === 'failed' ? message.status !== 'read' : (STATUS_RANK[status.status] ?? -1) > (STATUS_RANK[message.status] ?? 99);
  if (!advances) return undefined;
  const reason = status.status === 'failed' ? metaErrorToReason(status.errors?.[0]?.code, status.errors?.[0]?.title) : undefined;
  return { messageId: message.id, status: status.status, errorCode: reason?.code, errorMessage: reason?.message };
}
