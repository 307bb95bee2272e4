import { Router } from 'express';
import { appError, isMessageId, listMessages, messagesQuery, parseInput, retryAnswer, retryMessage, retryMessages, type Database, type OutboxNotifier } from '@bridge/shared';
import * as repo from './repository';
import { bulkRetrySchema, tenantIdSchema } from './schemas';

/**
 * The admin API's dead letters (issue #16), any tenant's, through the one mechanism of the tenant
 * API's retry (shared/src/dead-letters.ts):
 * - `GET /tenants/:id/messages?status=&direction=&waId=&limit=&cursor=` (messagesQuery): the
 *   tenant's messages newest first, as the tenant API's `GET /state/messages` lists them
 *   (shared/src/message-list.ts), e.g. `status=dead` for those to retry; 200 `{messages,
 *   nextCursor}` (null on the last page); 400 VALIDATION_ERROR; 404 TENANT_NOT_FOUND.
 * - `POST /tenants/:id/messages/:messageId/retry`: one message, as `POST /state/messages/:id/retry`
 *   (202 queued again; 200 already queued, nothing queued; 404 TENANT_NOT_FOUND, MESSAGE_NOT_FOUND;
 *   409 MESSAGE_NOT_RETRYABLE). Audited `message.retried`, actor `admin`.
 * - `POST /tenants/:id/messages/retry` `{status, since, until, limit?}` (bulkRetrySchema): every
 *   message in `status` given up in [since, until), oldest first, at most `limit` (≤ 1000) in one
 *   transaction; 200 `{requeued, messages: [{id, job}], skipped: [{id, reason, …}], more}` (`more`:
 *   call again for the next ones). One audit event for the call, `messages.retried`, with the ids.
 * `notifier` wakes the delivery workers after a commit that queued something.
 */
export function deadLetterRoutes(db: Database, notifier: Pick<OutboxNotifier, 'touch'>): Router {
  const r = Router();

  /** The tenant (visible: not being deleted), or 404 TENANT_NOT_FOUND. */
  async function tenantOf(raw: string): Promise<string> {
    if (!tenantIdSchema.safeParse(raw).success) throw appError('TENANT_NOT_FOUND');
    if (!(await db.withTenant(raw, (q) => repo.findTenant(q, raw)))) throw appError('TENANT_NOT_FOUND');
    return raw;
  }

  r.get('/tenants/:tenantId/messages', async (req, res) => {
    const tenantId = await tenantOf(req.params.tenantId);
    const query = parseInput(messagesQuery, req.query);
    const page = await db.withTenant(tenantId, (q) => listMessages(q, tenantId, query, query.limit, query.cursor));
    res.json({ messages: page.messages, nextCursor: page.next ?? null });
  });

  r.post('/tenants/:tenantId/messages/retry', async (req, res) => {
    const tenantId = await tenantOf(req.params.tenantId);
    const filter = parseInput(bulkRetrySchema, req.body ?? {});
    const result = await db.withTenant(tenantId, (q) => retryMessages(q, tenantId, filter));
    if (result.requeued > 0) notifier.touch();
    res.json(result);
  });

  r.post('/tenants/:tenantId/messages/:messageId/retry', async (req, res) => {
    const tenantId = await tenantOf(req.params.tenantId);
    if (!isMessageId(req.params.messageId)) throw appError('MESSAGE_NOT_FOUND');
    const outcome = await db.withTenant(tenantId, (q) => retryMessage(q, tenantId, req.params.messageId));
    const answer = retryAnswer(outcome);
    if (outcome.outcome === 'requeued') notifier.touch();
    res.status(answer.status).json(answer.body);
  });

  return r;
}
