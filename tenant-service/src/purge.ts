import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, Logger } from '@bridge/shared';
import * as repo from './repository';

export interface PurgeOptions {
  /** Rows deleted per statement, each batch its own short transaction. */
  batchSize: number;
  /** Pause between two batches, ms: the purge leaves the database to the traffic in between. */
  pauseMs: number;
  /** How long a replica holds a deletion without renewing its lease (every batch renews it), ms. */
  leaseMs: number;
  /** How often a replica looks for deletions nobody is working on (released, or a dead replica's), ms. */
  pollMs: number;
}

/** TENANT_PURGE_BATCH_SIZE and TENANT_PURGE_PAUSE_MS default to these. */
export const DEFAULT_PURGE: PurgeOptions = { batchSize: 1_000, pauseMs: 20, leaseMs: 30_000, pollMs: 10_000 };

/** Another replica holds the deletion now: this one must stop and write nothing more. */
class LeaseLost extends Error {}

/**
 * Removes deleted tenants' rows in the background, in batches, so that deleting a tenant of any
 * size never holds a lock or a connection for long. A deletion (a `tenant_deletions` row written
 * by DELETE /tenants/:id) is leased by one replica at a time; each batch deletes up to
 * `batchSize` rows of one table under the tenant's row-level-security scope and records the
 * progress in the same transaction, renewing the lease only while it still holds it, so a
 * replica that lost its lease writes nothing. The deliveries queue goes first (its deliveries
 * stop), the tenant row last. A replica that stops releases its lease; one that dies leaves it to
 * run out, and any replica carries on from what is left (deleting what is gone is a no-op).
 */
export class TenantPurger {
  private readonly worker = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly o: PurgeOptions;
  private stopped = false;
  private loop?: Promise<void>;
  /** Set by wake(): look again as soon as the pass under way ends. */
  private woken = false;
  /** Ends the nap between two passes early. */
  private nudge?: () => void;
  private tables?: repo.OwnedTable[];

  constructor(
    private readonly deps: { db: Database; logger: Logger },
    options: Partial<PurgeOptions> = {},
  ) {
    this.o = { ...DEFAULT_PURGE, ...options };
  }

  /** Starts purging whatever deletions are waiting, then keeps looking every `pollMs`. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Looks for work now (a tenant was just deleted), or right after the pass under way. */
  wake(): void {
    this.woken = true;
    this.nudge?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      await this.drain().catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'looking for tenant deletions failed; trying again later'));
      if (!this.woken && !this.stopped) await this.nap(this.o.pollMs);
    }
  }

  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.nudge?.(), ms);
      timer.unref();
      this.nudge = () => {
        clearTimeout(timer);
        this.nudge = undefined;
        resolve();
      };
    });
  }

  /** Purges waiting deletions one after another until none is left to claim. */
  private async drain(): Promise<void> {
    while (!this.stopped) {
      const tenantId = await repo.claimDeletion(this.deps.db, this.worker, this.o.leaseMs);
      if (!tenantId) return;
      await this.purge(tenantId);
    }
  }

  private async purge(tenantId: string): Promise<void> {
    const { db } = this.deps;
    const log = this.deps.logger.child({ tenantId });
    try {
      for (const table of await this.ownedTables()) {
        for (let cursor: string[] | undefined; ; ) {
          if (this.stopped) {
            await db.withTenant(tenantId, (q) => repo.releaseDeletion(q, tenantId, this.worker));
            log.info('tenant purge paused for shutdown; any replica resumes it');
            return;
          }
          const batch = await db.withTenant(tenantId, async (q) => {
            const result = await repo.purgeBatch(q, tenantId, table, this.o.batchSize, cursor, { worker: this.worker, leaseMs: this.o.leaseMs });
            if (!result) throw new LeaseLost();
            return result;
          });
          if (batch.done) break;
          cursor = batch.cursor;
          await sleep(this.o.pauseMs);
        }
      }
      if (!(await db.withTenant(tenantId, (q) => repo.finishDeletion(q, tenantId, this.worker)))) throw new LeaseLost();
      log.info('tenant deleted: every row removed');
    } catch (err) {
      if (err instanceof LeaseLost) {
        log.warn('tenant purge lease lost (this replica stalled past it): another replica carries on');
        return;
      }
      log.error({ err }, 'tenant purge failed; it is retried');
      await db
        .withTenant(tenantId, (q) => repo.releaseDeletion(q, tenantId, this.worker, { error: (err as Error).message, retryInMs: this.o.pollMs }))
        .catch(() => undefined); // the lease runs out instead
    }
  }

  /** Every tenant-owned table, the deliveries queue first (so the tenant's deliveries stop first). */
  private async ownedTables(): Promise<repo.OwnedTable[]> {
    this.tables ??= (await repo.tenantOwnedTables(this.deps.db)).sort((a, b) => Number(b.name === 'outbox') - Number(a.name === 'outbox'));
    return this.tables;
  }

  /** Stops after the batch under way and gives the lease back. */
  async close(): Promise<void> {
    this.stopped = true;
    this.nudge?.();
    await this.loop;
  }
}
