import type { Queryable, Quota } from '@bridge/shared';
import { advanceStatus, overallStatus, type OfferedChoice, type PartRef, type ReceiptsPosted } from './mapping';

/**
 * The deliveries' repository: what they read and record on message_tracking, message_parts,
 * message_events, conversation_mappings and conversation_aliases (and read of tenants: the
 * policy after the window). Every function runs in the
 * caller's transaction (`db.withTenant`), so that recording an outcome and completing its job
 * commit together.
 */

/** A message as a delivery needs it. */
export interface TrackedMessage {
  id: string;
  waId: string | null;
  wamid: string | null;
  genesysMessageId: string | null;
  status: string;
  /** `provider` (from WhatsApp or Genesys) or `api` (a proactive message, POST /messages). */
  origin: 'provider' | 'api';
  payload: Record<string, unknown>;
  /**
   * Where WhatsApp sends to this customer go (an agent reply is addressed to the id Genesys
   * knows, which may no longer be where they are): their mapping's phone number when known, else
   * their BSUID; the mapping is the one of the number they moved to, when they changed number;
   * without a mapping, `waId` (or the number it moved to). A phone number goes in a send's `to`,
   * a BSUID in its `recipient` (MetaClient.send).
   */
  recipient: string | null;
  /**
   * The id this customer's mapping, messages and lanes are keyed by (`conversation_mappings.wa_id`):
   * `waId`, or the number it moved to. Not always `recipient`: a customer first known by their
   * BSUID stays keyed by it once their number is known, and their sends then go to the number.
   */
  customerKey: string;
  /** The id Genesys knows this customer by, when it is not `waId` (they changed number). */
  genesysId: string | null;
  /** `provider_timestamp`: the provider's time as stored (made plausible by the webhook). */
  providerTime: Date | null;
}

/**
 * The message `id` (bigint, as a string), or undefined; with its customer's mapping (by `wa_id`,
 * or by the number that `wa_id` moved to) for `recipient` and `genesysId`.
 */
export async function findMessage(q: Queryable, tenantId: string, id: string): Promise<TrackedMessage | undefined> {
  const { rows } = await q.query<TrackedMessage>(`SELECT ${MESSAGE_COLUMNS} ${MESSAGE_FROM} WHERE m.tenant_id = $1 AND m.id = $2`, [tenantId, id]);
  return rows[0];
}

const MESSAGE_COLUMNS = `m.id::text, m.wa_id AS "waId", m.wamid, m.genesys_message_id AS "genesysMessageId", m.status, m.origin, m.payload,
            CASE WHEN a.moved_to IS NULL THEN COALESCE(c.phone, c.user_id, m.wa_id)
                 ELSE COALESCE(moved.phone, moved.user_id, a.moved_to) END AS recipient,
            COALESCE(a.moved_to, m.wa_id) AS "customerKey",
            COALESCE(c.genesys_id, moved.genesys_id) AS "genesysId",
            m.provider_timestamp AS "providerTime"`;
const MESSAGE_FROM = `FROM message_tracking m
       LEFT JOIN conversation_mappings c ON c.tenant_id = m.tenant_id AND c.wa_id = m.wa_id
       LEFT JOIN conversation_aliases a ON a.tenant_id = m.tenant_id AND a.wa_id = m.wa_id
       LEFT JOIN conversation_mappings moved ON moved.tenant_id = a.tenant_id AND moved.wa_id = a.moved_to`;

/** How long a numbered text can be answered by number, in hours: as long as the customer's window. */
export const NUMBERED_CHOICES_HOURS = 24;

/** A customer's message, with the choices its answer may refer to. */
export interface CustomerMessage extends TrackedMessage {
  /**
   * The choices the customer may be answering (for InboundContext.choices): those offered by the
   * part of an agent message this one replies to (`context.id`), when that part offered choices
   * to this customer (none, `[]`, when that part offered its choices to another customer); else,
   * for a text, the conversation's numbered choices when they were offered less than 24 hours
   * before the message. Null: none known (the message answered is not one of the bridge's).
   */
  choices: OfferedChoice[] | null;
}

/**
 * findMessage for a customer's message, with the choices it may answer (CustomerMessage), in the
 * same one query: the replied-to part by its wamid (the unique index), the numbered choices on the
 * sender's mapping, already joined. Another customer's or tenant's choices never match: the part
 * must have gone to this message's sender, and both lookups are within the tenant.
 */
export async function findCustomerMessage(q: Queryable, tenantId: string, id: string): Promise<CustomerMessage | undefined> {
  const { rows } = await q.query<CustomerMessage>(
    `SELECT ${MESSAGE_COLUMNS},
            CASE WHEN p.offered->>'to' = m.wa_id THEN p.offered->'choices'
                 WHEN p.offered IS NOT NULL THEN '[]'::jsonb
                 WHEN m.payload #>> '{message,type}' = 'text'
                      AND c.numbered_choices_at > COALESCE(m.provider_timestamp, m.created_at) - $3 * interval '1 hour'
                 THEN c.numbered_choices END AS choices
       ${MESSAGE_FROM}
       LEFT JOIN message_parts p ON p.tenant_id = m.tenant_id AND p.wamid = m.payload #>> '{message,context,id}'
      WHERE m.tenant_id = $1 AND m.id = $2`,
    [tenantId, id, NUMBERED_CHOICES_HOURS],
  );
  return rows[0];
}

/** An agent's message with what decides how it may go: the recipient's window and the tenant's policy after it. */
export interface AgentReply extends TrackedMessage {
  /**
   * When the recipient (the number the reply goes to: the one the customer moved to, if they
   * did) last wrote: `conversation_mappings.last_inbound_at`, Meta's time. Null: never.
   */
  lastInboundAt: Date | null;
  /** `tenants.window_policy`: what free text after the window becomes. */
  windowPolicy: 'reject' | 'template';
  /** `tenants.reopen_template` (`{name, language}` when the policy is `template`), as stored. */
  reopenTemplate: unknown;
  /**
   * The used-up quota that stops agent replies (the tenant's plan says `hardLimit: block-all` and
   * its use is over the limit: tenant_quota_use, migration 1732060800131); null: none.
   */
  quotaBlock: { quota: Quota; used: number; limit: number; resetsAt: string } | null;
}

/** findMessage, with the recipient's window, the tenant's policy and a used-up quota, in the same one query. */
export async function findAgentReply(q: Queryable, tenantId: string, id: string): Promise<AgentReply | undefined> {
  const { rows } = await q.query<AgentReply>(
    `SELECT ${MESSAGE_COLUMNS},
            CASE WHEN a.moved_to IS NULL THEN c.last_inbound_at ELSE moved.last_inbound_at END AS "lastInboundAt",
            t.window_policy AS "windowPolicy", t.reopen_template AS "reopenTemplate",
            (SELECT jsonb_build_object('quota', u.quota, 'used', u.used, 'limit', u.lim, 'resetsAt', u.resets_at)
               FROM tenant_quota_use(m.tenant_id) u WHERE u.hard_limit = 'block-all' AND u.used > u.lim
              ORDER BY u.resets_at DESC LIMIT 1) AS "quotaBlock"
       ${MESSAGE_FROM}
       JOIN tenants t ON t.tenant_id = m.tenant_id
      WHERE m.tenant_id = $1 AND m.id = $2`,
    [tenantId, id],
  );
  return rows[0];
}

/** One part of a message, as a delivery records it once its provider accepted it. */
export interface NewPart {
  messageId: string;
  /** 1-based. */
  part: number;
  partCount: number;
  /** What it carries: text, image, audio, video, document. */
  kind: string;
  /** An agent message's part: the wamid Meta gave it. */
  wamid?: string;
  /** A customer message's part: the id Genesys gave it. */
  genesysMessageId?: string;
  /** 'sent' (accepted by WhatsApp) or 'delivered' (accepted by Genesys). */
  status: 'sent' | 'delivered';
  /** An agent message's part that offers choices: every choice of the message, and the customer offered them. */
  offered?: OfferedChoices;
}

/** What an agent message offered a customer (message_parts.offered). */
export interface OfferedChoices {
  /** The customer it was sent to (`wa_id` of their mapping): only their answers may refer to it. */
  to: string;
  /** OutboundPlan.choices: every choice of the message, with its WhatsApp id and payload. */
  choices: OfferedChoice[];
}

/**
 * Records a part its provider accepted (once: a part already recorded stays as it is). An agent
 * message's parts are recorded as each is accepted, so that their statuses find the message
 * while later parts are still being sent.
 */
export async function recordPart(q: Queryable, tenantId: string, p: NewPart): Promise<void> {
  await q.query(
    `INSERT INTO message_parts (tenant_id, message_id, part, part_count, kind, wamid, genesys_message_id, status, offered)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
    [tenantId, p.messageId, p.part, p.partCount, p.kind, p.wamid ?? null, p.genesysMessageId ?? null, p.status, p.offered ? JSON.stringify(p.offered) : null],
  );
}

/** A Meta status, and the part of an agent message it is about (by wamid), when that is known yet. */
export interface StatusEvent {
  payload: Record<string, unknown>;
  wamid: string;
  about?: {
    messageId: string;
    /** Null for a proactive message whose agentless copy has not come back from Genesys yet. */
    genesysMessageId: string | null;
    /** The customer as Genesys addressed its message (`channel.to.id`). */
    to: string;
    receiptPosted: ReceiptsPosted;
    part: PartRef;
    /** Every accepted part's status, by part number. */
    parts: Map<number, string>;
  };
}

/** The status event `eventId`, or undefined when it is gone. */
export async function findStatusEvent(q: Queryable, tenantId: string, eventId: string): Promise<StatusEvent | undefined> {
  const { rows } = await q.query<{ payload: Record<string, unknown>; wamid: string }>(
    'SELECT payload, wamid FROM message_events WHERE tenant_id = $1 AND id = $2',
    [tenantId, eventId],
  );
  const event = rows[0];
  if (!event) return undefined;
  const { rows: parts } = await q.query<{
    messageId: string;
    genesysMessageId: string | null;
    to: string;
    receiptPosted: ReceiptsPosted;
    part: number;
    partCount: number;
    kind: string;
    status: string;
    wamid: string | null;
  }>(
    `SELECT m.id::text AS "messageId", m.genesys_message_id AS "genesysMessageId", m.wa_id AS "to", m.receipt_posted AS "receiptPosted",
            p.part, p.part_count AS "partCount", p.kind, p.status, p.wamid
       FROM message_parts mine
       JOIN message_tracking m ON m.tenant_id = mine.tenant_id AND m.id = mine.message_id AND m.direction = 'outbound'
       JOIN message_parts p ON p.tenant_id = mine.tenant_id AND p.message_id = mine.message_id
      WHERE mine.tenant_id = $1 AND mine.wamid = $2
      ORDER BY p.part`,
    [tenantId, event.wamid],
  );
  const mine = parts.find((p) => p.wamid === event.wamid);
  if (!mine) return event;
  return {
    ...event,
    about: {
      messageId: mine.messageId,
      genesysMessageId: mine.genesysMessageId,
      to: mine.to,
      receiptPosted: mine.receiptPosted,
      part: { part: mine.part, partCount: mine.partCount, kind: mine.kind },
      parts: new Map(parts.map((p) => [p.part, p.status])),
    },
  };
}

/**
 * A customer's message reached Genesys: marked delivered with the ids Genesys gave (kept when it
 * gave none; a message sent in parts keeps its first part's), and the customer's mapping learns
 * the conversation.
 */
export async function recordDeliveredToGenesys(
  q: Queryable,
  tenantId: string,
  message: Pick<TrackedMessage, 'id' | 'waId'>,
  genesys: { messageId?: string; conversationId?: string },
): Promise<void> {
  await q.query(
    `UPDATE message_tracking SET status = 'delivered', genesys_message_id = COALESCE($3, genesys_message_id),
            genesys_conversation_id = COALESCE($4, genesys_conversation_id), error_code = NULL, error_message = NULL, updated_at = now()
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, message.id, genesys.messageId ?? null, genesys.conversationId ?? null],
  );
  if (genesys.conversationId && message.waId) {
    await q.query(
      `UPDATE conversation_mappings SET conversation_id = $3, updated_at = now() WHERE tenant_id = $1 AND wa_id = $2 AND conversation_id IS DISTINCT FROM $3`,
      [tenantId, message.waId, genesys.conversationId],
    );
  }
}

/**
 * An agent's message reached WhatsApp in one or more sends (each recorded with recordPart): marked
 * sent, or further when statuses of its parts came first (refreshStatus). `wamid` keeps the first
 * part's wamid and `payload.wamids` all of them, for the tenant API.
 */
export async function recordSentToWhatsApp(q: Queryable, tenantId: string, messageId: string, wamids: string[]): Promise<void> {
  await q.query(
    `UPDATE message_tracking SET status = 'sent', wamid = $3, payload = payload || jsonb_build_object('wamids', $4::jsonb), updated_at = now()
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, messageId, wamids[0], JSON.stringify(wamids)],
  );
  await refreshStatus(q, tenantId, messageId);
}

/**
 * A message was sent to the customer `waId`: its numbered choices (those with a `number`), or
 * none, become the ones a typed number answers (conversation_mappings.numbered_choices), from now.
 * Whatever was there before is replaced: a number typed after a later message does not answer an
 * earlier menu. Writes nothing when there was nothing and there is nothing.
 */
export async function recordNumberedChoices(q: Queryable, tenantId: string, waId: string, choices: OfferedChoice[]): Promise<void> {
  const numbered = choices.filter((c) => c.number !== undefined);
  await q.query(
    `UPDATE conversation_mappings SET numbered_choices = $3::jsonb, numbered_choices_at = CASE WHEN $3::jsonb IS NULL THEN NULL ELSE now() END
      WHERE tenant_id = $1 AND wa_id = $2 AND (numbered_choices IS NOT NULL OR $3::jsonb IS NOT NULL)`,
    [tenantId, waId, numbered.length > 0 ? JSON.stringify(numbered) : null],
  );
}

/** A part's new status (from a Meta status); a failure carries its reason. */
export async function recordPartStatus(
  q: Queryable,
  tenantId: string,
  update: { messageId: string; part: number; status: string; errorCode?: string; errorMessage?: string },
): Promise<void> {
  await q.query(
    `UPDATE message_parts SET status = $4, error_code = COALESCE($5, error_code), error_message = COALESCE($6, error_message), updated_at = now()
      WHERE tenant_id = $1 AND message_id = $2 AND part = $3`,
    [tenantId, update.messageId, update.part, update.status, update.errorCode ?? null, update.errorMessage ?? null],
  );
  await refreshStatus(q, tenantId, update.messageId);
}

/**
 * A sent agent message's status follows its parts' (overallStatus: failed when one failed, with
 * that part's reason; else the least advanced part's), forward only. The message row is locked
 * first, so that the send's completion and its parts' statuses, recorded by different jobs, do
 * not race. A message still being sent (pending), failed or dead is left as it is.
 */
async function refreshStatus(q: Queryable, tenantId: string, messageId: string): Promise<void> {
  const { rows } = await q.query<{ status: string }>('SELECT status FROM message_tracking WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, messageId]);
  const current = rows[0]?.status;
  if (current !== 'sent' && current !== 'delivered' && current !== 'read') return;
  const { rows: parts } = await q.query<{ part: number; partCount: number; status: string; errorCode: string | null; errorMessage: string | null }>(
    `SELECT part, part_count AS "partCount", status, error_code AS "errorCode", error_message AS "errorMessage"
       FROM message_parts WHERE tenant_id = $1 AND message_id = $2 ORDER BY part`,
    [tenantId, messageId],
  );
  if (parts.length === 0) return;
  const next = advanceStatus(current, overallStatus(parts[0].partCount, new Map(parts.map((p) => [p.part, p.status]))));
  if (!next) return;
  const failed = parts.find((p) => p.status === 'failed');
  await q.query(
    `UPDATE message_tracking SET status = $3, error_code = COALESCE($4, error_code), error_message = COALESCE($5, error_message), updated_at = now()
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, messageId, next, failed?.errorCode ?? null, failed?.errorMessage ?? null],
  );
}

/** What Genesys has now been told about an agent message (see ReceiptsPosted); never back from final. */
export async function recordReceiptPosted(q: Queryable, tenantId: string, messageId: string, posted: 'delivered' | 'final'): Promise<void> {
  await q.query(
    `UPDATE message_tracking SET receipt_posted = $3 WHERE tenant_id = $1 AND id = $2 AND receipt_posted IS DISTINCT FROM 'final'`,
    [tenantId, messageId, posted],
  );
}

/**
 * Whether the Failed receipt of a given-up agent message is still due: no final receipt posted,
 * and the message still failed or dead (a retry, shared/src/dead-letters.ts, set it pending again:
 * its new send's receipts follow instead).
 */
export async function failedReceiptDue(q: Queryable, tenantId: string, messageId: string): Promise<boolean> {
  const { rows } = await q.query<{ posted: string | null; status: string }>(
    'SELECT receipt_posted AS posted, status FROM message_tracking WHERE tenant_id = $1 AND id = $2',
    [tenantId, messageId],
  );
  return !!rows[0] && rows[0].posted !== 'final' && (rows[0].status === 'failed' || rows[0].status === 'dead');
}

/**
 * The Failed receipt of a given-up agent message was posted: final, unless the message was retried
 * meanwhile (no longer failed or dead; the row lock orders this after the retry's update).
 */
export async function recordFailedReceiptPosted(q: Queryable, tenantId: string, messageId: string): Promise<void> {
  await q.query(`UPDATE message_tracking SET receipt_posted = 'final' WHERE tenant_id = $1 AND id = $2 AND status IN ('failed', 'dead')`, [tenantId, messageId]);
}

/**
 * A message whose delivery was given up: marked `state` with the reason, if it was still
 * pending. Returns what a Failed receipt needs (a proactive message has no Genesys id), or
 * undefined when nothing changed.
 */
export async function recordGivenUp(
  q: Queryable,
  tenantId: string,
  messageId: string,
  state: 'failed' | 'dead',
  error: { code: string; message: string },
): Promise<{ direction: string; waId: string; genesysMessageId: string | null } | undefined> {
  const { rows } = await q.query<{ direction: string; waId: string; genesysMessageId: string | null }>(
    `UPDATE message_tracking SET status = $3, error_code = $4, error_message = $5, updated_at = now()
      WHERE tenant_id = $1 AND id = $2 AND status = 'pending' RETURNING direction, wa_id AS "waId", genesys_message_id AS "genesysMessageId"`,
    [tenantId, messageId, state, error.code, error.message],
  );
  return rows[0];
}
