import { agentlessTextHash, enqueueSql, jsonbParam, laneSql, lockCustomers, statement, type Database, type Queryable } from '@bridge/shared';

/**
 * Where webhooks are written: one transaction per tenant decides what is new and queues its
 * delivery, each kind in one statement (the rows are inserted by a CTE and queued from what it
 * returned, by the outbox's `enqueueSql`). The delivery workers are woken after commit (see
 * OutboxNotifier in shared/src/outbox).
 */

/** JSON for a jsonb parameter, U+0000 and lone surrogates as U+FFFD (jsonbParam: PostgreSQL refuses both). */
export const jsonb = jsonbParam;

/** A text parameter, without U+0000, which PostgreSQL's text refuses too (lone surrogates are sent as U+FFFD anyway). */
const textParam = (value: string): string => value.replaceAll('\u0000', '\ufffd');

/** Named statements for the webhook hot path (planned once per connection). */
const STORE_MESSAGES = statement(
  'store-meta-messages',
  `WITH input AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(n int, wa_id text, wamid text, type text, ts double precision, payload jsonb)
       ), ins AS (
         INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type, payload, provider_timestamp)
         SELECT $1, 'inbound', wa_id, wamid, type, payload, to_timestamp(ts) FROM input ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING id, wa_id, provider_timestamp
       )
       ${enqueueSql(
         { tenantId: '$1', kind: 'to_genesys_message', lane: laneSql.inbound('wa_id'), ordering: 'provider_timestamp', messageId: 'id' },
         { from: 'ins', orderBy: 'id' },
       )}`,
);
const STORE_STATUSES = statement(
  'store-meta-statuses',
  `WITH input AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(n int, wamid text, status text, ts double precision, payload jsonb)
       ), ins AS (
         INSERT INTO message_events (tenant_id, source, kind, provider_key, wamid, payload)
         SELECT $1, 'meta', status, wamid || ':' || status, wamid, payload FROM input ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING id, wamid, kind
       ), matched AS (
         -- Every receipt of one agent message goes through one lane, whichever part the status is
         -- about: the message is found by any part's wamid. A status that comes before its send
         -- is recorded waits in its wamid's lane, and the connector moves it once it can.
         SELECT ins.id, ins.wamid, ins.kind, COALESCE(m.genesys_message_id, ins.wamid) AS lane_key
           FROM ins
           LEFT JOIN message_parts p ON p.tenant_id = $1 AND p.wamid = ins.wamid
           LEFT JOIN message_tracking m ON m.tenant_id = p.tenant_id AND m.id = p.message_id
       )
       ${enqueueSql(
         {
           tenantId: '$1',
           kind: 'to_genesys_receipt',
           lane: laneSql.receipts('lane_key'),
           // The sanitised time (InboundStatus.ts), never the raw payload's: a status whose
           // timestamp is not a number must not fail the whole webhook (and Meta's every retry).
           ordering: '(SELECT to_timestamp(i.ts) FROM input i WHERE i.wamid = matched.wamid AND i.status = matched.kind ORDER BY i.n LIMIT 1)',
           eventId: 'id',
         },
         { from: 'matched', orderBy: 'id' },
       )}`,
);
// Across tenants, by a name from outside: SECURITY DEFINER functions (migration 1732060800020).
// The owner by Meta credentials first, then a tenant provisioned for the number (AUTO_PROVISION, migration 1732060800150).
const TENANTS_BY_PHONE_NUMBER = statement(
  'tenants-by-phone-number',
  `SELECT phone_number_id, tenant_id, 0 AS rank FROM tenants_by_phone_number_ids($1::text[])
   UNION ALL SELECT phone_number_id, tenant_id, 1 FROM provisioned_number_tenants($1::text[]) ORDER BY rank`,
);
// Tenants sharing a platform-wide app may share its token: any of them proves the handshake.
const TENANT_BY_VERIFY_TOKEN_HASH = statement('tenant-by-verify-token-hash', 'SELECT tenant_by_verify_token_hash($1) AS tenant_id');
/**
 * The customers of a batch (one input row per customer: their phone number and/or BSUID, name,
 * username) → their mappings, found by either id, else created; returns each row's customer key
 * (`conversation_mappings.wa_id`, what their messages and lanes are keyed by). A customer's key
 * is the id the bridge first knew them by: found by BSUID, else by phone number, else their phone
 * number, else their BSUID. The mapping learns the ids it lacked, except a phone number that is
 * already another mapping's (which stays theirs). Upserted rows are sorted by key so concurrent
 * webhooks lock mapping rows in one order. The customer's window opens at their message's time,
 * but never later than its receipt: a time ahead of our clock (ingest/time.ts lets a day through)
 * must not hold it open beyond 24 hours.
 */
const STORE_CUSTOMERS = statement(
  'store-customers',
  `WITH input AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(n int, phone text, user_id text, name text, username text, pnid text, ts double precision)
       ), found AS (
         SELECT i.*,
                (SELECT m.wa_id FROM conversation_mappings m
                  WHERE m.tenant_id = $1 AND (m.user_id = i.user_id OR m.wa_id = i.user_id) ORDER BY m.wa_id = i.user_id DESC LIMIT 1) AS by_user,
                (SELECT m.wa_id FROM conversation_mappings m
                  WHERE m.tenant_id = $1 AND (m.phone = i.phone OR m.wa_id = i.phone) ORDER BY m.wa_id = i.phone DESC LIMIT 1) AS by_phone
           FROM input i
       ), keyed AS (
         SELECT n, COALESCE(by_user, by_phone, phone, user_id) AS key,
                CASE WHEN by_phone IS NULL OR by_phone = COALESCE(by_user, by_phone) THEN phone END AS phone,
                user_id, name, username, pnid, ts
           FROM found
       ), upserted AS (
         INSERT INTO conversation_mappings AS m (tenant_id, wa_id, phone, user_id, contact_name, username, phone_number_id, last_message_at, last_inbound_at)
         SELECT $1, key, max(phone), max(user_id), max(name), max(username), max(pnid), to_timestamp(max(ts)), LEAST(to_timestamp(max(ts)), now())
           FROM keyed GROUP BY key ORDER BY key
         ON CONFLICT (tenant_id, wa_id) DO UPDATE SET
           phone = COALESCE(EXCLUDED.phone, m.phone),
           user_id = COALESCE(EXCLUDED.user_id, m.user_id),
           contact_name = COALESCE(EXCLUDED.contact_name, m.contact_name),
           username = COALESCE(EXCLUDED.username, m.username),
           phone_number_id = COALESCE(EXCLUDED.phone_number_id, m.phone_number_id),
           last_message_at = GREATEST(m.last_message_at, EXCLUDED.last_message_at),
           last_inbound_at = GREATEST(m.last_inbound_at, EXCLUDED.last_inbound_at),
           updated_at = now()
       )
       SELECT n, key FROM keyed`,
);

/** A customer as a webhook names them: their phone number, their business-scoped user id (BSUID), or both. */
export interface CustomerIds {
  phone?: string | null;
  userId?: string | null;
}

export interface InboundMessage {
  /** Who sent it; null when the message names nobody (stored, with no customer). */
  customer: CustomerIds | null;
  wamid: string;
  type: string;
  /** Unix seconds, from Meta's `timestamp`, sanitised (ingest/time.ts): SQL reads this, never the payload's. */
  ts: number;
  payload: unknown;
}

export interface InboundStatus {
  wamid: string;
  status: string;
  /** Unix seconds, from Meta's `timestamp`, sanitised (ingest/time.ts): SQL reads this, never the payload's. */
  ts: number;
  payload: unknown;
}

/** A customer's number change (a `user_changed_number` system message), from its wamid: their old number, their new one. */
export interface NumberChange {
  wamid: string;
  from: string;
  to: string;
}

/** A message's sender as its webhook shows them (at least one id). */
export interface ContactSeen extends CustomerIds {
  name: string | null;
  /** `contacts[].profile.username`: their WhatsApp username, when they have one. */
  username?: string | null;
  phoneNumberId: string;
  ts: number;
}

/**
 * Stores a tenant's share of a Meta webhook: its customers first (storeCustomers: each found by
 * phone number or BSUID, else created), then new messages (by wamid, each keyed by its sender's
 * customer key) and statuses (by wamid + status) are inserted, duplicates skipped, and every new
 * one gets its delivery queued, all in the caller's transaction. A number change moves its
 * customer's conversation (moveConversation), once: a redelivered one changes nothing. Returns
 * how many were new.
 */
export async function storeMetaUpdates(
  q: Queryable,
  tenantId: string,
  input: { messages: InboundMessage[]; statuses: InboundStatus[]; contacts: ContactSeen[]; numberChanges?: NumberChange[] },
): Promise<{ messages: number; statuses: number }> {
  let newMessages = 0;
  let newStatuses = 0;
  const changes = (input.numberChanges ?? []).map((c) => ({ wamid: textParam(c.wamid), from: textParam(c.from), to: textParam(c.to) }));
  const numberChanges = changes.length ? await notYetStored(q, tenantId, changes) : [];
  const keys = await storeCustomers(q, tenantId, input.contacts);
  if (input.messages.length) {
    const rows = input.messages.map((m, n) => ({ n, wa_id: keys.of(m.customer), wamid: m.wamid, type: m.type, ts: m.ts, payload: m.payload }));
    const { rowCount } = await q.query({ ...STORE_MESSAGES, values: [tenantId, jsonb(rows)] });
    newMessages = rowCount ?? 0;
  }
  if (input.statuses.length) {
    const { rowCount } = await q.query({
      ...STORE_STATUSES,
      values: [tenantId, jsonb(input.statuses.map((s, n) => ({ n, wamid: s.wamid, status: s.status, ts: s.ts, payload: s.payload })))],
    });
    newStatuses = rowCount ?? 0;
  }
  for (const change of numberChanges) await moveConversation(q, tenantId, keys.of({ phone: change.from }) ?? change.from, change.to);
  return { messages: newMessages, statuses: newStatuses };
}

/** Each customer id of a batch → the key of its customer's mapping. */
export class CustomerKeys {
  private readonly byId = new Map<string, string>();

  /** `ids` (cleaned, textParam) belong to the customer keyed `key`. */
  add(ids: Iterable<string>, key: string): void {
    for (const id of ids) this.byId.set(id, key);
  }

  /** The customer's key: their mapping's, else (not stored) their phone number, else their BSUID; null for nobody. */
  of(customer: CustomerIds | null | undefined): string | null {
    if (!customer) return null;
    const phone = customer.phone ? textParam(customer.phone) : undefined;
    const userId = customer.userId ? textParam(customer.userId) : undefined;
    return (userId && this.byId.get(userId)) || (phone && this.byId.get(phone)) || phone || userId || null;
  }
}

/**
 * The batch's customers, in the caller's transaction: the senders seen are merged into customers
 * (entries sharing a phone number or a BSUID are one customer), their ids locked (LOCK_CUSTOMERS),
 * and each customer's mapping found by either id or created, learning what it lacked
 * (STORE_CUSTOMERS): name, username, business number, the ids, the time of their last message.
 * The ids' locks (lockCustomers, shared) come first, so STORE_CUSTOMERS decides on what was
 * committed. Two statements, none when no customer is named.
 */
export async function storeCustomers(q: Queryable, tenantId: string, seen: ContactSeen[]): Promise<CustomerKeys> {
  const keys = new CustomerKeys();
  const customers = mergeCustomers(seen);
  if (customers.length === 0) return keys;
  const ids = [...new Set(customers.flatMap((c) => [c.phone, c.userId].filter((id): id is string => !!id)))];
  await lockCustomers(q, tenantId, ids);
  const rows = customers.map((c, n) => ({ n, phone: c.phone, user_id: c.userId, name: c.name, username: c.username, pnid: c.phoneNumberId, ts: c.ts }));
  const { rows: resolved } = await q.query<{ n: number; key: string }>({ ...STORE_CUSTOMERS, values: [tenantId, jsonb(rows)] });
  for (const r of resolved) keys.add(customers[r.n].ids, r.key);
  return keys;
}

/** A customer of a batch: every id they were seen with, the first phone number and BSUID, the latest name and username. */
interface BatchCustomer {
  ids: Set<string>;
  phone: string | null;
  userId: string | null;
  name: string | null;
  username: string | null;
  phoneNumberId: string;
  ts: number;
}

/**
 * One entry per customer: entries that share a phone number or a BSUID are merged. Ids are
 * cleaned for PostgreSQL (textParam) here, once.
 */
function mergeCustomers(seen: ContactSeen[]): BatchCustomer[] {
  const customers: BatchCustomer[] = [];
  const byId = new Map<string, BatchCustomer>();
  for (const s of seen) {
    const phone = s.phone ? textParam(s.phone) : null;
    const userId = s.userId ? textParam(s.userId) : null;
    const ids = [phone, userId].filter((id): id is string => !!id);
    if (ids.length === 0) continue;
    const matches = [...new Set(ids.flatMap((id) => byId.get(id) ?? []))];
    const c = matches[0] ?? { ids: new Set<string>(), phone: null, userId: null, name: null, username: null, phoneNumberId: s.phoneNumberId, ts: s.ts };
    if (!matches[0]) customers.push(c);
    // An entry naming two customers seen apart (their number, their BSUID) makes them one.
    for (const other of matches.slice(1)) {
      for (const id of other.ids) c.ids.add(id);
      c.phone ??= other.phone;
      c.userId ??= other.userId;
      c.name ??= other.name;
      c.username ??= other.username;
      c.ts = Math.max(c.ts, other.ts);
      customers.splice(customers.indexOf(other), 1);
    }
    c.phone ??= phone;
    c.userId ??= userId;
    if (s.ts >= c.ts) {
      c.name = s.name ?? c.name;
      c.username = s.username ?? c.username;
    } else {
      c.name ??= s.name;
      c.username ??= s.username ?? null;
    }
    c.ts = Math.max(c.ts, s.ts);
    for (const id of ids) c.ids.add(id);
    for (const id of c.ids) byId.set(id, c);
  }
  return customers;
}

/** The changes whose system message is not stored yet (a redelivered one was applied already). */
async function notYetStored(q: Queryable, tenantId: string, changes: NumberChange[]): Promise<NumberChange[]> {
  const { rows } = await q.query<{ wamid: string }>('SELECT wamid FROM message_tracking WHERE tenant_id = $1 AND wamid = ANY($2::text[])', [
    tenantId,
    changes.map((c) => c.wamid),
  ]);
  const stored = new Set(rows.map((r) => r.wamid));
  return changes.filter((c) => !stored.has(c.wamid));
}

/**
 * A customer changed number, `from` (their mapping's key) → `to` (their new number): their
 * conversation mapping moves to `to` (merged into
 * one `to` already has), keeping in `genesys_id` the id Genesys knows them by, so that the same
 * Genesys conversation continues and their messages from `to` reach it; `from` (and any number
 * that had moved to `from`) is aliased to `to`, so that agent replies, which Genesys addresses to
 * the id it knows, go to the new number. A customer moving back to a number drops its alias.
 */
export async function moveConversation(q: Queryable, tenantId: string, from: string, to: string): Promise<void> {
  await q.query(
    `WITH old AS (DELETE FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2 RETURNING *)
     INSERT INTO conversation_mappings AS m (tenant_id, wa_id, phone, genesys_id, contact_name, username, conversation_id, phone_number_id,
                                             last_message_at, last_inbound_at, created_at)
     SELECT tenant_id, $3,
            -- Their number now, unless another mapping has it. Their BSUID is not carried over:
            -- a new phone number gets a new BSUID, which their next message brings.
            CASE WHEN NOT EXISTS (SELECT 1 FROM conversation_mappings o WHERE o.tenant_id = $1 AND o.phone = $3 AND o.wa_id <> $3) THEN $3 END,
            COALESCE(genesys_id, wa_id), contact_name, username, conversation_id, phone_number_id, last_message_at, last_inbound_at, created_at
       FROM old
     ON CONFLICT (tenant_id, wa_id) DO UPDATE SET
       phone = COALESCE(m.phone, EXCLUDED.phone),
       genesys_id = EXCLUDED.genesys_id,
       conversation_id = COALESCE(EXCLUDED.conversation_id, m.conversation_id),
       contact_name = COALESCE(m.contact_name, EXCLUDED.contact_name),
       last_message_at = GREATEST(m.last_message_at, EXCLUDED.last_message_at),
       last_inbound_at = GREATEST(m.last_inbound_at, EXCLUDED.last_inbound_at),
       updated_at = now()`,
    [tenantId, from, to],
  );
  await q.query('DELETE FROM conversation_aliases WHERE tenant_id = $1 AND wa_id = $2', [tenantId, to]);
  await q.query('UPDATE conversation_aliases SET moved_to = $3, changed_at = now() WHERE tenant_id = $1 AND moved_to = $2', [tenantId, from, to]);
  await q.query(
    `INSERT INTO conversation_aliases (tenant_id, wa_id, moved_to) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id, wa_id) DO UPDATE SET moved_to = EXCLUDED.moved_to, changed_at = now()`,
    [tenantId, from, to],
  );
}

/**
 * An agent message: stored and its send queued, in one statement — unless it is the agentless
 * copy of one of our proactive messages coming back (agentless_echoes, migration 1732060800050):
 * by its Genesys id once the post's answer recorded it, or, before that, by recipient and text
 * hash while fewer copies came back than were posted within the hour. The echo lookup is one
 * index range (tenant, recipient) that finds nothing for customers who got no proactive message;
 * its rows are locked, so two copies cannot both take the last unmatched post. Matched by text,
 * a copy goes to a message with a post whose id is still unknown before one whose posts' ids are
 * all known (two proactive messages with the same words to one customer), then to the oldest.
 * (A message whose posts' ids are all known still matches by text until its copies came back:
 * whether Genesys delivers a copy under the id its answer gave is not documented.)
 */
const STORE_AGENT_MESSAGE = `WITH echo AS (
       SELECT e.message_id, e.posted_at, ($3::text = ANY (e.genesys_message_ids)) AS by_id,
              (cardinality(e.genesys_message_ids) < e.posts) AS id_unknown
         FROM agentless_echoes e
        WHERE e.tenant_id = $1 AND e.wa_id = $2
          AND ($3::text = ANY (e.genesys_message_ids)
               OR (e.text_hash = $7::text AND e.echoes < e.posts AND e.posted_at > now() - interval '1 hour'))
        FOR UPDATE
     ), ins AS (
       INSERT INTO message_tracking (tenant_id, direction, wa_id, genesys_message_id, message_type, payload, provider_timestamp)
       SELECT $1, 'outbound', $2, $3, $4, $5::jsonb, $6::timestamptz WHERE NOT EXISTS (SELECT 1 FROM echo)
       ON CONFLICT DO NOTHING
       RETURNING id, wa_id, provider_timestamp
     ), queued AS (
       ${enqueueSql(
         { tenantId: '$1', kind: 'to_whatsapp_message', lane: laneSql.outbound('wa_id'), ordering: 'provider_timestamp', messageId: 'id' },
         { from: 'ins' },
       )}
       RETURNING id
     )
     SELECT (SELECT count(*) FROM queued)::int AS queued,
            (SELECT array_agg(message_id::text ORDER BY by_id DESC, id_unknown DESC, posted_at) FROM echo) AS echo_of`;

/**
 * `queued`: stored, its send queued; `duplicate`: stored before (a redelivery); `echo`: the
 * agentless copy of a proactive message, recorded on it and not sent (the message reached
 * WhatsApp already).
 */
export type AgentMessageOutcome = 'queued' | 'duplicate' | 'echo';

/**
 * An agent's message from Genesys: stored by its Genesys id, its send to WhatsApp queued — or,
 * when it is the agentless copy of a proactive message (`text`: its text, for the hash), recorded
 * as that copy: the proactive message gets its Genesys id while it has none, and nothing is sent.
 */
export async function storeAgentMessage(
  q: Queryable,
  tenantId: string,
  m: { genesysMessageId: string; waId: string; type: string; time: string; payload: unknown; text?: string },
): Promise<AgentMessageOutcome> {
  const id = textParam(m.genesysMessageId);
  const textHash = m.text === undefined ? null : agentlessTextHash(m.text);
  const { rows } = await q.query<{ queued: number; echo_of: string[] | null }>(STORE_AGENT_MESSAGE, [
    tenantId,
    textParam(m.waId),
    id,
    textParam(m.type),
    jsonb(m.payload),
    m.time,
    textHash,
  ]);
  const echoOf = rows[0].echo_of?.[0];
  if (echoOf) return recordEcho(q, tenantId, echoOf, id, m.payload);
  if (!rows[0].queued) return 'duplicate';
  // Genesys addresses a customer who changed number by the id it knows: their mapping is the new number's.
  await q.query(
    `UPDATE conversation_mappings SET last_message_at = GREATEST(last_message_at, $3), updated_at = now()
      WHERE tenant_id = $1 AND wa_id = COALESCE((SELECT moved_to FROM conversation_aliases WHERE tenant_id = $1 AND wa_id = $2), $2)`,
    [tenantId, textParam(m.waId), m.time],
  );
  return 'queued';
}

/**
 * Records the copy `genesysMessageId` of the proactive message `messageId`, once (a message event
 * keyed by its id): one more echo seen, its id kept, and given to the message while it has none
 * (and no other message has it: message_tracking's unique index). A redelivery changes nothing.
 */
async function recordEcho(q: Queryable, tenantId: string, messageId: string, genesysMessageId: string, payload: unknown): Promise<AgentMessageOutcome> {
  const { rowCount } = await q.query(
    `INSERT INTO message_events (tenant_id, source, kind, provider_key, genesys_message_id, payload)
     VALUES ($1, 'genesys', 'agentless_echo', 'echo:' || $2, $2, $3) ON CONFLICT DO NOTHING`,
    [tenantId, genesysMessageId, jsonb({ messageId, body: payload })],
  );
  if (!rowCount) return 'duplicate';
  await q.query(
    `UPDATE agentless_echoes SET echoes = echoes + 1,
            genesys_message_ids = CASE WHEN $3 = ANY (genesys_message_ids) THEN genesys_message_ids ELSE genesys_message_ids || $3 END
      WHERE tenant_id = $1 AND message_id = $2`,
    [tenantId, messageId, genesysMessageId],
  );
  await q.query(
    `UPDATE message_tracking SET genesys_message_id = $3, updated_at = now()
      WHERE tenant_id = $1 AND id = $2 AND genesys_message_id IS NULL
        AND NOT EXISTS (SELECT 1 FROM message_tracking o WHERE o.tenant_id = $1 AND o.genesys_message_id = $3)`,
    [tenantId, messageId, genesysMessageId],
  );
  return 'echo';
}

/** Receipts, typing and other Genesys events: recorded once each, not delivered anywhere. */
export async function storeGenesysEvent(
  q: Queryable,
  tenantId: string,
  e: { kind: string; key: string; genesysMessageId: string | null; payload: unknown },
): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO message_events (tenant_id, source, kind, provider_key, genesys_message_id, payload)
     VALUES ($1, 'genesys', $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [tenantId, textParam(e.kind), textParam(e.key), e.genesysMessageId === null ? null : textParam(e.genesysMessageId), jsonb(e.payload)],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * The tenant owning each of these business numbers, in one statement: the one whose Meta
 * credentials name it, else the one provisioned for it (automatic provisioning, pending or
 * active); a number no tenant owns is absent.
 */
export async function tenantsForPhoneNumbers(db: Database, phoneNumberIds: readonly string[]): Promise<Map<string, string>> {
  const rows = await db.unscoped<{ phone_number_id: string; tenant_id: string }>(TENANTS_BY_PHONE_NUMBER, [phoneNumberIds]);
  const owners = new Map<string, string>();
  for (const r of rows) if (!owners.has(r.phone_number_id)) owners.set(r.phone_number_id, r.tenant_id);
  return owners;
}

/** A tenant whose Meta verify token hashes to `verifyTokenHash` (hashVerifyToken), by its index; undefined if none. */
export async function tenantByVerifyTokenHash(db: Database, verifyTokenHash: string): Promise<string | undefined> {
  const [row] = await db.unscoped<{ tenant_id: string | null }>(TENANT_BY_VERIFY_TOKEN_HASH, [verifyTokenHash]);
  return row?.tenant_id ?? undefined;
}
