import type { Request } from 'express';
import { z } from 'zod';
import { currentContext } from './context';
import type { Database, Queryable } from './db';
import type { SecurityAction } from './security-events';

/**
 * The audit trail (issue #13; table audit_events, migration 1732060800110): an append-only hash
 * chain per tenant. Events are appended with `appendAudit` in the transaction of the change they
 * record; reads across tenants go through the platform functions audit_page / audit_verify.
 */

/** What an event records. Names are `<object>.<verb>`; security events start with `security.`. */
export type AuditAction =
  | 'tenant.created'
  | 'tenant.provisioned'
  | 'tenant.activated'
  | 'tenant.updated'
  | 'tenant.suspended'
  | 'tenant.reactivated'
  | 'tenant.deleted'
  | 'credentials.stored'
  | 'credentials.verified'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'templates.synced'
  | 'mapping.written'
  | 'message.sent'
  | 'message.retried'
  | 'messages.retried'
  | 'plan.created'
  | 'plan.updated'
  | SecurityAction;

export interface AuditEvent {
  /** The tenant whose chain records it; null: the platform's chain. */
  tenantId: string | null;
  action: AuditAction;
  /** What was acted on: 'tenant:<id>', 'api_key:<id>', 'credentials:meta', 'mapping:<waId>', 'message:<id>', 'messages:<status>' (a bulk retry). */
  target?: string;
  /** State before and after; secrets are masked here (maskSecrets) whatever the caller passes. */
  before?: unknown;
  after?: unknown;
  /** Default: the request context's (see setContextCaller), else 'system'. */
  actor?: string;
  requestId?: string;
  clientIp?: string;
}

/** Field names whose values are never stored: credentials, tokens, keys, hashes of them. */
const SECRET_FIELD = /secret|token|password|passphrase|authorization|private|encrypted|hash$|^api_?key$|^key$/i;

/** The value stored in place of a secret. */
export const MASKED = '[masked]';

/**
 * A copy of `value` (JSON-like) with the value of every field named like a secret (SECRET_FIELD:
 * appSecret, accessToken, verifyToken, clientSecret, webhookSecret, apiKey, key_hash, …) replaced
 * by MASKED, at any depth. Dates become ISO strings.
 */
export function maskSecrets(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_FIELD.test(k) && v !== null && v !== undefined ? MASKED : maskSecrets(v)]),
    );
  }
  return value;
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(maskSecrets(v)));

/**
 * Appends `event` to its chain in the caller's transaction (audit_append: a tenant's event only
 * inside that tenant's `db.withTenant`); writers of one chain wait for each other until commit.
 * Returns the event's id.
 */
export async function appendAudit(q: Queryable, event: AuditEvent): Promise<string> {
  const ctx = currentContext();
  const { rows } = await q.query<{ id: string }>('SELECT audit_append($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)::text AS id', [
    event.tenantId,
    event.actor ?? ctx?.actor ?? 'system',
    event.action,
    event.target ?? null,
    json(event.before),
    json(event.after),
    event.requestId ?? ctx?.requestId ?? null,
    event.clientIp ?? ctx?.clientIp ?? null,
  ]);
  return rows[0].id;
}

/** An event as read back. */
export interface AuditRow {
  id: string;
  tenant_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  request_id: string | null;
  client_ip: string | null;
  at: Date;
}

export const AUDIT_COLUMNS = 'id::text, tenant_id, actor, action, target, before, after, request_id, client_ip, at';

/** Filters of an audit listing; `before`: an event id (the cursor), newest first. */
export interface AuditQuery {
  limit: number;
  before?: string;
  /** An action, or its part before the dot ('tenant': every tenant.* event). */
  type?: string;
  since?: Date;
}

/** The query of GET /audit and GET /state/audit: limit (1-200, default 50), before (an event id), type, since (ISO 8601). */
export const auditQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before: z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be an event id').optional(),
    type: z.string().regex(/^[a-z_]+(\.[a-z_]+)?$/, 'must be an action like tenant.updated, or its first part like tenant').optional(),
    since: z.coerce.date({ message: 'must be an ISO 8601 time' }).optional(),
  })
  .strict();

/** The tenant's own events, newest first, in its unit of work (row-level security). */
export async function tenantAuditPage(q: Queryable, tenantId: string, query: AuditQuery): Promise<AuditRow[]> {
  const { rows } = await q.query<AuditRow>(
    `SELECT ${AUDIT_COLUMNS} FROM audit_events
      WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
        AND ($3::text IS NULL OR action = $3 OR split_part(action, '.', 1) = $3)
        AND ($4::timestamptz IS NULL OR at >= $4)
      ORDER BY id DESC LIMIT $5`,
    [tenantId, query.before ?? null, query.type ?? null, query.since ?? null, query.limit],
  );
  return rows;
}

/** Every chain's events (or one tenant's), newest first, across tenants: audit_page (migration 1732060800110). */
export function auditPage(db: Database, query: AuditQuery & { tenantId?: string }): Promise<AuditRow[]> {
  return db.unscoped<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_page($1, $2, $3, $4::bigint, $5)`, [
    query.tenantId ?? null,
    query.type ?? null,
    query.since ?? null,
    query.before ?? null,
    query.limit,
  ]);
}

/** The chain walked from its anchor: intact with its length, or the first event that is not. */
export type AuditVerification = { ok: true; events: number } | { ok: false; events: number; brokenAt: string; reason: string };

export async function verifyAuditChain(db: Database, tenantId: string | null): Promise<AuditVerification> {
  const [r] = await db.unscoped<{ ok: boolean; events: number; broken_at: string | null; reason: string | null }>(
    'SELECT ok, events, broken_at::text, reason FROM audit_verify($1)',
    [tenantId],
  );
  return r.ok ? { ok: true, events: r.events } : { ok: false, events: r.events, brokenAt: r.broken_at!, reason: r.reason! };
}

/**
 * Removes at most `maxRows` events older than `cutoff`, oldest first and only whole prefixes of
 * chains (audit_purge: each chain's anchor keeps it verifiable). Returns how many went.
 */
export async function purgeAuditEvents(db: Database, cutoff: Date, maxRows: number): Promise<number> {
  const [r] = await db.unscoped<{ n: number }>('SELECT audit_purge($1, $2) AS n', [cutoff, maxRows]);
  return r.n;
}

/**
 * The address a request came from when it came through the gateway: the last X-Forwarded-For
 * entry (the gateway's proxy sends exactly one, the client's address as it resolved it, behind
 * TRUST_PROXY_HOPS proxies too: gateway/src/proxy.ts); only meaningful once the gateway's
 * internal token was checked.
 */
export function forwardedClientIp(req: Request): string | undefined {
  const xff = req.headers['x-forwarded-for'];
  const last = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').pop()?.trim();
  return last || undefined;
}
