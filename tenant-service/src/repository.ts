import { CREDENTIAL_HEALTH_COLUMNS, type CredentialHealthRow, type Database, type MarkReadSetting, type Queryable } from '@bridge/shared';

/**
 * SQL for tenants, their credentials and API keys. Every function runs inside a unit of work
 * (`db.withTenant`), but those across tenants, which call the platform functions (`db.unscoped`).
 */

/**
 * `deleting`: DELETE /tenants/:id was answered and the purge is removing its rows; to everyone else the tenant is gone.
 * `pending`: created by automatic provisioning (webhook-service, AUTO_PROVISION) for a new business number, until an admin activates it.
 */
export type TenantStatus = 'active' | 'suspended' | 'deleting' | 'pending';

export interface TenantRow {
  tenant_id: string;
  name: string;
  subdomain: string | null;
  status: TenantStatus;
  plan: string;
  rate_limit: number;
  metadata: Record<string, unknown>;
  window_policy: WindowPolicy;
  reopen_template: ReopenTemplate | null;
  /** When the customer's messages are marked read (migration 1732060800061). */
  mark_read: MarkReadSetting;
  /** Why the tenant is suspended (1–500 chars) and since when; NULL while active (migration 1732060800120). */
  suspended_reason: string | null;
  suspended_at: Date | null;
  created_at: Date;
  updated_at: Date;
  /** The notification webhook's URL (migration 1732060800130); read by the single-tenant queries (ONE_TENANT_COLUMNS), not by the list. */
  notification_url?: string | null;
  /** Overrides of the plan's limits (migration 1732060800131); read by the single-tenant queries too. */
  quota_overrides?: Record<string, unknown>;
}

/** What an agent's free text after the customer's 24-hour window becomes (migration 1732060800050). */
export type WindowPolicy = 'reject' | 'template';

/** The approved one-parameter template the `template` policy sends the agent's text in. */
export interface ReopenTemplate {
  name: string;
  language: string;
}

export interface Tenant {
  tenantId: string;
  name: string;
  subdomain: string | null;
  status: 'active' | 'suspended' | 'pending';
  plan: string;
  rateLimit: number;
  metadata: Record<string, unknown>;
  windowPolicy: WindowPolicy;
  reopenTemplate: ReopenTemplate | null;
  markRead: MarkReadSetting;
  /** Why the tenant is suspended, as the admin gave it; null while active. */
  suspendedReason: string | null;
  /** When it was suspended (ISO 8601); null while active. */
  suspendedAt: string | null;
  /** Where the tenant's notifications are POSTed (the secret is never shown); null: nowhere. Shown by GET /tenants/:id, not the list. */
  notificationWebhook?: { url: string } | null;
  /** Overrides of the plan's limits for this tenant (shared/src/quotas.ts); shown by GET /tenants/:id, not the list. */
  quotaOverrides?: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export const toTenant = (r: TenantRow & { status: Tenant['status'] }): Tenant => ({
  tenantId: r.tenant_id,
  name: r.name,
  subdomain: r.subdomain,
  status: r.status,
  plan: r.plan,
  rateLimit: r.rate_limit,
  metadata: r.metadata,
  windowPolicy: r.window_policy,
  reopenTemplate: r.reopen_template,
  markRead: r.mark_read,
  suspendedReason: r.suspended_reason,
  suspendedAt: r.suspended_at?.toISOString() ?? null,
  ...(r.notification_url !== undefined ? { notificationWebhook: r.notification_url ? { url: r.notification_url } : null } : {}),
  ...(r.quota_overrides !== undefined ? { quotaOverrides: r.quota_overrides } : {}),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const TENANT_COLUMNS = 'tenant_id, name, subdomain, status, plan, rate_limit, metadata, window_policy, reopen_template, mark_read, suspended_reason, suspended_at, created_at, updated_at';
/** One tenant's columns: the list's (tenants_page) and those only GET /tenants/:id shows. */
const ONE_TENANT_COLUMNS = `${TENANT_COLUMNS}, notification_url, quota_overrides`;

/** A tenant being deleted is not found by any of the functions below but `tenantStatus`. */
const VISIBLE = "status <> 'deleting'";

/** A tenant row the admin API may show (not being deleted). */
export type VisibleTenantRow = TenantRow & { status: 'active' | 'suspended' | 'pending' };

export async function insertTenant(
  db: Queryable,
  t: {
    tenantId: string;
    name: string;
    subdomain?: string;
    plan?: string;
    rateLimit?: number;
    metadata?: Record<string, unknown>;
    windowPolicy?: WindowPolicy;
    reopenTemplate?: ReopenTemplate | null;
    markRead?: MarkReadSetting;
    /** Overrides of the plan's limits (the rate limit follows the plan, or apiRequestsPerMinute here). */
    quotaOverrides?: Record<string, unknown>;
  },
): Promise<VisibleTenantRow> {
  const { rows } = await db.query<VisibleTenantRow>(
    `INSERT INTO tenants (tenant_id, name, subdomain, plan, rate_limit, metadata, window_policy, reopen_template, mark_read, quota_overrides)
     VALUES ($1, $2, $3, COALESCE($4, 'standard'), COALESCE($5, 600), COALESCE($6, '{}'::jsonb), COALESCE($7, 'reject'), $8::jsonb,
             COALESCE($9, 'on-agent-activity'), COALESCE($10::jsonb, '{}'::jsonb))
     RETURNING ${ONE_TENANT_COLUMNS}`,
    [
      t.tenantId,
      t.name,
      t.subdomain ?? null,
      t.plan ?? null,
      t.rateLimit ?? null,
      t.metadata ? JSON.stringify(t.metadata) : null,
      t.windowPolicy ?? null,
      t.reopenTemplate ? JSON.stringify(t.reopenTemplate) : null,
      t.markRead ?? null,
      t.quotaOverrides ? JSON.stringify(t.quotaOverrides) : null,
    ],
  );
  return rows[0];
}

export async function findTenant(db: Queryable, tenantId: string, options: { forUpdate?: boolean } = {}): Promise<VisibleTenantRow | undefined> {
  const { rows } = await db.query<VisibleTenantRow>(
    `SELECT ${ONE_TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1 AND ${VISIBLE}${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [tenantId],
  );
  return rows[0];
}

/** The tenant's status whatever it is (`deleting` included); undefined: no row. */
export async function tenantStatus(db: Queryable, tenantId: string): Promise<TenantStatus | undefined> {
  const { rows } = await db.query<{ status: TenantStatus }>('SELECT status FROM tenants WHERE tenant_id = $1', [tenantId]);
  return rows[0]?.status;
}

/**
 * Every tenant's row but those being deleted, by id after `after`, across tenants: tenants_page
 * (migration 1732060800020).
 */
export function listTenants(db: Database, limit: number, after?: string): Promise<VisibleTenantRow[]> {
  return db.unscoped<VisibleTenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants_page($1, $2)`, [after ?? null, limit]);
}

/** Changes only the fields given; `subdomain: null` removes the subdomain, `reopenTemplate: null` the re-open template. */
export async function updateTenant(
  db: Queryable,
  tenantId: string,
  patch: {
    name?: string;
    subdomain?: string | null;
    plan?: string;
    rateLimit?: number;
    status?: 'active' | 'suspended';
    /** With `status: 'suspended'`: why (required by the schema). */
    reason?: string;
    metadata?: Record<string, unknown>;
    windowPolicy?: WindowPolicy;
    reopenTemplate?: ReopenTemplate | null;
    markRead?: MarkReadSetting;
    /** Replaces the overrides of the plan's limits. */
    quotaOverrides?: Record<string, unknown>;
  },
): Promise<VisibleTenantRow | undefined> {
  const { rows } = await db.query<VisibleTenantRow>(
    `UPDATE tenants SET
        name       = COALESCE($2, name),
        subdomain  = CASE WHEN $3 THEN $4 ELSE subdomain END,
        plan       = COALESCE($5, plan),
        rate_limit = COALESCE($6, rate_limit),
        status     = COALESCE($7, status),
        metadata   = COALESCE($8::jsonb, metadata),
        window_policy   = COALESCE($9, window_policy),
        reopen_template = CASE WHEN $10 THEN $11::jsonb ELSE reopen_template END,
        mark_read       = COALESCE($12, mark_read),
        quota_overrides = COALESCE($14::jsonb, quota_overrides),
        -- Suspending records the reason (a new one replaces the old) and, if it was active, the
        -- time; reactivating clears both.
        suspended_reason = CASE $7 WHEN 'suspended' THEN COALESCE($13, suspended_reason) WHEN 'active' THEN NULL ELSE suspended_reason END,
        suspended_at     = CASE $7 WHEN 'suspended' THEN CASE WHEN status = 'suspended' THEN suspended_at ELSE now() END
                                   WHEN 'active' THEN NULL ELSE suspended_at END,
        updated_at = now()
      WHERE tenant_id = $1 AND ${VISIBLE}
      RETURNING ${ONE_TENANT_COLUMNS}`,
    [
      tenantId,
      patch.name ?? null,
      patch.subdomain !== undefined,
      patch.subdomain ?? null,
      patch.plan ?? null,
      patch.rateLimit ?? null,
      patch.status ?? null,
      patch.metadata ? JSON.stringify(patch.metadata) : null,
      patch.windowPolicy ?? null,
      patch.reopenTemplate !== undefined,
      patch.reopenTemplate ? JSON.stringify(patch.reopenTemplate) : null,
      patch.markRead ?? null,
      patch.reason ?? null,
      patch.quotaOverrides ? JSON.stringify(patch.quotaOverrides) : null,
    ],
  );
  return rows[0];
}

/**
 * Sets (or with null removes) the tenant's notification webhook: its URL and its secret, encrypted
 * by the caller. Returns the row's new URL; undefined when there is no such visible tenant.
 */
export async function setNotificationWebhook(db: Queryable, tenantId: string, webhook: { url: string; encryptedSecret: Buffer } | null): Promise<string | null | undefined> {
  const { rows } = await db.query<{ notification_url: string | null }>(
    `UPDATE tenants SET notification_url = $2, notification_secret = $3, updated_at = now() WHERE tenant_id = $1 AND ${VISIBLE} RETURNING notification_url`,
    [tenantId, webhook?.url ?? null, webhook?.encryptedSecret ?? null],
  );
  return rows[0]?.notification_url;
}

/** The tenant's notification webhook (its secret still encrypted); undefined: none set, or no such tenant. */
export async function findNotificationWebhook(db: Queryable, tenantId: string, options: { forUpdate?: boolean } = {}): Promise<{ url: string; encryptedSecret: Buffer } | undefined> {
  const { rows } = await db.query<{ notification_url: string; notification_secret: Buffer }>(
    `SELECT notification_url, notification_secret FROM tenants WHERE tenant_id = $1 AND ${VISIBLE} AND notification_url IS NOT NULL${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [tenantId],
  );
  return rows[0] && { url: rows[0].notification_url, encryptedSecret: rows[0].notification_secret };
}

/** The notification webhook's secret re-encrypted (key rotation); the URL and the secret itself do not change. */
export async function replaceNotificationSecret(db: Queryable, tenantId: string, encryptedSecret: Buffer): Promise<void> {
  await db.query('UPDATE tenants SET notification_secret = $2 WHERE tenant_id = $1 AND notification_url IS NOT NULL', [tenantId, encryptedSecret]);
}

/**
 * The first, short step of deleting a tenant: marks it `deleting` and frees its subdomain, and
 * removes its API keys and credentials (a handful of rows), so that from the commit on nothing
 * resolves to it and its phone number id can be onboarded again. Records the deletion for the
 * purge (or restarts a finished record of an earlier tenant of this id). Undefined: no such
 * visible tenant. Returns what caches must forget, and the rows removed so far.
 */
export async function markDeleting(
  db: Queryable,
  tenantId: string,
): Promise<{ subdomain: string | null; keys: Pick<ApiKeyRow, 'id' | 'tenant_id' | 'key_hash'>[]; deleted: Record<string, number> } | undefined> {
  // Locking the row waits only for transactions inserting the tenant's rows right now (their
  // foreign key checks share it), which are short; lock_timeout bounds the wait in any case.
  const { rows } = await db.query<{ subdomain: string | null }>(`SELECT subdomain FROM tenants WHERE tenant_id = $1 AND ${VISIBLE} FOR UPDATE`, [tenantId]);
  if (!rows[0]) return undefined;
  await db.query(`UPDATE tenants SET status = 'deleting', subdomain = NULL, updated_at = now() WHERE tenant_id = $1`, [tenantId]);
  const keys = await db.query<Pick<ApiKeyRow, 'id' | 'tenant_id' | 'key_hash'>>('DELETE FROM tenant_api_keys WHERE tenant_id = $1 RETURNING id, tenant_id, key_hash', [tenantId]);
  const credentials = await db.query('DELETE FROM tenant_credentials WHERE tenant_id = $1', [tenantId]);
  const deleted = { tenant_api_keys: keys.rowCount ?? 0, tenant_credentials: credentials.rowCount ?? 0 };
  await db.query(
    `INSERT INTO tenant_deletions (tenant_id, deleted) VALUES ($1, $2)
     ON CONFLICT (tenant_id) DO UPDATE SET
       state = 'purging', requested_at = now(), finished_at = NULL, deleted = EXCLUDED.deleted, batches = 0,
       locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = now()`,
    [tenantId, JSON.stringify(deleted)],
  );
  return { subdomain: rows[0].subdomain, keys: keys.rows, deleted };
}

export interface DeletionRow {
  tenant_id: string;
  state: 'purging' | 'done';
  requested_at: Date;
  finished_at: Date | null;
  deleted: Record<string, number>;
  batches: number;
  last_error: string | null;
}

export async function findDeletion(db: Queryable, tenantId: string): Promise<DeletionRow | undefined> {
  const { rows } = await db.query<DeletionRow>(
    'SELECT tenant_id, state, requested_at, finished_at, deleted, batches, last_error FROM tenant_deletions WHERE tenant_id = $1',
    [tenantId],
  );
  return rows[0];
}

export interface CredentialRow extends CredentialHealthRow {
  tenant_id: string;
  type: 'meta' | 'genesys';
  encrypted: Buffer;
  created_at: Date;
  updated_at: Date;
}

export async function upsertCredentials(
  db: Queryable,
  c: {
    tenantId: string;
    type: string;
    encrypted: Buffer;
    phoneNumberId?: string;
    wabaId?: string;
    /** Meta: hashVerifyToken of the verify token, for the platform-wide handshake. */
    verifyTokenHash?: string;
    region?: string;
    integrationId?: string;
    clientId?: string;
  },
): Promise<CredentialRow> {
  const { rows } = await db.query<CredentialRow>(
    `INSERT INTO tenant_credentials (tenant_id, type, encrypted, phone_number_id, waba_id, region, integration_id, client_id, verify_token_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (tenant_id, type) DO UPDATE SET
       encrypted = EXCLUDED.encrypted, phone_number_id = EXCLUDED.phone_number_id, waba_id = EXCLUDED.waba_id,
       region = EXCLUDED.region, integration_id = EXCLUDED.integration_id, client_id = EXCLUDED.client_id,
       verify_token_hash = EXCLUDED.verify_token_hash, updated_at = now(),
       status = 'valid', invalid_reason = NULL, invalid_at = NULL, verified_at = NULL, restored_at = NULL
     RETURNING tenant_id, type, encrypted, created_at, updated_at, ${CREDENTIAL_HEALTH_COLUMNS}`,
    [c.tenantId, c.type, c.encrypted, c.phoneNumberId ?? null, c.wabaId ?? null, c.region ?? null, c.integrationId ?? null, c.clientId ?? null, c.verifyTokenHash ?? null],
  );
  return rows[0];
}

/**
 * Meta credentials stored before verify_token_hash existed (migration 1732060800008), across
 * tenants: up to `limit` tenant ids after `after`, in order (tenants_without_verify_token_hash,
 * migration 1732060800020).
 */
export async function tenantsWithoutVerifyTokenHash(db: Database, limit: number, after?: string): Promise<string[]> {
  const rows = await db.unscoped<{ tenant_id: string }>('SELECT tenant_id FROM tenants_without_verify_token_hash($1, $2) AS tenant_id', [after ?? null, limit]);
  return rows.map((r) => r.tenant_id);
}

/** The tenant's Meta blob if its verify_token_hash is still missing, locked until the transaction ends. */
export async function lockMetaWithoutVerifyTokenHash(db: Queryable, tenantId: string): Promise<Buffer | undefined> {
  const { rows } = await db.query<{ encrypted: Buffer }>(
    `SELECT encrypted FROM tenant_credentials WHERE tenant_id = $1 AND type = 'meta' AND verify_token_hash IS NULL FOR UPDATE`,
    [tenantId],
  );
  return rows[0]?.encrypted;
}

export async function setVerifyTokenHash(db: Queryable, tenantId: string, verifyTokenHash: string): Promise<void> {
  await db.query(`UPDATE tenant_credentials SET verify_token_hash = $2 WHERE tenant_id = $1 AND type = 'meta'`, [tenantId, verifyTokenHash]);
}

export async function listCredentials(db: Queryable, tenantId: string, type?: string, options: { forUpdate?: boolean } = {}): Promise<CredentialRow[]> {
  const { rows } = await db.query<CredentialRow>(
    `SELECT tenant_id, type, encrypted, created_at, updated_at, ${CREDENTIAL_HEALTH_COLUMNS} FROM tenant_credentials
      WHERE tenant_id = $1 AND ($2::text IS NULL OR type = $2) ORDER BY type${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [tenantId, type ?? null],
  );
  return rows;
}

/** Replaces only the blob: the secrets in it, the lookup columns and `updated_at` stay what they were. */
export async function replaceEncryptedCredentials(db: Queryable, tenantId: string, type: string, encrypted: Buffer): Promise<void> {
  await db.query('UPDATE tenant_credentials SET encrypted = $3 WHERE tenant_id = $1 AND type = $2', [tenantId, type, encrypted]);
}

/** The WABA id the tenant's Meta credentials name now: undefined without Meta credentials, null when they name none. */
export async function metaWabaId(db: Queryable, tenantId: string): Promise<string | null | undefined> {
  const { rows } = await db.query<{ waba_id: string | null }>(`SELECT waba_id FROM tenant_credentials WHERE tenant_id = $1 AND type = 'meta'`, [tenantId]);
  return rows[0] ? rows[0].waba_id : undefined;
}

/**
 * Until the transaction ends, the tenant's template catalogue is this transaction's to replace:
 * two syncs of one tenant (an admin's and the one after a credentials store, on any replica)
 * write one after the other, not interleaved.
 */
export async function lockTemplateCatalogue(db: Queryable, tenantId: string): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtextextended('message_templates:' || $1, 0))`, [tenantId]);
}

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  key_hash: string;
  prefix: string;
  name: string;
  is_active: boolean;
  rate_limit: number | null;
  created_at: Date;
  last_used_at: Date | null;
  /** The client address of the last use (migration 1732060800100). */
  last_used_ip: string | null;
  scopes: string[];
  expires_at: Date | null;
  allowed_origins: string[] | null;
}

const KEY_COLUMNS =
  'id, tenant_id, key_hash, prefix, name, is_active, rate_limit, created_at, last_used_at, last_used_ip, scopes, expires_at, allowed_origins';

export async function insertApiKey(
  db: Queryable,
  k: {
    tenantId: string;
    keyHash: string;
    prefix: string;
    name: string;
    rateLimit?: number;
    scopes: readonly string[];
    expiresAt?: Date;
    allowedOrigins?: readonly string[];
  },
): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO tenant_api_keys (tenant_id, key_hash, prefix, name, rate_limit, scopes, expires_at, allowed_origins)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${KEY_COLUMNS}`,
    [k.tenantId, k.keyHash, k.prefix, k.name, k.rateLimit ?? null, k.scopes, k.expiresAt ?? null, k.allowedOrigins ?? null],
  );
  return rows[0];
}

export async function listApiKeys(db: Queryable, tenantId: string): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM tenant_api_keys WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId]);
  return rows;
}

/** Deactivates a key; returns it, or undefined when the tenant has no such key. */
export async function revokeApiKey(db: Queryable, tenantId: string, id: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await db.query<ApiKeyRow>(
    `UPDATE tenant_api_keys SET is_active = false, revoked_at = COALESCE(revoked_at, now())
      WHERE tenant_id = $1 AND id = $2 RETURNING ${KEY_COLUMNS}`,
    [tenantId, id],
  );
  return rows[0];
}

export interface UnclaimedChangeRow {
  id: string;
  phone_number_id: string | null;
  waba_id: string | null;
  field: string | null;
  signed_by: string;
  payload: unknown;
  received_at: Date;
}

/** Held Meta changes across tenants (unclaimed_changes_page, migration 1732060800040), oldest first: up to `limit` after the id `after`, for one number if given. */
export function listUnclaimedChanges(db: Database, q: { limit: number; after?: string; phoneNumberId?: string }): Promise<UnclaimedChangeRow[]> {
  return db.unscoped<UnclaimedChangeRow>(
    `SELECT id::text, phone_number_id, waba_id, field, signed_by, payload, received_at FROM unclaimed_changes_page($1::bigint, $2, $3)`,
    [q.after ?? null, q.limit, q.phoneNumberId ?? null],
  );
}

// ---- the purge of deleted tenants (purge.ts) ----

/**
 * Leases the oldest deletion nobody is working on (never claimed, released, or its lease run
 * out: its replica died) to `worker` for `leaseMs`, across tenants: tenant_deletion_claim
 * (migration 1732060800040). Undefined: none waiting.
 */
export async function claimDeletion(db: Database, worker: string, leaseMs: number): Promise<string | undefined> {
  const [row] = await db.unscoped<{ tenant_id: string | null }>('SELECT tenant_deletion_claim($1, $2) AS tenant_id', [worker, leaseMs]);
  return row?.tenant_id ?? undefined;
}

/** A tenant-owned table, quoted for SQL, and the columns after `tenant_id` of its primary key (none: its key does not start with `tenant_id`). */
export interface OwnedTable {
  name: string;
  keys: Array<{ column: string; type: string }>;
}

/**
 * The tables whose rows belong to a tenant: every table with a foreign key whose first column is
 * its `tenant_id`, to `tenants` or to another tenant-owned table (message_parts → message_tracking),
 * so a table a later migration adds is purged too, and counted; with their key columns. Not the
 * platform-wide tables the application role may not write (the numbers' directory,
 * `phone_number_owners`: its rows go with the tenant's credentials, by trigger). Read from the
 * system catalogs, in no tenant's scope (`db.unscoped`).
 */
export function tenantOwnedTables(db: Database): Promise<OwnedTable[]> {
  return db.unscoped<OwnedTable>(
    `SELECT t.oid::regclass::text AS name,
            COALESCE((
              SELECT json_agg(json_build_object('column', quote_ident(ka.attname), 'type', format_type(ka.atttypid, ka.atttypmod)) ORDER BY k.ord)
                FROM pg_index i
                CROSS JOIN unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_attribute ka ON ka.attrelid = i.indrelid AND ka.attnum = k.attnum
               WHERE i.indrelid = t.oid AND i.indisprimary AND k.ord > 1 AND i.indkey[0] = a.attnum
            ), '[]'::json) AS keys
       FROM pg_class t
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
      WHERE EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = t.oid AND c.contype = 'f' AND c.conkey[1] = a.attnum)
        AND has_table_privilege(t.oid, 'DELETE')
      ORDER BY 1`,
  );
}

/**
 * Deletes the tenant's next `limit` rows of `table` in key order after `cursor` (the last key
 * of the previous batch; undefined: from the start) and adds them to the deletion's progress,
 * in the caller's transaction, if `worker` still holds the lease, which it renews; otherwise it
 * deletes nothing and returns null (another replica purges this tenant now). Walking the primary
 * key from a cursor keeps every batch an index range scan of `limit` entries, however many rows
 * went before. Returns the rows deleted, whether fewer than `limit` were left (the sweep of
 * this table is done), and the cursor for the next batch.
 */
export async function purgeBatch(
  db: Queryable,
  tenantId: string,
  table: OwnedTable,
  limit: number,
  cursor: string[] | undefined,
  lease: { worker: string; leaseMs: number },
): Promise<{ deleted: number; done: boolean; cursor?: string[] } | null> {
  // First, and locking the deletion's row until commit: a replica that lost the lease stops here.
  const held = await db.query(
    `UPDATE tenant_deletions SET batches = batches + 1, locked_until = now() + $3 * interval '1 millisecond', last_error = NULL, updated_at = now()
      WHERE tenant_id = $1 AND state = 'purging' AND locked_by = $2`,
    [tenantId, lease.worker, lease.leaseMs],
  );
  if (!held.rowCount) return null;
  // Walk the key's index in order and stop at the limit, whatever the statistics say: on none
  // (a table just bulk-loaded) or stale ones, PostgreSQL would otherwise fetch and sort every
  // row the tenant has left, in every batch. The penalty that setting puts on any sort would
  // also make the plan look costly enough to JIT-compile, which takes longer than the batch.
  await db.query('SET LOCAL enable_sort = off; SET LOCAL jit = off');
  const keys = table.keys.map((k) => k.column);
  const after = cursor && keys.length ? ` AND (${keys.join(', ')}) > (${table.keys.map((k, i) => `$${i + 3}::${k.type}`).join(', ')})` : '';
  const order = keys.length ? ` ORDER BY ${keys.join(', ')}` : '';
  const last = keys.length ? `(SELECT json_build_array(${keys.map((k) => `${k}::text`).join(', ')}) FROM doomed ORDER BY ${keys.map((k) => `${k} DESC`).join(', ')} LIMIT 1)` : 'NULL::json';
  // Unnamed ({ text, values }): planned for this batch's values every time. A prepared plan made for
  // the first batches' values (or a generic one) can walk the wrong index once the tenant's rows thin out.
  const { rows } = await db.query<{ deleted: number; seen: number; last: string[] | null }>({
    text: `WITH doomed AS MATERIALIZED (
            SELECT ctid${keys.map((k) => `, ${k}`).join('')} FROM ${table.name} WHERE tenant_id = $1${after}${order} LIMIT $2),
          gone AS (DELETE FROM ${table.name} WHERE tenant_id = $1 AND ctid = ANY(ARRAY(SELECT ctid FROM doomed)) RETURNING 1)
     SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM doomed)::int AS seen, ${last} AS last`,
    values: [tenantId, limit, ...(after ? cursor! : [])],
  });
  const { deleted, seen } = rows[0];
  if (deleted) {
    await db.query(
      `UPDATE tenant_deletions SET deleted = jsonb_set(deleted, ARRAY[$2], to_jsonb(COALESCE((deleted ->> $2)::bigint, 0) + $3)) WHERE tenant_id = $1`,
      [tenantId, table.name, deleted],
    );
  }
  return { deleted, done: seen < limit, cursor: rows[0].last ?? undefined };
}

/**
 * The last step: deletes the tenant row (the few rows written since each table was emptied go
 * with it, by cascade) and marks the deletion done. False when `worker` lost the lease.
 */
export async function finishDeletion(db: Queryable, tenantId: string, worker: string): Promise<boolean> {
  const done = await db.query(
    `UPDATE tenant_deletions SET state = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL, updated_at = now()
      WHERE tenant_id = $1 AND state = 'purging' AND locked_by = $2`,
    [tenantId, worker],
  );
  if (!done.rowCount) return false;
  await db.query(`DELETE FROM tenants WHERE tenant_id = $1 AND status = 'deleting'`, [tenantId]);
  return true;
}

/**
 * Gives the lease back so that any replica may carry on: at once (shutting down), or after
 * `retryInMs` with the error's reason recorded (a batch failed).
 */
export async function releaseDeletion(db: Queryable, tenantId: string, worker: string, failure?: { error: string; retryInMs: number }): Promise<void> {
  await db.query(
    `UPDATE tenant_deletions SET locked_by = NULL, locked_until = now() + $4 * interval '1 millisecond',
        last_error = COALESCE($3, last_error), updated_at = now()
      WHERE tenant_id = $1 AND locked_by = $2`,
    [tenantId, worker, failure?.error ?? null, failure?.retryInMs ?? 0],
  );
}
