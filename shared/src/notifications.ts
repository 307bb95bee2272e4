import { createHmac } from 'node:crypto';
import type { Queryable } from './db';
import type { Logger } from './logger';

/**
 * Tenant notifications (issue #13; table tenant_notifications, migration 1732060800130): what the
 * platform tells a tenant's admin, e.g. a quota at 80% or 100% (`quota.warning`,
 * `quota.exceeded`) or a credential that stopped working. Raised at most once per
 * (tenant, kind, key); listed by `GET /state/notifications`; every one is delivered through the
 * outbox (job kind `to_tenant_notification`, lane `note:`, in the order raised): the connector
 * logs it and, when the tenant has a notification webhook, POSTs it there signed (see
 * `signNotification`), retried with the outbox's backoff until the webhook answers 2xx.
 */

export type NotificationSeverity = 'info' | 'warning' | 'critical';

export interface NewNotification {
  /** What it is about: lower case, dots, e.g. `quota.warning`, `credentials.invalid` (1-100 chars). */
  kind: string;
  /** What makes it one of its kind (1-200 chars): raised once per (tenant, kind, key), e.g. `meta` or `messagesPerMonth:2026-11:80`. */
  key: string;
  severity: NotificationSeverity;
  /** For a person: what happened and what to do (1-2000 chars, no secrets). */
  message: string;
  /** Machine-readable facts (JSON object). */
  details?: Record<string, unknown>;
}

/** Where the log line of a raised notification goes; set once by each service (setNotificationLogger). */
let notificationLogger: Pick<Logger, 'info' | 'warn' | 'error'> | undefined;

/** The logger raiseNotification writes to (each service's composition root sets it; without one, nothing is logged here). */
export function setNotificationLogger(logger: Pick<Logger, 'info' | 'warn' | 'error'> | undefined): void {
  notificationLogger = logger;
}

/**
 * Raises a notification for `tenantId`, inside that tenant's unit of work (`client` from
 * `db.withTenant(tenantId, …)`), at most once per (tenant, kind, key): the unique constraint
 * decides, so a concurrent raiser of the same key (another process) waits for the first to commit
 * and raises nothing. Returns true when this call raised it (it is then logged, and its delivery
 * queued in the same transaction: it exists if, and when, the caller commits). Wake the workers
 * after commit (OutboxNotifier.touch) for a prompt webhook POST; else their poll finds it.
 * Throws the database's error for a kind, key or message outside the bounds above.
 */
export async function raiseNotification(client: Queryable, tenantId: string, n: NewNotification): Promise<boolean> {
  const { rows } = await client.query<{ raised: boolean }>('SELECT raise_tenant_notification($1, $2, $3, $4, $5, $6::jsonb) AS raised', [
    tenantId,
    n.kind,
    n.key,
    n.severity,
    n.message,
    JSON.stringify(n.details ?? {}),
  ]);
  const raised = rows[0]?.raised === true;
  if (raised) logNotification(notificationLogger, tenantId, { kind: n.kind, key: n.key, severity: n.severity, message: n.message }, 'tenant notification raised');
  return raised;
}

/** Logs a notification at the level its severity calls for (info, warn, error). */
export function logNotification(
  logger: Pick<Logger, 'info' | 'warn' | 'error'> | undefined,
  tenantId: string,
  n: Pick<NewNotification, 'kind' | 'key' | 'severity' | 'message'> & { id?: string },
  msg: string,
): void {
  if (!logger) return;
  const level = n.severity === 'critical' ? 'error' : n.severity === 'warning' ? 'warn' : 'info';
  logger[level]({ tenantId, notification: { id: n.id, kind: n.kind, key: n.key, severity: n.severity, message: n.message } }, msg);
}

/** A notification as `GET /state/notifications` shows it and the webhook receives it. */
export interface TenantNotification {
  id: string;
  kind: string;
  key: string;
  severity: NotificationSeverity;
  message: string;
  details: Record<string, unknown>;
  /** ISO 8601. */
  raisedAt: string;
}

/** A `tenant_notifications` row as read: the notification, with its time as PostgreSQL gives it. */
type NotificationRow = Omit<TenantNotification, 'raisedAt'> & { raised_at: Date };

const toNotification = (r: NotificationRow): TenantNotification => ({
  id: r.id,
  kind: r.kind,
  key: r.key,
  severity: r.severity,
  message: r.message,
  details: r.details,
  raisedAt: r.raised_at.toISOString(),
});

const COLUMNS = 'id::text, kind, key, severity, message, details, raised_at';

/** The tenant's notifications, newest first, `limit` of them, older than the notification id `before` when given. */
export async function listNotifications(q: Queryable, tenantId: string, options: { limit: number; before?: string; kind?: string }): Promise<TenantNotification[]> {
  const { rows } = await q.query<NotificationRow>(
    `SELECT ${COLUMNS} FROM tenant_notifications
      WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) AND ($3::text IS NULL OR kind = $3 OR kind LIKE $3 || '.%')
      ORDER BY id DESC LIMIT $4`,
    [tenantId, options.before ?? null, options.kind ?? null, options.limit],
  );
  return rows.map(toNotification);
}

/** One notification by id; undefined when the tenant has none of that id. */
export async function findNotification(q: Queryable, tenantId: string, id: string): Promise<TenantNotification | undefined> {
  const { rows } = await q.query<NotificationRow>(`SELECT ${COLUMNS} FROM tenant_notifications WHERE tenant_id = $1 AND id = $2::bigint`, [tenantId, id]);
  return rows[0] && toNotification(rows[0]);
}

/** The header carrying a notification POST's signature. */
export const NOTIFICATION_SIGNATURE_HEADER = 'X-Bridge-Signature-256';

/**
 * The signature of a notification POST, as Meta signs its webhooks (`X-Hub-Signature-256`, which
 * this platform checks in webhook-service/src/signatures.ts; Meta's description: "Validating
 * payloads", developers.facebook.com/docs/graph-api/webhooks/getting-started): `sha256=` and the
 * lower-case hex HMAC-SHA256 of the exact body bytes, keyed with the tenant's notification
 * secret. Sent in `X-Bridge-Signature-256`; the receiver recomputes it over the raw body and
 * compares in constant time. The body carries the notification's id (for de-duplicating a
 * redelivery) and `sentAt` (to refuse old replays).
 */
export function signNotification(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
