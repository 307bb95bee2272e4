import type { Database, Queryable } from '@bridge/shared';

/**
 * SQL for tenants, their credentials and API keys. Every function runs inside a unit of work
 * (`db.withTenant`), but those across tenants, which call the platform functions (`db.unscoped`).
 */

export interface TenantRow {
  tenant_id: string;
  name: string;
  subdomain: string | null;
  status: 'active' | 'suspended';
  plan: string;
  rate_limit: number;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export interface Tenant {
  tenantId: string;
  name: string;
  subdomain: string | null;
  status: 'active' | 'suspended';
  plan: string;
  rateLimit: number;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export const toTenant = (r: TenantRow): Tenant => ({
  tenantId: r.tenant_id,
  name: r.name,
  subdomain: r.subdomain,
  status: r.status,
  plan: r.plan,
  rateLimit: r.rate_limit,
  metadata: r.metadata,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const TENANT_COLUMNS = 'tenant_id, name, subdomain, status, plan, rate_limit, metadata, created_at, updated_at';

export async function insertTenant(
  db: Queryable,
  t: { tenantId: string; name: string; subdomain?: string; plan?: string; rateLimit?: number; metadata?: Record<string, unknown> },
): Promise<TenantRow> {
  const { rows } = await db.query<TenantRow>(
    `INSERT INTO tenants (tenant_id, name, subdomain, plan, rate_limit, metadata)
     VALUES ($1, $2, $3, COALESCE($4, 'standard'), COALESCE($5, 600), COALESCE($6, '{}'::jsonb))
     RETURNING ${TENANT_COLUMNS}`,
    [t.tenantId, t.name, t.subdomain ?? null, t.plan ?? null, t.rateLimit ?? null, t.metadata ? JSON.stringify(t.metadata) : null],
  );
  return rows[0];
}

export async function findTenant(db: Queryable, tenantId: string, options: { forUpdate?: boolean } = {}): Promise<TenantRow | undefined> {
  const { rows } = await db.query<TenantRow>(
    `SELECT ${TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [tenantId],
  );
  return rows[0];
}

/** Every tenant's row, by id after `after`, across tenants: tenants_page (migration 1732060800020). */
export function listTenants(db: Database, limit: number, after?: string): Promise<TenantRow[]> {
  return db.unscoped<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants_page($1, $2)`, [after ?? null, limit]);
}

/** Changes only the fields given; `subdomain: null` removes the subdomain. */
export async function updateTenant(
  db: Queryable,
  tenantId: string,
  patch: { name?: string; subdomain?: string | null; plan?: string; rateLimit?: number; status?: string; metadata?: Record<string, unknown> },
): Promise<TenantRow | undefined> {
  const { rows } = await db.query<TenantRow>(
    `UPDATE tenants SET
        name       = COALESCE($2, name),
        subdomain  = CASE WHEN $3 THEN $4 ELSE subdomain END,
        plan       = COALESCE($5, plan),
        rate_limit = COALESCE($6, rate_limit),
        status     = COALESCE($7, status),
        metadata   = COALESCE($8::jsonb, metadata),
        updated_at = now()
      WHERE tenant_id = $1
      RETURNING ${TENANT_COLUMNS}`,
    [
      tenantId,
      patch.name ?? null,
      patch.subdomain !== undefined,
      patch.subdomain ?? null,
      patch.plan ?? null,
      patch.rateLimit ?? null,
      patch.status ?? null,
      patch.metadata ? JSON.stringify(patch.metadata) : null,
    ],
  );
  return rows[0];
}

/** Deletes the tenant (its rows in every table go by cascade); returns what it had, for cache updates. */
export async function deleteTenant(
  db: Queryable,
  tenantId: string,
): Promise<{ subdomain: string | null; keys: Pick<ApiKeyRow, 'id' | 'tenant_id' | 'key_hash'>[] } | undefined> {
  const keys = await db.query<Pick<ApiKeyRow, 'id' | 'tenant_id' | 'key_hash'>>('SELECT id, tenant_id, key_hash FROM tenant_api_keys WHERE tenant_id = $1', [tenantId]);
  const { rows } = await db.query<{ subdomain: string | null }>('DELETE FROM tenants WHERE tenant_id = $1 RETURNING subdomain', [tenantId]);
  return rows[0] && { subdomain: rows[0].subdomain, keys: keys.rows };
}

export interface CredentialRow {
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
       verify_token_hash = EXCLUDED.verify_token_hash, updated_at = now()
     RETURNING tenant_id, type, encrypted, created_at, updated_at`,
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
    `SELECT tenant_id, type, encrypted, created_at, updated_at FROM tenant_credentials
      WHERE tenant_id = $1 AND ($2::text IS NULL OR type = $2) ORDER BY type${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [tenantId, type ?? null],
  );
  return rows;
}

/** Replaces only the blob: the secrets in it, the lookup columns and `updated_at` stay what they were. */
export async function replaceEncryptedCredentials(db: Queryable, tenantId: string, type: string, encrypted: Buffer): Promise<void> {
  await db.query('UPDATE tenant_credentials SET encrypted = $3 WHERE tenant_id = $1 AND type = $2', [tenantId, type, encrypted]);
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
}

const KEY_COLUMNS = 'id, tenant_id, key_hash, prefix, name, is_active, rate_limit, created_at, last_used_at';

export async function insertApiKey(
  db: Queryable,
  k: { tenantId: string; keyHash: string; prefix: string; name: string; rateLimit?: number },
): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO tenant_api_keys (tenant_id, key_hash, prefix, name, rate_limit) VALUES ($1, $2, $3, $4, $5) RETURNING ${KEY_COLUMNS}`,
    [k.tenantId, k.keyHash, k.prefix, k.name, k.rateLimit ?? null],
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
