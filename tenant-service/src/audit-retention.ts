import { purgeAuditEvents, type Database, type Logger } from '@bridge/shared';

export interface AuditRetentionOptions {
  /** Events older than this many days are removed; 0 keeps them forever (AUDIT_RETENTION_DAYS). */
  retentionDays: number;
  /** Events removed per transaction. */
  batchSize: number;
  /** How often a replica looks for expired events, ms. */
  intervalMs: number;
}

/** AUDIT_RETENTION_DAYS defaults to 365 days; a pass an hour, 1,000 events a transaction. */
export const DEFAULT_AUDIT_RETENTION: AuditRetentionOptions = { retentionDays: 365, batchSize: 1_000, intervalMs: 3_600_000 };

const DAY_MS = 86_400_000;

/**
 * The audit trail's retention: every `intervalMs`, removes events older than `retentionDays`,
 * `batchSize` at a time, each batch its own transaction (audit_purge, migration 1732060800110:
 * only whole prefixes of each tenant's chain, oldest first, the chain's anchor recorded so that
 * GET /tenants/:id/audit/verify still proves what is left). Replicas may run it at once: the
 * chain's lock serialises them, and removing what is gone removes nothing.
 */
export class AuditRetention {
  private readonly o: AuditRetentionOptions;
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private stopped = false;

  constructor(
    private readonly deps: { db: Database; logger: Logger },
    options: Partial<AuditRetentionOptions> = {},
  ) {
    this.o = { ...DEFAULT_AUDIT_RETENTION, ...options };
  }

  /** One pass: removes every event older than the retention at `now`; returns how many went. */
  async runOnce(now: Date = new Date()): Promise<number> {
    if (this.o.retentionDays <= 0) return 0;
    const cutoff = new Date(now.getTime() - this.o.retentionDays * DAY_MS);
    let total = 0;
    while (!this.stopped) {
      const n = await purgeAuditEvents(this.deps.db, cutoff, this.o.batchSize);
      total += n;
      if (n < this.o.batchSize) break;
    }
    if (total) this.deps.logger.info({ removed: total, cutoff: cutoff.toISOString() }, 'audit events past their retention removed');
    return total;
  }

  /** Runs a pass now and then every `intervalMs` (not at all when retentionDays is 0). */
  start(): void {
    if (this.o.retentionDays <= 0 || this.timer || this.stopped) return;
    const pass = () => {
      this.running = this.runOnce().catch((err: unknown) => {
        this.deps.logger.warn({ err: (err as Error).message }, 'audit retention pass failed; trying again at the next');
        return 0;
      });
    };
    pass();
    this.timer = setInterval(pass, this.o.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
