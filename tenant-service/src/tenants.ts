import {
  AppError,
  announceTenantEvent,
  apiKeyPrefix,
  generateApiKey,
  hashApiKey,
  maskSecret,
  type Cache,
  type CredentialCipher,
  type CredentialType,
  type Database,
  type Logger,
} from '@bridge/shared';
import * as repo from './repository';
import type { CreateTenantInput, CredentialsInput, UpdateTenantInput } from './schemas';

export interface TenantDeps {
  db: Database;
  cache: Cache;
  cipher: CredentialCipher;
  logger: Logger;
}

/** Unique constraints → the contract's 409s. */
const CONFLICTS: Record<string, [string, string]> = {
  tenants_pkey: ['TENANT_EXISTS', 'A tenant with this tenantId already exists'],
  tenants_subdomain_key: ['SUBDOMAIN_TAKEN', 'This subdomain belongs to another tenant'],
  tenant_credentials_phone_number_id_key: ['PHONE_NUMBER_TAKEN', 'This phoneNumberId belongs to another tenant'],
};

function asConflict(err: unknown): never {
  const e = err as { code?: string; constraint?: string };
  if (e?.code === '23505' && e.constraint && CONFLICTS[e.constraint]) {
    const [code, message] = CONFLICTS[e.constraint];
    throw new AppError(code, message, 409);
  }
  throw err;
}

const tenantNotFound = () => new AppError('TENANT_NOT_FOUND', 'Tenant not found', 404);

/** Broadcast after commit; a failed broadcast must not fail a change that already happened. */
async function announce(deps: TenantDeps, event: Parameters<typeof announceTenantEvent>[1]) {
  try {
    await announceTenantEvent(deps.cache, event);
  } catch (err) {
    deps.logger.error({ err, tenantId: event.tenantId, kind: event.kind }, 'tenant change broadcast failed; caches expire by TTL');
  }
}

export function createTenantUseCases(deps: TenantDeps) {
  const { db, cipher } = deps;

  async function issueKey(q: Parameters<typeof repo.insertApiKey>[0], tenantId: string, name: string) {
    const apiKey = generateApiKey();
    const row = await repo.insertApiKey(q, { tenantId, keyHash: hashApiKey(apiKey), prefix: apiKeyPrefix(apiKey), name });
    return { id: row.id, apiKey, prefix: row.prefix, name: row.name };
  }

  return {
    /** Creates the tenant and its first API key in one transaction; the key is returned once. */
    async createTenant(input: CreateTenantInput) {
      return db
        .withTenant(input.tenantId, async (q) => {
          const tenant = await repo.insertTenant(q, input);
          const key = await issueKey(q, input.tenantId, 'default');
          return {
            tenant: repo.toTenant(tenant),
            apiKey: key.apiKey,
            apiKeyId: key.id,
            message: 'Store this API key now: it is not shown again',
          };
        })
        .catch(asConflict);
    },

    async listTenants(limit: number, after?: string) {
      const rows = await db.withPlatform((q) => repo.listTenants(q, limit, after));
      return rows.map(repo.toTenant);
    },

    async getTenant(tenantId: string) {
      const row = await db.withTenant(tenantId, (q) => repo.findTenant(q, tenantId));
      if (!row) throw tenantNotFound();
      return repo.toTenant(row);
    },

    async updateTenant(tenantId: string, patch: UpdateTenantInput) {
      const row = await db.withTenant(tenantId, (q) => repo.updateTenant(q, tenantId, patch)).catch(asConflict);
      if (!row) throw tenantNotFound();
      await announce(deps, { tenantId, kind: 'tenant-updated' });
      return repo.toTenant(row);
    },

    async deleteTenant(tenantId: string) {
      const { deleted, keyHashes } = await db.withTenant(tenantId, (q) => repo.deleteTenant(q, tenantId));
      if (!deleted) throw tenantNotFound();
      await announce(deps, { tenantId, kind: 'tenant-deleted', apiKeyHashes: keyHashes });
    },

    /** Stores (or replaces) one type of credentials, encrypted; answers with the masked view. */
    async storeCredentials(tenantId: string, input: CredentialsInput) {
      const lookup =
        input.type === 'meta'
          ? { phoneNumberId: input.credentials.phoneNumberId, wabaId: input.credentials.wabaId }
          : { region: input.credentials.region, integrationId: input.credentials.integrationId, clientId: input.credentials.clientId };
      const row = await db
        .withTenant(tenantId, async (q) => {
          if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
          const encrypted = cipher.encrypt(tenantId, input.type, input.credentials);
          return repo.upsertCredentials(q, { tenantId, type: input.type, encrypted, ...lookup });
        })
        .catch(asConflict);
      await announce(deps, { tenantId, kind: 'credentials-changed' });
      return maskedView(row.type, input.credentials, row);
    },

    async listCredentials(tenantId: string) {
      const rows = await db.withTenant(tenantId, async (q) => {
        if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
        return repo.listCredentials(q, tenantId);
      });
      return rows.map((row) => maskedView(row.type, cipher.decrypt<Record<string, string>>(tenantId, row.type, row.encrypted), row));
    },

    /** Decrypted credentials, for internal services only. */
    async readCredentials(tenantId: string, type: CredentialType) {
      const [row] = await db.withTenant(tenantId, (q) => repo.listCredentials(q, tenantId, type));
      if (!row) throw new AppError('CREDENTIALS_NOT_FOUND', `No ${type} credentials for this tenant`, 404);
      return { type, credentials: cipher.decrypt(tenantId, type, row.encrypted), updatedAt: row.updated_at.toISOString() };
    },

    async createApiKey(tenantId: string, name: string) {
      return db.withTenant(tenantId, async (q) => {
        if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
        return issueKey(q, tenantId, name);
      });
    },

    async listApiKeys(tenantId: string) {
      const rows = await db.withTenant(tenantId, async (q) => {
        if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
        return repo.listApiKeys(q, tenantId);
      });
      return rows.map((k) => ({
        id: k.id,
        prefix: k.prefix,
        name: k.name,
        isActive: k.is_active,
        createdAt: k.created_at.toISOString(),
        lastUsedAt: k.last_used_at?.toISOString() ?? null,
      }));
    },

    async revokeApiKey(tenantId: string, id: string) {
      const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
      const keyHash = UUID.test(id) ? await db.withTenant(tenantId, (q) => repo.revokeApiKey(q, tenantId, id)) : undefined;
      if (!keyHash) throw new AppError('API_KEY_NOT_FOUND', 'API key not found', 404);
      await announce(deps, { tenantId, kind: 'api-key-revoked', apiKeyHashes: [keyHash] });
    },
  };
}

export type TenantUseCases = ReturnType<typeof createTenantUseCases>;

/** Which fields of each credential type are secrets (masked) and which are lookups (shown). */
const SECRET_FIELDS: Record<CredentialType, string[]> = {
  meta: ['appSecret', 'verifyToken', 'accessToken'],
  genesys: ['clientSecret', 'webhookSecret'],
};

function maskedView(type: CredentialType, credentials: Record<string, unknown>, row: { created_at: Date; updated_at: Date }) {
  const shown: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(credentials)) {
    shown[field] = SECRET_FIELDS[type].includes(field) && typeof value === 'string' ? maskSecret(value) : value;
  }
  return { type, credentials: shown, createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString() };
}
