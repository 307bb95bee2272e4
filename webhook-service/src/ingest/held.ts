import { onTenantEvent, type Cache, type Logger } from '@bridge/shared';
import { claimantTenants } from '../routing-store';
import type { IngestDeps } from './deps';
import { REPLAY_BATCH, heldSignedBy, replayHeldBatch } from './meta';

/**
 * Replays into `tenantId` the held Meta changes (unclaimed_webhook_changes) for the numbers and
 * WABA its Meta credentials now name (or the number it was provisioned for, AUTO_PROVISION), oldest first, through the same store as a webhook's
 * (storeShare): messages and statuses are stored and their deliveries queued, account-level
 * changes recorded. Each batch is stored and removed from the holding table in one transaction
 * (under the tenant's replay lock, which a webhook's store also takes when it replays held changes
 * first: replicas replaying at once store each change once and in order; the stores skip
 * duplicates anyway). Only changes the platform secret signed, or the tenant's own app secret
 * (the same Meta app), are replayed; a suspended tenant gets nothing until it is active again.
 * Returns how many held changes were replayed.
 */
export async function replayHeldChanges(deps: IngestDeps, tenantId: string): Promise<number> {
  if (!(await deps.tenants.isActive(tenantId))) return 0;
  // Without Meta credentials (a tenant provisioned for its number): only what the platform's secret signed.
  const signedBy = await heldSignedBy(deps, tenantId);
  let replayed = 0;
  for (;;) {
    const batch = await deps.db.withTenant(tenantId, (q) => replayHeldBatch(q, tenantId, signedBy, REPLAY_BATCH));
    replayed += batch.rows;
    if (batch.newMessages + batch.newStatuses) deps.notifier.touch();
    if (batch.rows < REPLAY_BATCH) return replayed;
  }
}

/**
 * Replays held changes into the tenants that claim them: at once when a tenant's credentials
 * change (tenant event), and on a sweep every `sweepMs` (default 30,000 ms) and at start, which
 * also covers an event missed (cache down) or a change held by a replica that had not yet seen
 * the claim. One sweep at a time; failures are logged and the next sweep tries again.
 */
export class HeldChangesReplayer {
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => Promise<void>;
  private running?: Promise<void>;
  private again = false;

  constructor(private readonly deps: { ingest: IngestDeps; cache: Cache; logger: Logger; sweepMs?: number }) {}

  async start(): Promise<void> {
    this.unsubscribe = await onTenantEvent(this.deps.cache, (event) => {
      if (event.kind === 'credentials-changed' || event.kind === 'tenant-updated') void this.sweep();
    });
    this.timer = setInterval(() => void this.sweep(), this.deps.sweepMs ?? 30_000);
    this.timer.unref();
    void this.sweep();
  }

  /** Runs a sweep (or, when one is under way, one more after it); resolves when done. Never rejects. */
  sweep(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          const tenants = await claimantTenants(this.deps.ingest.db);
          for (const tenantId of tenants) {
            const replayed = await replayHeldChanges(this.deps.ingest, tenantId);
            if (replayed) this.deps.logger.info({ tenantId, replayed }, 'held Meta changes replayed into the tenant that claimed them');
          }
        } catch (err) {
          this.deps.logger.error({ err }, 'replaying held Meta changes failed; the next sweep tries again');
        }
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.unsubscribe?.();
    await this.running;
  }
}
