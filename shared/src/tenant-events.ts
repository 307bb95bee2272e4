import type { Cache } from './cache';

/**
 * Broadcast of tenant changes, for processes that keep their own in-memory copies of tenant data
 * (e.g. decrypted credentials) and must drop them at once. Shared cache entries are updated by
 * TenantDirectory; this only tells everyone that something changed.
 */
export const TENANT_EVENTS_CHANNEL = 'bridge:tenant-events';

export type TenantEventKind = 'tenant-updated' | 'tenant-deleted' | 'api-key-revoked' | 'credentials-changed';

export interface TenantEvent {
  tenantId: string;
  kind: TenantEventKind;
}

export function publishTenantEvent(cache: Cache, event: TenantEvent): Promise<void> {
  return cache.publish(TENANT_EVENTS_CHANNEL, JSON.stringify(event));
}

/**
 * Calls `handler` for every tenant event, and `onGap` whenever events may have been missed (the
 * subscription to Redis came back after an outage or a reconnect): a holder of copies of tenant
 * data drops all of them then, since a rotated secret may have been announced meanwhile.
 */
export function onTenantEvent(cache: Cache, handler: (event: TenantEvent) => void, onGap?: () => void): Promise<() => Promise<void>> {
  return cache.subscribe(
    TENANT_EVENTS_CHANNEL,
    (message) => {
      try {
        handler(JSON.parse(message) as TenantEvent);
      } catch {
        // A malformed broadcast is ignored; TTLs bound any staleness it could cause.
      }
    },
    onGap,
  );
}
