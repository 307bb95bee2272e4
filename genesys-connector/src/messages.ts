import type { Queryable } from '@bridge/shared';

/**
 * The deliveries' repository: what they read and record on message_tracking, message_events and
 * conversation_mappings. Every function runs in the caller's transaction (`db.withTenant`), so
 * that recording an outcome and completing its job commit together.
 */

/** A message as a delivery needs it. */
export interface TrackedMessage {
  id: string;
  waId: string | null;
  wamid: string | null;
  genesysMessageId: string | null;
  status: string;
  payload: Record<string, unknown>;
}

/** The message `id` (bigint, as a string), or undefined. */
export async function findMessage(q: Queryable, tenantId: string, id: string): Promise<TrackedMessage | undefined> {
  const { rows } = await q.query<TrackedMessage>(
    `SELECT id::text, wa_id AS "waId", wamid, genesys_message_id AS "genesysMessageId", status, payload
       FROM message_tracking WHERE tenant_id = $1 AND id = $2`,
    [tenantId, id],
  );
  return rows[0];
}

/** A Meta status, and the agent message it is about (by wamid) when that is known yet. */
export interface StatusEvent {
  payload: Record<string, unknown>;
  wamid: string;
  message?: { id: string; genesysMessageId: string; status: string };
}

/** The status event `eventId`, or undefined when it is gone. */
export async function findStatusEvent(q: Queryable, tenantId: string, eventId: string): Promise<StatusEvent | undefined> {
  const { rows } = await q.query<{ payload: Record<string, unknown>; wamid: string }>(
    'SELECT payload, wamid FROM message_events WHERE tenant_id = $1 AND id = $2',
    [tenantId, eventId],
  );
  const event = rows[0];
  if (!event) return undefined;
  const { rows: messages } = await q.query<{ id: string; genesysMessageId: string; status: string }>(
    `SELECT id::text, genesys_message_id AS "genesysMessageId", status FROM message_tracking
      WHERE tenant_id = $1 AND wamid = $2 AND direction = 'outbound'`,
    [tenantId, event.wamid],
  );
  return { ...event, message: messages[0] };
}

/**
 * A customer's message reached Genesys: marked delivered with the ids Genesys gave (kept when it
 * gave none), and the customer's mapping learns the conversation.
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
 * An agent's message reached WhatsApp in one or more sends: marked sent; its statuses are
 * tracked on the first part's wamid, and every part's wamid is kept in the payload.
 */
export async function recordSentToWhatsApp(q: Queryable, tenantId: string, messageId: string, wamids: string[]): Promise<void> {
  await q.query(
    `UPDATE message_tracking SET status = 'sent', wamid = $3, payload = payload || jsonb_build_object('wamids', $4::jsonb), updated_at = now()
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, messageId, wamids[0], JSON.stringify(wamids)],
  );
}

/** A new status of an agent message (from a Meta status); a failure's reason replaces none it had. */
export async function recordStatus(
  q: Queryable,
  tenantId: string,
  update: { messageId: string; status: string; errorCode?: string; errorMessage?: string },
): Promise<void> {
  await q.query(
    `UPDATE message_tracking SET status = $3, error_code = COALESCE($4, error_code), error_message = COALESCE($5, error_message), updated_at = now()
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, update.messageId, update.status, update.errorCode ?? null, update.errorMessage ?? null],
  );
}

/**
 * A message whose delivery was given up: marked `state` with the reason, if it was still
 * pending. Returns what a Failed receipt needs, or undefined when nothing changed.
 */
export async function recordGivenUp(
  q: Queryable,
  tenantId: string,
  messageId: string,
  state: 'failed' | 'dead',
  error: { code: string; message: string },
): Promise<{ direction: string; waId: string; genesysMessageId: string } | undefined> {
  const { rows } = await q.query<{ direction: string; waId: string; genesysMessageId: string }>(
    `UPDATE message_tracking SET status = $3, error_code = $4, error_message = $5, updated_at = now()
      WHERE tenant_id = $1 AND id = $2 AND status = 'pending' RETURNING direction, wa_id AS "waId", genesys_message_id AS "genesysMessageId"`,
    [tenantId, messageId, state, error.code, error.message],
  );
  return rows[0];
}
