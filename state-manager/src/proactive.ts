import { enqueue, lanes, type Queryable } from '@bridge/shared';

/**
 * SQL of proactive messages (`POST /messages`, `GET /messages/:id`): message_tracking rows of
 * origin 'api', their Idempotency-Keys (api_idempotency_keys) and their agentless copies
 * (agentless_echoes). Every function runs in the caller's `db.withTenant` transaction and takes
 * the tenant first.
 */

/** What a proactive message asks for (the parsed, normalised request body). */
export interface ProactiveRequest {
  /** The customer: their WhatsApp number (digits only) or their business-scoped user id. */
  to: string;
  template?: { name: string; language: string; parameters: string[] };
  text?: string;
}

/** A proactive message as the tenant API shows it. */
export interface ProactiveMessageView {
  /** message_tracking.id (bigint, as a string). */
  id: string;
  to: string;
  type: 'template' | 'text';
  /** pending → queued, dead → failed; the others as recorded (Meta's statuses move it forward). */
  status: 'queued' | 'sent' | 'delivered' | 'read' | 'failed';
  /** Why it failed (status failed): our code or Meta's error code, and the reason in words. */
  reason?: { code: string; message: string };
  /** The wamid Meta gave it, once sent. */
  wamid?: string;
  createdAt: string;
  updatedAt: string;
  template?: { name: string; language: string; parameters: string[] };
  text?: string;
  /** The text the customer is shown (a template's header, body and footer, filled in). */
  rendered: string;
  /**
   * Its copy in the tenant's Genesys conversation (agentless message), once it was sent:
   * `queued`, `posted` (with the Genesys message id), `skipped` (the tenant has no Genesys
   * credentials) or `failed` (Genesys refused it, or the retries ran out), with the reason.
   */
  genesysCopy?: { status: 'queued' | 'posted' | 'skipped' | 'failed'; genesysMessageId?: string; reason?: string };
}

interface MessageRow {
  id: string;
  wa_id: string;
  message_type: 'template' | 'text';
  status: string;
  error_code: string | null;
  error_message: string | null;
  wamid: string | null;
  payload: {
    to?: string;
    template?: ProactiveRequest['template'];
    text?: string;
    rendered?: string;
    agentless?: { status: 'skipped' | 'failed'; reason?: string };
  };
  created_at: Date;
  updated_at: Date;
  echo_ids: string[] | null;
}

const STATUS: Record<string, ProactiveMessageView['status']> = {
  pending: 'queued',
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  failed: 'failed',
  dead: 'failed',
};

function toView(r: MessageRow): ProactiveMessageView {
  const status = STATUS[r.status] ?? 'queued';
  const copy = r.payload.agentless
    ? { status: r.payload.agentless.status, ...(r.payload.agentless.reason ? { reason: r.payload.agentless.reason } : {}) }
    : r.echo_ids === null
      ? undefined
      : r.echo_ids.length > 0
        ? { status: 'posted' as const, genesysMessageId: r.echo_ids[0] }
        : { status: 'queued' as const };
  return {
    id: r.id,
    to: r.payload.to ?? r.wa_id,
    type: r.message_type,
    status,
    ...(status === 'failed' && r.error_code ? { reason: { code: r.error_code, message: r.error_message ?? '' } } : {}),
    ...(r.wamid ? { wamid: r.wamid } : {}),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    ...(r.message_type === 'template' ? { template: r.payload.template } : { text: r.payload.text }),
    rendered: r.payload.rendered ?? r.payload.text ?? '',
    ...(copy ? { genesysCopy: copy } : {}),
  };
}

/** The proactive message `id` (a bigint, as a string) of the tenant, or undefined. */
export async function findProactiveMessage(q: Queryable, tenantId: string, id: string): Promise<ProactiveMessageView | undefined> {
  const { rows } = await q.query<MessageRow>(
    `SELECT m.id::text, m.wa_id, m.message_type, m.status, m.error_code, m.error_message, m.wamid, m.payload, m.created_at, m.updated_at,
            e.genesys_message_ids AS echo_ids
       FROM message_tracking m
       LEFT JOIN agentless_echoes e ON e.tenant_id = m.tenant_id AND e.message_id = m.id
      WHERE m.tenant_id = $1 AND m.id = $2 AND m.origin = 'api'`,
    [tenantId, id],
  );
  return rows[0] && toView(rows[0]);
}

/** Whether the tenant has stored Meta credentials (their row; state-manager cannot decrypt them, nor needs to). */
export async function hasMetaCredentials(q: Queryable, tenantId: string): Promise<boolean> {
  const { rows } = await q.query<{ found: boolean }>(`SELECT EXISTS (SELECT 1 FROM tenant_credentials WHERE tenant_id = $1 AND type = 'meta') AS found`, [tenantId]);
  return rows[0].found;
}

/** A customer a proactive message is for, as their mapping knows them. */
export interface ProactiveCustomer {
  /**
   * What their messages to WhatsApp are stored under and queued by (lane `out:<address>`): the id
   * Genesys knows them by (`genesys_id`, else their mapping's key), as agent replies to them are.
   */
  address: string;
  /** When they last wrote (their mapping's last_inbound_at); null when they never did. */
  lastInboundAt: Date | null;
}

/**
 * The customer `id` (a phone number or a BSUID): the mapping that has it as its key, phone number
 * or BSUID, else the mapping of the number it moved to (conversation_aliases); undefined when the
 * tenant has none.
 */
export async function findCustomer(q: Queryable, tenantId: string, id: string): Promise<ProactiveCustomer | undefined> {
  const { rows } = await q.query<ProactiveCustomer>(
    `SELECT COALESCE(c.genesys_id, c.wa_id) AS address, c.last_inbound_at AS "lastInboundAt"
       FROM conversation_mappings c
      WHERE c.tenant_id = $1
        AND c.wa_id = COALESCE(
              (SELECT wa_id FROM conversation_mappings WHERE tenant_id = $1 AND (wa_id = $2 OR phone = $2 OR user_id = $2) ORDER BY wa_id = $2 DESC LIMIT 1),
              (SELECT moved_to FROM conversation_aliases WHERE tenant_id = $1 AND wa_id = $2))`,
    [tenantId, id],
  );
  return rows[0];
}

/** An Idempotency-Key used within the last 24 hours: the hash of the body it came with, and its message. */
export async function findIdempotencyKey(q: Queryable, tenantId: string, key: string): Promise<{ requestHash: string; messageId: string } | undefined> {
  const { rows } = await q.query<{ requestHash: string; messageId: string }>(
    `SELECT request_hash AS "requestHash", message_id::text AS "messageId" FROM api_idempotency_keys
      WHERE tenant_id = $1 AND key = $2 AND created_at > now() - interval '24 hours'`,
    [tenantId, key],
  );
  return rows[0];
}

/** Forgets a key bound to a message that is gone. */
export async function forgetIdempotencyKey(q: Queryable, tenantId: string, key: string, messageId: string): Promise<void> {
  await q.query('DELETE FROM api_idempotency_keys WHERE tenant_id = $1 AND key = $2 AND message_id = $3', [tenantId, key, messageId]);
}

/**
 * Stores a proactive message and queues its send (`to_whatsapp_message` in the customer's
 * outbound lane, the agents' replies' lane and order: findCustomer's address). `rendered`: the text the customer is shown.
 * Returns the message.
 */
export async function insertProactiveMessage(q: Queryable, tenantId: string, req: ProactiveRequest, rendered: string): Promise<ProactiveMessageView> {
  const type = req.template ? 'template' : 'text';
  const address = (await findCustomer(q, tenantId, req.to))?.address ?? req.to;
  const payload = { to: req.to, ...(req.template ? { template: req.template } : { text: req.text }), rendered };
  const { rows } = await q.query<MessageRow>(
    `INSERT INTO message_tracking (tenant_id, direction, origin, wa_id, message_type, payload, provider_timestamp)
     VALUES ($1, 'outbound', 'api', $2, $3, $4, now())
     RETURNING id::text, wa_id, message_type, status, error_code, error_message, wamid, payload, created_at, updated_at, NULL::text[] AS echo_ids`,
    [tenantId, address, type, JSON.stringify(payload)],
  );
  const message = rows[0];
  await enqueue(q, { tenantId, kind: 'to_whatsapp_message', lane: lanes.outbound(address), messageId: message.id });
  return toView(message);
}

/**
 * Binds an Idempotency-Key to a message, unless the key is bound already (within 24 hours; an
 * older binding is forgotten and replaced). On a concurrent first use the second transaction
 * waits for the first one's commit and then finds the key bound. Returns whether it was bound here.
 */
export async function bindIdempotencyKey(q: Queryable, tenantId: string, key: string, requestHash: string, messageId: string): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO api_idempotency_keys (tenant_id, key, request_hash, message_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, key) DO UPDATE
       SET request_hash = EXCLUDED.request_hash, message_id = EXCLUDED.message_id, created_at = now()
       WHERE api_idempotency_keys.created_at <= now() - interval '24 hours'`,
    [tenantId, key, requestHash, messageId],
  );
  return (rowCount ?? 0) > 0;
}
