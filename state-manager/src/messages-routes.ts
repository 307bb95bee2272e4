import { createHash } from 'node:crypto';
import { Router, type Request } from 'express';
import {
  appError,
  badInput,
  checkTemplateRequest,
  customerWindow,
  listTemplates,
  parseInput,
  sendBody,
  renderTemplate,
  type Database,
  type OutboxNotifier,
  type Queryable,
  type SecurityEvents,
  appendAudit,
  currentContext,
} from '@bridge/shared';
import * as repo from './proactive';

/** 1 to 255 printable ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

function idempotencyKey(req: Request): string | undefined {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) throw badInput('Idempotency-Key', 'must be 1 to 255 printable ASCII characters');
  return key;
}

/** JSON with every object's keys sorted: equal requests give equal text, whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const messageNotFound = () => appError('MESSAGE_NOT_FOUND');
const MAX_BIGINT = 2n ** 63n - 1n;

/** Checks for another tenant's object running at once at most; beyond, a 404 is not checked (a flood costs no more queries). */
const MAX_FOREIGN_CHECKS = 8;

/**
 * After a 404 for message `id`: whether it is another tenant's (message_of_another_tenant,
 * migration 1732060800150), and if so a security.foreign_object event in the asking tenant's
 * trail (the owner's id only for admins, under `internal`), counted per key per window. Runs
 * after the answer, never awaited: the 404 takes the same time whoever owns the id. At most
 * MAX_FOREIGN_CHECKS at once.
 */
export function foreignObjectCheck(db: Database, events: SecurityEvents) {
  let running = 0;
  /** `route`: the route asked, as the event names it (e.g. `GET /messages/:id`). */
  return (tenantId: string, id: string, route = 'GET /messages/:id'): void => {
    if (running >= MAX_FOREIGN_CHECKS) return;
    running++;
    const ctx = currentContext();
    const occurrence = { requestId: ctx?.requestId, clientIp: ctx?.clientIp, actor: ctx?.actor ?? 'unknown' };
    db.unscoped<{ owner: string | null }>('SELECT message_of_another_tenant($1, $2::bigint) AS owner', [tenantId, id])
      .then(([row]) => {
        if (!row?.owner) return;
        events.record({
          tenantId,
          action: 'security.foreign_object',
          subject: occurrence.actor,
          target: `message:${id}`,
          details: { route, internal: { ownerTenant: row.owner } },
          ...occurrence,
        });
      })
      .catch(() => undefined)
      .finally(() => running--);
  };
}

/** Thrown inside the transaction when another request bound the Idempotency-Key first: rolls it back. */
class KeyTaken extends Error {}

/**
 * Proactive messages: `POST /messages` sends a template (any time) or a text (while the
 * customer's 24-hour window is open) to a customer, queued durably in the outbox with the agents'
 * replies, and answers 202; `GET /messages/:id` shows it as it moves. `req.tenantId` is set by
 * requireGatewayTenant; `notifier` wakes the delivery workers after a commit.
 *
 * Errors: 400 VALIDATION_ERROR naming the field (or `Idempotency-Key`); 409 META_NOT_CONFIGURED,
 * IDEMPOTENCY_KEY_REUSED; 422 TEMPLATE_* (with the catalogue's reason), WINDOW_CLOSED; 404 MESSAGE_NOT_FOUND
 * (also for another tenant's message id, which `securityEvents` then records: foreignObjectCheck).
 */
export function messageRoutes(db: Database, notifier: Pick<OutboxNotifier, 'touch'>, securityEvents?: SecurityEvents): Router {
  const checkForeign = securityEvents && foreignObjectCheck(db, securityEvents);
  const r = Router();

  /** The answer for a key already bound: its message again (same body), or 409 (another body). */
  async function replay(q: Queryable, tenantId: string, bound: { requestHash: string; messageId: string }, requestHash: string) {
    if (bound.requestHash !== requestHash) throw appError('IDEMPOTENCY_KEY_REUSED');
    return repo.findProactiveMessage(q, tenantId, bound.messageId);
  }

  r.post('/', async (req, res) => {
    const tenantId = req.tenantId!;
    const key = idempotencyKey(req);
    const body = parseInput(sendBody, req.body) as repo.ProactiveRequest;
    const requestHash = createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');

    const send = () =>
      db.withTenant(tenantId, async (q) => {
        if (key) {
          const bound = await repo.findIdempotencyKey(q, tenantId, key);
          if (bound) {
            const earlier = await replay(q, tenantId, bound, requestHash);
            if (earlier) return { message: earlier, replayed: true };
            await repo.forgetIdempotencyKey(q, tenantId, key, bound.messageId);
          }
        }
        if (!(await repo.hasMetaCredentials(q, tenantId))) throw appError('META_NOT_CONFIGURED');
        let rendered: string;
        if (body.template) {
          const check = checkTemplateRequest(await listTemplates(q, tenantId), body.template);
          if (!check.ok) throw appError(check.problem, check.reason);
          rendered = renderTemplate(check.template, body.template.parameters);
        } else {
          const window = customerWindow((await repo.findCustomer(q, tenantId, body.to))?.lastInboundAt ?? null);
          if (!window.windowOpen) {
            throw appError(
              'WINDOW_CLOSED',
              window.windowExpiresAt
                ? `The customer's 24-hour window closed at ${window.windowExpiresAt}: send a template instead (POST /messages with "template").`
                : `The customer has not written to this number, so no window is open: send a template instead (POST /messages with "template").`,
            );
          }
          rendered = body.text!;
        }
        const message = await repo.insertProactiveMessage(q, tenantId, body, rendered);
        if (key && !(await repo.bindIdempotencyKey(q, tenantId, key, requestHash, message.id))) throw new KeyTaken();
        // What was sent and to whom; not the text (the message itself is in GET /messages/:id).
        await appendAudit(q, { tenantId, action: 'message.sent', target: `message:${message.id}`, after: { to: body.to, type: message.type, template: body.template ? { name: body.template.name, language: body.template.language } : null } });
        return { message, replayed: false };
      });

    let outcome: { message: repo.ProactiveMessageView; replayed: boolean };
    try {
      outcome = await send();
    } catch (err) {
      if (!(err instanceof KeyTaken)) throw err;
      // A request with the same key committed first (ours was rolled back): its answer, or 409.
      outcome = await send();
    }
    if (!outcome.replayed) notifier.touch();
    res.status(202);
    res.set('Location', `/messages/${outcome.message.id}`);
    if (outcome.replayed) res.set('Idempotent-Replayed', 'true');
    res.json(outcome.message);
  });

  r.get('/:id', async (req, res) => {
    const tenantId = req.tenantId!;
    const id = req.params.id;
    // An id that cannot exist is as unknown as another tenant's.
    if (!/^\d{1,19}$/.test(id) || BigInt(id) > MAX_BIGINT) throw messageNotFound();
    const message = await db.withTenant(tenantId, (q) => repo.findProactiveMessage(q, tenantId, id));
    if (!message) {
      checkForeign?.(tenantId, id);
      throw messageNotFound();
    }
    res.json(message);
  });

  return r;
}
