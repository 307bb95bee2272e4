import { Router } from 'express';
import {
  appError,
  appendAudit,
  auditQuerySchema,
  conversationsQuery,
  customerIdSchema,
  mappingBody,
  messagesQuery,
  notificationsQuery,
  badInput,
  parseInput,
  isMessageId,
  listMessages,
  listNotifications,
  usageQuerySchema,
  usageReport,
  retryAnswer,
  retryMessage,
  tenantAuditPage,
  type AuditRow,
  type Database,
  type OutboxNotifier,
  type SecurityEvents,
} from '@bridge/shared';
import { foreignObjectCheck } from './messages-routes';
import * as repo from './repository';

/**
 * A conversation cursor's time bound, in microseconds since the epoch (year 287168): PostgreSQL
 * computes the cursor's time up to here (beyond, its interval arithmetic overflows: a 500).
 */
const MAX_CURSOR_US = 9_000_000_000_000_000_000n;

const encodeCursor = (c: repo.Cursor) => Buffer.from(`${c.us}.${c.waId}`, 'utf8').toString('base64url');

function decodeCursor(raw: string): repo.Cursor {
  // The key part is any mapping's key (customer ids, and what older versions stored), bounded.
  const match = /^(\d{1,19})\.([A-Za-z0-9._-]{3,135})$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
  if (!match || BigInt(match[1]) > MAX_CURSOR_US) throw badInput('cursor', 'is not a cursor this API returned');
  return { us: match[1], waId: match[2] };
}

const mappingNotFound = () => appError('MAPPING_NOT_FOUND');

/**
 * The tenant API's data routes. `req.tenantId` is set by requireGatewayTenant; `notifier` wakes
 * the delivery workers after a retry commits; `securityEvents` records a retry of another
 * tenant's message id (security.foreign_object, as GET /messages/:id does).
 */
export function stateRoutes(db: Database, notifier: Pick<OutboxNotifier, 'touch'>, securityEvents?: SecurityEvents): Router {
  const r = Router();
  const checkForeign = securityEvents && foreignObjectCheck(db, securityEvents);

  r.get('/stats', async (req, res) => {
    const tenantId = req.tenantId!;
    res.json(await db.withTenant(tenantId, (q) => repo.stats(q, tenantId)));
  });

  r.get('/conversations', async (req, res) => {
    const tenantId = req.tenantId!;
    const query = parseInput(conversationsQuery, req.query);
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const page = await db.withTenant(tenantId, (q) => repo.conversations(q, tenantId, query.limit, after));
    res.json({ conversations: page.conversations, nextCursor: page.next ? encodeCursor(page.next) : null });
  });

  // Every message in either direction with its delivery status; failed and dead ones carry the reason.
  r.get('/messages', async (req, res) => {
    const tenantId = req.tenantId!;
    const query = parseInput(messagesQuery, req.query);
    const page = await db.withTenant(tenantId, (q) => listMessages(q, tenantId, query, query.limit, query.cursor));
    res.json({ messages: page.messages, nextCursor: page.next ?? null });
  });

  // Dead letters (issue #16): a failed or dead message sent again, at the end of its lane.
  r.post('/messages/:id/retry', async (req, res) => {
    const tenantId = req.tenantId!;
    // An id that cannot exist is as unknown as another tenant's.
    if (!isMessageId(req.params.id)) throw appError('MESSAGE_NOT_FOUND');
    const outcome = await db.withTenant(tenantId, (q) => retryMessage(q, tenantId, req.params.id));
    if (outcome.outcome === 'not_found') checkForeign?.(tenantId, req.params.id, 'POST /state/messages/:id/retry');
    const answer = retryAnswer(outcome);
    if (outcome.outcome === 'requeued') notifier.touch();
    res.status(answer.status).json(answer.body);
  });

  r.post('/mapping', async (req, res) => {
    const tenantId = req.tenantId!;
    const body = parseInput(mappingBody, req.body);
    const { mapping, created } = await db.withTenant(tenantId, async (q) => {
      const written = await repo.upsertMapping(q, tenantId, body);
      await appendAudit(q, { tenantId, action: 'mapping.written', target: `mapping:${body.waId}`, after: { ...body, created: written.created } });
      return written;
    });
    res.status(created ? 201 : 200).json(mapping);
  });

  r.get('/mapping/:waId', async (req, res) => {
    const tenantId = req.tenantId!;
    // An id that cannot exist is as unknown as one that belongs to another tenant.
    if (!customerIdSchema.safeParse(req.params.waId).success) throw mappingNotFound();
    const mapping = await db.withTenant(tenantId, (q) => repo.findMapping(q, tenantId, req.params.waId));
    if (!mapping) throw mappingNotFound();
    res.json(mapping);
  });

  // The tenant's own audit trail, newest first (issue #13): what its keys and the platform's admins changed.
  r.get('/audit', async (req, res) => {
    const tenantId = req.tenantId!;
    const query = parseInput(auditQuerySchema, req.query);
    const rows = await db.withTenant(tenantId, (q) => tenantAuditPage(q, tenantId, query));
    res.json({ events: rows.map(tenantAuditEvent), nextBefore: rows.length === query.limit ? rows[rows.length - 1].id : null });
  });

  // This period's usage against each plan limit, with a daily breakdown (issue #13).
  r.get('/usage', async (req, res) => {
    const tenantId = req.tenantId!;
    parseInput(usageQuerySchema, req.query);
    const report = await db.withTenant(tenantId, (q) => usageReport(q, tenantId));
    if (!report) throw appError('TENANT_NOT_FOUND');
    res.json(report);
  });

  // What the platform told the tenant (issue #13: quota warnings, credential problems), newest first.
  r.get('/notifications', async (req, res) => {
    const tenantId = req.tenantId!;
    const query = parseInput(notificationsQuery, req.query);
    const notifications = await db.withTenant(tenantId, (q) => listNotifications(q, tenantId, query));
    res.json({ notifications, nextBefore: notifications.length === query.limit ? notifications[notifications.length - 1].id : null });
  });

  return r;
}

/** A recorded state without what only the platform sees (a security event's `internal`, e.g. another tenant's id). */
function withoutInternals(state: unknown): unknown {
  if (!state || typeof state !== 'object' || Array.isArray(state) || !('internal' in state)) return state;
  const { internal: _internal, ...shown } = state as Record<string, unknown>;
  return shown;
}

/**
 * An event as its tenant sees it, without the platform's internals: an admin's action is
 * `platform-admin` and the platform's own (`platform:...`, e.g. automatic provisioning)
 * `platform`, both with no address; a security event's `internal` part (shared/src/security-events.ts)
 * is left out; the tenant's own keys' actions keep their address.
 */
export function tenantAuditEvent(r: AuditRow) {
  const admin = r.actor === 'admin' || r.actor.startsWith('admin:');
  const platform = admin || r.actor === 'platform' || r.actor.startsWith('platform:');
  return {
    id: r.id,
    actor: admin ? 'platform-admin' : platform ? 'platform' : r.actor,
    action: r.action,
    target: r.target,
    before: withoutInternals(r.before),
    after: withoutInternals(r.after),
    requestId: r.request_id,
    clientIp: platform ? null : r.client_ip,
    at: r.at.toISOString(),
  };
}
