import { appendAudit } from './audit';
import { appError } from './errors';
import type { Queryable } from './db';
import { enqueue, lanes, type JobKind } from './outbox';

/**
 * Dead letters (issue #16): a message whose delivery was given up (`message_tracking.status`
 * `failed`: refused for good; `dead`: out of retry budget, see `giveUp` in
 * genesys-connector/src/deliveries.ts and shared/src/outbox/finish.ts) sent again. The one
 * mechanism behind the tenant API's `POST /state/messages/:id/retry` and the admin API's
 * `POST /tenants/:id/messages/:messageId/retry` and bulk `POST /tenants/:id/messages/retry`.
 *
 * A retry is a new outbox job of the message's kind (a customer's message → `to_genesys_message`
 * in lane `in:<waId>`; an agent reply or a proactive message → `to_whatsapp_message` in lane
 * `out:<waId>`), ordered now: at the end of its conversation's lane, behind what came since. The
 * given-up job stays in the outbox as it ended (state, `last_error`): the history of the failure.
 */

/** What a retry did to one message. */
export type RetryOutcome =
  /** Queued again: `job` is the new job; `previous` the status and reason it had. */
  | { outcome: 'requeued'; messageId: string; job: RetryJob; previous: { status: string; errorCode: string | null; errorMessage: string | null } }
  /** Already waiting for a delivery (an earlier retry, or its first): that job; nothing queued. */
  | { outcome: 'already_queued'; messageId: string; job: RetryJob }
  /** Neither failed nor dead, nor queued: `status` is what it is (sent, delivered, read). */
  | { outcome: 'not_retryable'; messageId: string; status: string }
  /** No such message in this tenant. */
  | { outcome: 'not_found'; messageId: string };

export interface RetryJob {
  /** The outbox job's id (bigint, as a string). */
  id: string;
  kind: JobKind;
  lane: string;
}

/** A message id as this API shows them (bigint, as a string); anything else is no message. */
export const isMessageId = (id: string): boolean => /^\d{1,19}$/.test(id) && BigInt(id) <= 2n ** 63n - 1n;

/**
 * A retry's answer (shared/src/dead-letters.ts): 202 with the new job when the message was queued
 * again; 200 with the job it already waits for (an earlier retry: nothing queued); else the error
 * (404 MESSAGE_NOT_FOUND, 409 MESSAGE_NOT_RETRYABLE naming its status). The tenant API's and the admin API's.
 */
export function retryAnswer(outcome: RetryOutcome): { status: 200 | 202; body: Record<string, unknown> } {
  switch (outcome.outcome) {
    case 'not_found':
      throw appError('MESSAGE_NOT_FOUND');
    case 'not_retryable':
      throw appError('MESSAGE_NOT_RETRYABLE', `Message ${outcome.messageId} is ${outcome.status}: only a failed or dead message can be retried`);
    case 'already_queued':
      return { status: 200, body: { messageId: outcome.messageId, status: 'pending', requeued: false, job: outcome.job } };
    case 'requeued':
      return { status: 202, body: { messageId: outcome.messageId, status: 'pending', requeued: true, job: outcome.job, previous: outcome.previous } };
  }
}

/** The statuses a retry takes. */
export const RETRYABLE_STATUSES = ['failed', 'dead'] as const;

/**
 * Queues the message `messageId` (bigint, as a string) of `tenantId` again, in the caller's
 * transaction (`db.withTenant(tenantId, …)`; wake the workers with OutboxNotifier after commit).
 *
 * The message's row is locked first (FOR UPDATE), so that concurrent retries of one message
 * (and a delivery giving it up, which updates the same row) take turns: the first queues a job
 * and sets the message `pending`; the next finds it pending with that job (`already_queued`).
 *
 * What the message becomes: `pending`, its error cleared (the reason stays on the given-up job,
 * and in the retry's audit event). An agent reply also forgets the receipts posted for it
 * (`receipt_posted`), so that the new send's receipts are posted: the agent who saw Failed then
 * sees Delivered. (How Genesys treats a receipt after one marked `isFinalReceipt` is not
 * documented, /work/shared/reference/genesys-open-messaging.md; the simulator takes it. Saying
 * nothing would leave the agent with Failed for a message that arrived.) A Failed receipt of the
 * given-up send still queued is dropped unsent (`givenUpReceipt`). Parts WhatsApp had accepted
 * before a later part failed (message_parts, in order from part 1, not failed) are not sent again:
 * the new job resumes after them, as a retried attempt does (`wamids` in its payload); the parts
 * after them are forgotten, so their new sends are recorded with their new wamids. A customer's
 * message resumes after the parts Genesys accepted, as its given-up job saved them (`genesysParts`).
 */
export async function requeueMessage(q: Queryable, tenantId: string, messageId: string): Promise<RetryOutcome> {
  const { rows } = await q.query<{ direction: 'inbound' | 'outbound'; wa_id: string | null; status: string; error_code: string | null; error_message: string | null }>(
    'SELECT direction, wa_id, status, error_code, error_message FROM message_tracking WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
    [tenantId, messageId],
  );
  const msg = rows[0];
  if (!msg) return { outcome: 'not_found', messageId };
  const kind: JobKind = msg.direction === 'inbound' ? 'to_genesys_message' : 'to_whatsapp_message';

  if (!(RETRYABLE_STATUSES as readonly string[]).includes(msg.status)) {
    const { rows: queued } = await q.query<{ id: string; lane: string }>(
      `SELECT id::text, lane FROM outbox WHERE tenant_id = $1 AND message_id = $2 AND kind = $3 AND state = 'pending' ORDER BY id DESC LIMIT 1`,
      [tenantId, messageId, kind],
    );
    if (msg.status === 'pending' && queued[0]) return { outcome: 'already_queued', messageId, job: { id: queued[0].id, kind, lane: queued[0].lane } };
    return { outcome: 'not_retryable', messageId, status: msg.status };
  }
  // An outbound message always has its customer (wa_id); an inbound one without is in lane `in:-`.
  const lane = msg.direction === 'inbound' ? lanes.inbound(msg.wa_id) : lanes.outbound(msg.wa_id!);
  const payload = msg.direction === 'inbound' ? await inboundProgress(q, tenantId, messageId) : await outboundProgress(q, tenantId, messageId);

  await q.query(
    `UPDATE message_tracking SET status = 'pending', error_code = NULL, error_message = NULL,
            receipt_posted = CASE WHEN direction = 'outbound' THEN NULL ELSE receipt_posted END, updated_at = now()
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, messageId],
  );
  const id = await enqueue(q, { tenantId, kind, lane, messageId, payload });
  return {
    outcome: 'requeued',
    messageId,
    job: { id, kind, lane },
    previous: { status: msg.status, errorCode: msg.error_code, errorMessage: msg.error_message },
  };
}

/** The parts Genesys accepted before the customer's message was given up, as its last job saved them. */
async function inboundProgress(q: Queryable, tenantId: string, messageId: string): Promise<Record<string, unknown>> {
  const { rows } = await q.query<{ parts: unknown }>(
    `SELECT payload->'genesysParts' AS parts FROM outbox
      WHERE tenant_id = $1 AND message_id = $2 AND kind = 'to_genesys_message' AND state <> 'pending' ORDER BY id DESC LIMIT 1`,
    [tenantId, messageId],
  );
  const parts = rows[0]?.parts;
  return Array.isArray(parts) && parts.length > 0 ? { genesysParts: parts } : {};
}

/**
 * An outbound message's parts WhatsApp accepted and did not fail, from part 1 on without a gap:
 * kept, their wamids the new job's progress. The other parts' rows are removed.
 */
async function outboundProgress(q: Queryable, tenantId: string, messageId: string): Promise<Record<string, unknown>> {
  const { rows } = await q.query<{ part: number; wamid: string | null; status: string }>(
    'SELECT part, wamid, status FROM message_parts WHERE tenant_id = $1 AND message_id = $2 ORDER BY part',
    [tenantId, messageId],
  );
  const kept: string[] = [];
  for (const p of rows) {
    if (p.part !== kept.length + 1 || p.status === 'failed' || !p.wamid) break;
    kept.push(p.wamid);
  }
  await q.query('DELETE FROM message_parts WHERE tenant_id = $1 AND message_id = $2 AND part > $3', [tenantId, messageId, kept.length]);
  return kept.length > 0 ? { wamids: kept } : {};
}

/**
 * One message retried by a caller (tenant key or admin): requeueMessage, and when it queued a
 * job, its audit event (`message.retried`, target `message:<id>`, `before`: the status and
 * reason it had, `after`: the job) in the same transaction. Nothing is audited when nothing changed.
 */
export async function retryMessage(q: Queryable, tenantId: string, messageId: string): Promise<RetryOutcome> {
  const outcome = await requeueMessage(q, tenantId, messageId);
  if (outcome.outcome === 'requeued') {
    await appendAudit(q, { tenantId, action: 'message.retried', target: `message:${messageId}`, before: outcome.previous, after: { status: 'pending', job: outcome.job } });
  }
  return outcome;
}

/** The most messages one bulk retry takes (the rest: call again, with the same window). */
export const BULK_RETRY_MAX = 1000;

/** A bulk retry: the tenant's messages in `status` that became so in [since, until), oldest first. */
export interface BulkRetryFilter {
  status: (typeof RETRYABLE_STATUSES)[number];
  since: Date;
  until: Date;
  /** 1 to BULK_RETRY_MAX. */
  limit: number;
}

export interface BulkRetryResult {
  /** How many were queued again. */
  requeued: number;
  /** The messages queued again, with their new jobs, in message order. */
  messages: Array<{ id: string; job: RetryJob }>;
  /** Those found but not queued by this call (another retry came first): why, and the job they wait for. */
  skipped: Array<{ id: string; reason: 'already_queued' | 'not_retryable'; status?: string; jobId?: string }>;
  /** True when more messages match than `limit`: call again for the next ones. */
  more: boolean;
}

/**
 * Retries every message of the tenant in `filter.status` whose status was set (`updated_at`: when
 * it was given up) in [since, until), at most `limit`, oldest first (so that a lane gets them in
 * their order), each as requeueMessage does, in the caller's transaction; one audit event for the
 * call (`messages.retried`, target `messages:<status>`, `after`: the window, the count and the
 * ids queued and skipped). Uses the partial index `message_tracking_given_up_idx` (migration 1732060800170).
 */
export async function retryMessages(q: Queryable, tenantId: string, filter: BulkRetryFilter): Promise<BulkRetryResult> {
  const { rows } = await q.query<{ id: string }>(
    `SELECT id::text FROM message_tracking
      WHERE tenant_id = $1 AND status = $2 AND updated_at >= $3 AND updated_at < $4
      ORDER BY id LIMIT $5`,
    [tenantId, filter.status, filter.since, filter.until, filter.limit + 1],
  );
  const result: BulkRetryResult = { requeued: 0, messages: [], skipped: [], more: rows.length > filter.limit };
  for (const { id } of rows.slice(0, filter.limit)) {
    const outcome = await requeueMessage(q, tenantId, id);
    if (outcome.outcome === 'requeued') result.messages.push({ id, job: outcome.job });
    else if (outcome.outcome === 'already_queued') result.skipped.push({ id, reason: 'already_queued', jobId: outcome.job.id });
    else if (outcome.outcome === 'not_retryable') result.skipped.push({ id, reason: 'not_retryable', status: outcome.status });
    // not_found: removed since the listing (a tenant purge); nothing to report.
  }
  result.requeued = result.messages.length;
  await appendAudit(q, {
    tenantId,
    action: 'messages.retried',
    target: `messages:${filter.status}`,
    after: {
      since: filter.since.toISOString(),
      until: filter.until.toISOString(),
      limit: filter.limit,
      requeued: result.requeued,
      ids: result.messages.map((m) => m.id),
      skipped: result.skipped.map((s) => s.id),
      more: result.more,
    },
  });
  return result;
}
