import { platformKey, tenantKey, type Cache } from './cache';

/**
 * How a change to a tenant reaches every node at once. tenant-service, after committing a change,
 * deletes the shared cache entries the change makes stale (so the very next lookup anywhere reads
 * the database) and broadcasts the event, so that processes holding their own in-memory copies
 * (e.g. decrypted credentials) drop them too.
 */
export const TENANT_EVENTS_CHANNEL = 'bridge:tenant-events';

export type TenantEventKind = 'tenant-updated' | 'tenant-deleted' | 'api-key-revoked' | 'credentials-changed';

export interface TenantEvent {
  tenantId: string;
  kind: TenantEventKind;
  /** Hashes of the API keys the change affects (revoked, or all of a deleted tenant's). */
  apiKeyHashes?: string[];
}

/** The shared cache's keys for tenant resolution; the one place that names them. */
export const resolutionKeys = {
  apiKey: (keyHash: string) => platformKey('apikey', keyHash),
  tenant: (tenantId: string) => tenantKey(tenantId, 'tenant'),
  subdomain: (subdomain: string) => platformKey('subdomain', subdomain),
};

export async function announceTenantEvent(cache: Cache, event: TenantEvent, extraKeys: string[] = []): Promise<void> {
  const keys = [resolutionKeys.tenant(event.tenantId), ...(event.apiKeyHashes ?? []).map(resolutionKeys.apiKey), ...extraKeys];
  await cache.del(...keys);
  await cache.publish(TENANT_EVENTS_CHANNEL, JSON.stringify(event));
}

export function onTenantEvent(cache: Cache, handler: (event: TenantEvent) => void): Promise<() => Promise<void>> {
  return cache.subscribe(TENANT_EVENTS_CHANNEL, (message) => {
    try {
      handler(JSON.parse(message) as TenantEvent);
    } catch {
      // A malformed broadcast is ignored; TTLs bound any staleness it could cause.
    }
  });
}
