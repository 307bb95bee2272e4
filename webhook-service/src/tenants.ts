import {
  LookupCache,
  hashVerifyToken,
  onTenantEvent,
  type Cache,
  type CredentialsClient,
  type Database,
  type GenesysCredentials,
  type MetaCredentials,
  type TenantDirectory,
} from '@bridge/shared';
import { tenantsForWabas } from './routing-store';
import { tenantByVerifyTokenHash, tenantsForPhoneNumbers } from './store';

/** Whether a tenant is active and, if suspended, why (shown in the 423 TENANT_SUSPENDED answer). */
export interface TenantStanding {
  status: 'active' | 'suspended' | 'pending';
  suspendedReason: string | null;
}

/**
 * What webhook-service needs to know about tenants, cached in process: credentials (decrypted,
 * from tenant-service), which tenant owns a business number, whether a tenant is active. Tenant
 * change events drop the cached entries at once. Every cache is bounded (LookupCache); callers
 * check an identifier's shape before asking.
 */
export class WebhookTenants {
  private readonly phoneNumbers: LookupCache<string>;
  /** Bumped by every tenant event: a lookup that was under way during one does not store its answer. */
  private generation = 0;
  private unsubscribe?: () => Promise<void>;

  constructor(
    private readonly deps: {
      db: Database;
      cache: Cache;
      credentials: CredentialsClient;
      directory: TenantDirectory;
      /** How long a number's tenant is kept; default 60,000 ms (events drop it sooner). */
      phoneTtlMs?: number;
      /** Numbers (owned, and not owned apart) kept at most; default 10,000 and 2,000. */
      maxPhoneNumbers?: number;
      maxUnknownPhoneNumbers?: number;
    },
  ) {
    this.phoneNumbers = new LookupCache<string>({
      ttlMs: deps.phoneTtlMs ?? 60_000,
      // Unknown numbers are remembered briefly: a number being onboarded works within seconds.
      negativeTtlMs: 5_000,
      max: deps.maxPhoneNumbers,
      negativeMax: deps.maxUnknownPhoneNumbers,
      sizeOf: (tenantId) => 2 * tenantId.length,
    });
  }

  async start(): Promise<void> {
    // Numbers move between tenants only through credential changes or deletions.
    const dropAll = () => {
      this.generation++;
      this.phoneNumbers.clear();
    };
    // After a gap in the events (Redis away), numbers may have moved unannounced: drop them too.
    this.unsubscribe = await onTenantEvent(this.deps.cache, dropAll, dropAll);
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
  async status(tenantId: string): Promise<TenantStanding['status'] | undefined> {
    return (await this.deps.directory.tenant(tenantId))?.status;
  }

  /** The tenant's status and, while suspended, why (the directory's entry); undefined: no such tenant. */
  async standing(tenantId: string): Promise<TenantStanding | undefined> {
    const entry = await this.deps.directory.tenant(tenantId);
    return entry && { status: entry.status, suspendedReason: entry.suspendedReason ?? null };
  }

  /**
   * The tenant owning each business number (undefined: none), from memory or, for all the
   * numbers not in it, one indexed query. Pass numbers of Meta's id shape only (isMetaId).
   */
  async tenantsForPhoneNumbers(phoneNumberIds: readonly string[]): Promise<Map<string, string | undefined>> {
    const owners = new Map<string, string | undefined>();
    const unknown: string[] = [];
    for (const id of new Set(phoneNumberIds)) {
      const cached = this.phoneNumbers.get(id);
      if (cached) owners.set(id, cached.value);
      else unknown.push(id);
    }
    if (unknown.length) {
      const generation = this.generation;
      const found = await tenantsForPhoneNumbers(this.deps.db, unknown);
      for (const id of unknown) {
        owners.set(id, found.get(id));
        if (generation === this.generation) this.phoneNumbers.set(id, found.get(id));
      }
    }
    return owners;
  }

  /**
   * The tenants whose Meta credentials name each WABA (absent: none), in one indexed query, not
   * cached: account-level changes (template statuses, quality ratings) are rare. Pass ids of
   * Meta's id shape only.
   */
  tenantsForWabas(wabaIds: readonly string[]): Promise<Map<string, string[]>> {
    return tenantsForWabas(this.deps.db, wabaIds);
  }

  /**
   * The platform-wide handshake: a tenant whose verify token this is, if any. One indexed lookup
   * of the token's hash, whatever the number of tenants; nothing is decrypted or cached (Meta
   * calls it only when the app's webhook settings are saved).
   */
  tenantByVerifyToken(token: string): Promise<string | undefined> {
    return tenantByVerifyTokenHash(this.deps.db, hashVerifyToken(token));
  }
}
