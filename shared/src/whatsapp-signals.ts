import { statement, type Queryable } from './db';
import { enqueueSql, laneSql } from './outbox';

/**
 * Read marks and the typing indicator: what the bridge tells a WhatsApp customer besides
 * messages. One request does both: `POST {graph}/{phone_number_id}/messages` with
 * `{"messaging_product":"whatsapp","status":"read","message_id":"<wamid>"}` marks that customer
 * message read (blue ticks, for it and every earlier one), and with
 * `"typing_indicator":{"type":"text"}` also shows "typing…" until the business's next message or
 * 25 seconds (source: Meta's "Mark messages as read" and "Typing indicators" pages, summarised in
 * shared/reference/whatsapp-cloud-api.md, "Read marks and the typing indicator"). WhatsApp has no
 * typing indicator without a read mark.
 *
 * They are best effort: queued as `to_whatsapp_signal` jobs in the customer's own lane
 * (`lanes.signals`), never in a message lane, so they neither wait for nor hold back a message;
 * tried a few times within a minute (SIGNAL_RETRIES) and then dropped. Deduplicated here, in
 * PostgreSQL (no Redis needed), on the customer's conversation mapping: `typing_until` (no second
 * typing indicator before it) and `read_through` (the newest customer message a mark was queued
 * for). Every function runs in the caller's `db.withTenant` transaction: the job exists if, and
 * when, it commits; wake the workers after (OutboxNotifier), or let their poll find it.
 */

/**
 * A tenant's `markRead` setting (`tenants.mark_read`, migration 1732060800061): when the
 * customer's messages are marked read. `on-agent-activity` (default): when an agent (or bot)
 * types or replies, every customer message up to then; `on-delivery`: each message once Genesys
 * has accepted it; `never`: no read marks, and so no typing indicator either.
 */
export const MARK_READ_SETTINGS = ['on-agent-activity', 'on-delivery', 'never'] as const;
export type MarkReadSetting = (typeof MARK_READ_SETTINGS)[number];
export const DEFAULT_MARK_READ: MarkReadSetting = 'on-agent-activity';

/**
 * At most one typing indicator per conversation per this many ms, however many Genesys typing
 * events arrive (Genesys sends one every few seconds while the agent types; WhatsApp shows the
 * indicator for 25 s). webhook-service's TYPING_INDICATOR_INTERVAL_MS.
 */
export const DEFAULT_TYPING_INTERVAL_MS = 20_000;

/**
 * How long a signal is worth sending: a typing indicator older than `typingFreshMs` (its
 * interval) says nothing true any more; a read mark is tried for `budgetMs`; either is tried at
 * most `maxAttempts` times (with the connector's usual backoff between tries), then dropped.
 */
export const SIGNAL_RETRIES = { maxAttempts: 3, budgetMs: 60_000, typingFreshMs: DEFAULT_TYPING_INTERVAL_MS } as const;

export type SignalKind = 'typing' | 'read';

/** A `to_whatsapp_signal` job's payload: which signal, on which customer message (its wamid and `message_tracking.id`). */
export interface SignalPayload {
  signal: SignalKind;
  wamid: string;
  /** bigint, as a string: the customer message the mark is on. Not the job's `message_id` (that would make the job the message's delivery). */
  messageId: string;
  /** The customer's conversation mapping (`conversation_mappings.wa_id`), whose lane the job is in. */
  waId: string;
}

// The customer as Genesys addresses them ($2), or the number they moved to; the customer message
// the signal is on (`target`); and the conditional update of their mapping that both dedupes
// and (RETURNING a row) decides: the condition is on the mapping's own columns, so a concurrent
// update is seen (READ COMMITTED re-checks the row it waited for), and of 50 simultaneous typing
// events one queues. $3: 'typing' | 'read'; $4: the typing interval, ms; $5: the tenant setting
// a read mark needs.
function signalSql(name: string, target: string): { name: string; text: string } {
  return statement(
    name,
    `WITH who AS (
       SELECT COALESCE((SELECT moved_to FROM conversation_aliases WHERE tenant_id = $1 AND wa_id = $2), $2) AS wa_id
     ), target AS (
       SELECT m.id, m.wamid FROM message_tracking m
        WHERE m.tenant_id = $1 AND m.direction = 'inbound' AND m.wamid IS NOT NULL AND ${target}
        ORDER BY m.id DESC LIMIT 1
     ), queued AS (
       UPDATE conversation_mappings c
          SET typing_until = CASE WHEN $3::text = 'typing' THEN now() + $4::int * interval '1 millisecond' ELSE c.typing_until END,
              read_through = GREATEST(c.read_through, target.id)
         FROM target, tenants t
        WHERE c.tenant_id = $1 AND c.wa_id = (SELECT wa_id FROM who) AND t.tenant_id = $1
          AND CASE WHEN $3::text = 'typing'
                   THEN t.mark_read <> 'never' AND c.last_inbound_at > now() - interval '24 hours'
                        AND (c.typing_until IS NULL OR c.typing_until <= now())
                   ELSE t.mark_read = $5::text AND target.id > COALESCE(c.read_through, 0)
              END
       RETURNING c.wa_id, target.id, target.wamid
     )
     ${enqueueSql(
       {
         tenantId: '$1',
         kind: 'to_whatsapp_signal',
         lane: laneSql.signals('wa_id'),
         payload: `jsonb_build_object('signal', $3::text, 'wamid', wamid, 'messageId', id::text, 'waId', wa_id)`,
       },
       { from: 'queued' },
     )}`,
  );
}

/**
 * On the customer's newest message Genesys has accepted (`delivered`): one still queued for
 * Genesys (it may be failing), or given up, the agent cannot have seen, so it is not marked read.
 */
const ON_NEWEST = signalSql('queue-signal-newest', "m.wa_id = (SELECT wa_id FROM who) AND m.status = 'delivered'");
/** On one message ($6), whoever's mapping it now belongs to. */
const ON_MESSAGE = signalSql('queue-signal-message', 'm.id = $6::bigint');

async function queue(
  q: Queryable,
  sql: { name: string; text: string },
  values: [tenantId: string, customer: string, signal: SignalKind, intervalMs: number, setting: MarkReadSetting, ...rest: string[]],
): Promise<boolean> {
  const { rowCount } = await q.query({ ...sql, values });
  return (rowCount ?? 0) > 0;
}

/**
 * An agent (or bot) of the tenant typed (`typing`: a Genesys `Typing` event) or replied
 * (`reply`) to `customer` (the id Genesys addresses them by; a number they moved from counts as
 * the one they moved to). Queues, on the customer's newest message Genesys has accepted (the
 * agent cannot have seen a later one):
 * - for typing: a typing indicator (which marks it read), unless the tenant's `markRead` is
 *   `never`, the customer's 24-hour window is closed (customer-window.ts: last message more than
 *   24 h ago), or one was queued less than `typingIntervalMs` ago;
 * - else, under `on-agent-activity`: a read mark, when that message is newer than the last one
 *   marked (or queued to be).
 * A customer without a conversation mapping or any stored message gets nothing. Returns what was
 * queued, if anything.
 */
export async function queueAgentActivitySignal(
  q: Queryable,
  tenantId: string,
  customer: string,
  activity: 'typing' | 'reply',
  typingIntervalMs: number = DEFAULT_TYPING_INTERVAL_MS,
): Promise<SignalKind | undefined> {
  const interval = Math.max(0, Math.round(typingIntervalMs));
  if (activity === 'typing' && (await queue(q, ON_NEWEST, [tenantId, customer, 'typing', interval, 'on-agent-activity']))) return 'typing';
  return (await queue(q, ON_NEWEST, [tenantId, customer, 'read', interval, 'on-agent-activity'])) ? 'read' : undefined;
}

/**
 * Genesys accepted the customer message `message` (`message_tracking.id`, from `waId`): under
 * `on-delivery`, queues a read mark on it, unless a mark on it or a newer message was queued
 * already. Returns whether one was queued.
 */
export async function queueDeliveredReadMark(q: Queryable, tenantId: string, message: { id: string; waId: string | null }): Promise<boolean> {
  if (!message.waId) return false;
  return queue(q, ON_MESSAGE, [tenantId, message.waId, 'read', 0, 'on-delivery', message.id]);
}
