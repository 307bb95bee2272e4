import { customerWindow, isBsuid, isWhatsAppPhone, lockCustomers, statement, type Queryable } from '@bridge/shared';

/** SQL for the tenant API's data. Every function takes the tenant first and filters by it. */

export interface Mapping {
  /**
   * The customer's key: the id the bridge first knew them by — their phone number, or their
   * business-scoped user id (BSUID) when Meta gave no number. Their messages are listed under it.
   */
  waId: string;
  /** Their phone number, when known (a customer with a username may hide it). */
  phone: string | null;
  /** Their business-scoped user id (BSUID, e.g. `US.13491208655302741918`), when known. */
  userId: string | null;
  /** Their WhatsApp username, when they have one and Meta showed it. */
  username: string | null;
  contactName: string | null;
  conversationId: string | null;
  lastMessageAt: string;
  createdAt: string;
  updatedAt: string;
  /**
   * WhatsApp's customer-service window (shared `customerWindow`): open while less than 24 h have
   * passed since the customer's newest message (Meta's `timestamp`); windowExpiresAt (ISO) is that
   * time + 24 h, null (and windowOpen false) when the customer never wrote.
   */
  windowOpen: boolean;
  windowExpiresAt: string | null;
}

interface MappingRow {
  wa_id: string;
  phone: string | null;
  user_id: string | null;
  username: string | null;
  contact_name: string | null;
  conversation_id: string | null;
  last_message_at: Date;
  last_inbound_at: Date | null;
  created_at: Date;
  updated_at: Date;
  cursor_us: string;
}

const MAPPING_COLUMNS = `wa_id, phone, user_id, username, contact_name, conversation_id, last_message_at, last_inbound_at, created_at, updated_at,
  (extract(epoch FROM last_message_at) * 1000000)::bigint::text AS cursor_us`;

/** `now`: the instant the window is judged at (one for a whole page, so its rows agree). */
const toMapping = (r: MappingRow, now = new Date()): Mapping => ({
  waId: r.wa_id,
  phone: r.phone,
  userId: r.user_id,
  username: r.username,
  contactName: r.contact_name,
  conversationId: r.conversation_id,
  lastMessageAt: r.last_message_at.toISOString(),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  ...customerWindow(r.last_inbound_at, now),
});

/**
 * Counts from indexes and counters only: mappings by the (tenant_id, ...) indexes, messages by
 * the sharded daily usage rows the message_tracking trigger keeps. Active = a message in the last
 * 24 hours (WhatsApp's customer-service window).
 */
const STATS = statement(
  'state-stats',
  `SELECT
       (SELECT count(*) FROM conversation_mappings WHERE tenant_id = $1) AS total_mappings,
       (SELECT count(*) FROM conversation_mappings WHERE tenant_id = $1 AND last_message_at > now() - interval '24 hours') AS active_conversations,
       (SELECT COALESCE(sum(inbound + outbound), 0) FROM tenant_usage_daily WHERE tenant_id = $1) AS total_messages,
       (SELECT COALESCE(sum(inbound + outbound), 0) FROM tenant_usage_daily
         WHERE tenant_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date) AS today_messages`,
);

export async function stats(db: Queryable, tenantId: string) {
  const { rows } = await db.query<{ total_mappings: string; active_conversations: string; total_messages: string; today_messages: string }>({
    ...STATS,
    values: [tenantId],
  });
  const r = rows[0];
  return {
    tenantId,
    totalMappings: Number(r.total_mappings),
    totalMessages: Number(r.total_messages),
    activeConversations: Number(r.active_conversations),
    todayMessages: Number(r.today_messages),
  };
}

export interface Cursor {
  /** last_message_at in microseconds since the epoch (exact, unlike a JS Date). */
  us: string;
  waId: string;
}

export async function conversations(db: Queryable, tenantId: string, limit: number, after?: Cursor) {
  const { rows } = await db.query<MappingRow>(
    `SELECT ${MAPPING_COLUMNS} FROM conversation_mappings
      WHERE tenant_id = $1
        AND ($2::bigint IS NULL OR (last_message_at, wa_id) < (timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3::text))
      ORDER BY last_message_at DESC, wa_id DESC
      LIMIT $4`,
    [tenantId, after?.us ?? null, after?.waId ?? null, limit + 1],
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const now = new Date();
  return {
    conversations: page.map((r) => toMapping(r, now)),
    next: rows.length > limit && last ? ({ us: last.cursor_us, waId: last.wa_id } satisfies Cursor) : undefined,
  };
}

/** The mapping of the customer `id` (their key, phone number or BSUID): by key first. */
const FIND_CUSTOMER = `SELECT wa_id FROM conversation_mappings WHERE tenant_id = $1 AND (wa_id = $2 OR phone = $2 OR user_id = $2) ORDER BY wa_id = $2 DESC LIMIT 1`;

/**
 * Creates or updates the mapping of the customer `m.waId`, a phone number or a BSUID: the mapping
 * that has it (as its key or as either id) is updated; else one keyed by it is created, with it as
 * its phone number or BSUID. The id's lock (lockCustomers) comes first, as on the webhook's path.
 */
export async function upsertMapping(db: Queryable, tenantId: string, m: { waId: string; contactName?: string; conversationId?: string }) {
  await lockCustomers(db, tenantId, [m.waId]);
  const { rows } = await db.query<MappingRow & { created: boolean }>(
    `WITH found AS (${FIND_CUSTOMER})
     INSERT INTO conversation_mappings AS m (tenant_id, wa_id, phone, user_id, contact_name, conversation_id)
     SELECT $1, COALESCE(found.wa_id, $2),
            CASE WHEN found.wa_id IS NULL THEN $5::text END, CASE WHEN found.wa_id IS NULL THEN $6::text END, $3, $4
       FROM (SELECT 1) AS one LEFT JOIN found ON true
     ON CONFLICT (tenant_id, wa_id) DO UPDATE SET
       contact_name = COALESCE(EXCLUDED.contact_name, m.contact_name),
       conversation_id = COALESCE(EXCLUDED.conversation_id, m.conversation_id),
       updated_at = now()
     RETURNING ${MAPPING_COLUMNS}, (xmax = 0) AS created`,
    [tenantId, m.waId, m.contactName ?? null, m.conversationId ?? null, isWhatsAppPhone(m.waId) ? m.waId : null, isBsuid(m.waId) ? m.waId : null],
  );
  return { mapping: toMapping(rows[0]), created: rows[0].created };
}

/** The mapping of the customer `waId`: their key, phone number or BSUID. */
export async function findMapping(db: Queryable, tenantId: string, waId: string): Promise<Mapping | undefined> {
  const { rows } = await db.query<MappingRow>(
    `SELECT ${MAPPING_COLUMNS} FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = (${FIND_CUSTOMER})`,
    [tenantId, waId],
  );
  return rows[0] && toMapping(rows[0]);
}

