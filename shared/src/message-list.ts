import type { Queryable } from './db';

/**
 * A tenant's messages as the APIs list them (issue #16 lists given-up ones this way): the tenant
 * API's `GET /state/messages` (state-manager) and the admin API's `GET /tenants/:id/messages`
 * (tenant-service). Read in the caller's `db.withTenant(tenantId, …)`.
 */

export interface MessageView {
  id: string;
  direction: 'inbound' | 'outbound';
  waId: string | null;
  wamid: string | null;
  genesysMessageId: string | null;
  type: string;
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  /** Attempts made after one whose outcome was unknown: the message may have arrived twice. */
  uncertainAttempts: number;
  createdAt: string;
  updatedAt: string;
}

/**
 * What the messages of the customer `$4` (their key, phone number or BSUID) are stored under:
 * their key (their messages) and the id Genesys knows them by (agent replies, proactive messages).
 */
const CUSTOMER_MESSAGE_IDS = `SELECT unnest(ARRAY[c.wa_id, c.genesys_id]) FROM conversation_mappings c
                                WHERE c.tenant_id = $1 AND (c.wa_id = $4 OR c.phone = $4 OR c.user_id = $4)`;

/**
 * The tenant's messages, newest first, optionally only those in one status (e.g. failed, dead),
 * one direction, or of one customer (by any of their ids).
 */
export async function listMessages(db: Queryable, tenantId: string, filter: { status?: string; direction?: string; waId?: string }, limit: number, beforeId?: string) {
  const { rows } = await db.query<{
    id: string;
    direction: 'inbound' | 'outbound';
    wa_id: string | null;
    wamid: string | null;
    genesys_message_id: string | null;
    message_type: string;
    status: string;
    error_code: string | null;
    error_message: string | null;
    uncertain_attempts: number;
    created_at: Date;
    updated_at: Date;
  }>(
    `SELECT id::text, direction, wa_id, wamid, genesys_message_id, message_type, status, error_code, error_message, uncertain_attempts, created_at, updated_at
       FROM message_tracking
      WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR direction = $3)
        AND ($4::text IS NULL OR wa_id = ANY (ARRAY(${CUSTOMER_MESSAGE_IDS}) || $4::text)) AND ($5::bigint IS NULL OR id < $5)
      ORDER BY id DESC LIMIT $6`,
    [tenantId, filter.status ?? null, filter.direction ?? null, filter.waId ?? null, beforeId ?? null, limit + 1],
  );
  const page = rows.slice(0, limit);
  return {
    messages: page.map(
      (r): MessageView => ({
        id: r.id,
        direction: r.direction,
        waId: r.wa_id,
        wamid: r.wamid,
        genesysMessageId: r.genesys_message_id,
        type: r.message_type,
        status: r.status,
        errorCode: r.error_code,
        errorMessage: r.error_message,
        uncertainAttempts: r.uncertain_attempts,
        createdAt: r.created_at.toISOString(),
        updatedAt: r.updated_at.toISOString(),
      }),
    ),
    next: rows.length > limit ? page[page.length - 1].id : undefined,
  };
}
