import { onTenantEvent, safeEqual, type Cache, type CredentialsClient, type Database, type GenesysCredentials, type MetaCredentials, type TenantDirectory } from '@bridge/shared';
import { tenantForPhoneNumber } from './store';

/**
 * What webhook-service needs to know about tenants, cached in process: credentials (decrypted,
 * from tenant-service), which tenant owns a business number, whether a tenant is active. Tenant
 * change events drop the cached entries at once.
 */
export class WebhookTenants {
  private readonly phoneNumbers = new Map<string, { tenantId: string | undefined; expires: number }>();
  private unsubscribe?: () => Promise<void>;

  constructor(
    private readonly deps: { db: Database; cache: Cache; credentials: CredentialsClient; directory: TenantDirectory; phoneTtlMs?: number },
  ) {}

  async start(): Promise<void> {
    // Numbers move between tenants only through credential changes or deletions.
    this.unsubscribe = await onTenantEvent(this.deps.cache, () => this.phoneNumbers.clear());
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
  }

  metaCredentials(tenantId: string): Promise<MetaCredentials | undefined> {
    return this.deps.credentials.meta(tenantId);
  }

  genesysCredentials(tenantId: string): Promise<GenesysCredentials | undefined> {
    return this.deps.credentials.genesys(tenantId);
  }

  async isActive(tenantId: string): Promise<boolean> {
    return (await this.status(tenantId)) === 'active';
  }

  /** The tenant's status from the directory (a change is seen on the next call); undefined: no such tenant. */
  async status(tenantId: string): Promise<'active' | 'suspended' | undefined> {
    return (await this.deps.directory.tenant(tenantId))?.status;
  }

  async tenantForPhoneNumber(phoneNumberId: string): Promise<string | undefined> {
    const hit = this.phoneNumbers.get(phoneNumberId);
    if (hit && hit.expires > Date.now()) return hit.tenantId;
    const tenantId = await this.deps.db.withPlatform((q) => tenantForPhoneNumber(q, phoneNumberId));
    // Unknown numbers are remembered briefly, known ones for longer; events clear both.
    this.phoneNumbers.set(phoneNumberId, { tenantId, expires: Date.now() + (tenantId ? this.deps.phoneTtlMs ?? 60_000 : 5_000) });
    if (this.phoneNumbers.size > 100_000) this.phoneNumbers.clear();
    return tenantId;
  }

  /** The platform-wide handshake: which tenant, if any, has this verify token. Rare (Meta calls it when the app's webhook is edited). */
  async tenantByVerifyToken(token: string): Promise<string | undefined> {
    const { rows } = await this.deps.db.withPlatform((q) =>
      q.query<{ tenant_id: string }>(`SELECT tenant_id FROM tenant_credentials WHERE type = 'meta' ORDER BY tenant_id`),
    );
    for (const { tenant_id } of rows) {
      const meta = await this.metaCredentials(tenant_id).catch(() => undefined);
      if (meta && safeEqual(meta.verifyToken, token)) return tenant_id;
    }
    return undefined;
  }
}
