import type { Database } from '../db';

/** The NOTIFY channel on which committed delivery work wakes genesys-connector's workers. */
export const OUTBOX_CHANNEL = 'bridge_outbox';

/**
 * Wakes the delivery workers after new work is committed: call `touch()` after the commit of a
 * transaction that enqueued. One NOTIFY per window at most: a NOTIFY inside every webhook's
 * transaction would make all of them queue on PostgreSQL's notification lock at commit.
 * Throttled leading and trailing, so the first touch of a quiet spell wakes the workers at once.
 * A lost notification costs nothing but the workers' poll interval.
 */
export class OutboxNotifier {
  private last = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: Pick<Database, 'pool'>,
    /** Milliseconds between two NOTIFYs at most; default 5. */
    private readonly windowMs = 5,
  ) {}

  touch(): void {
    if (this.timer) return;
    const wait = this.last + this.windowMs - Date.now();
    if (wait <= 0) this.send();
    else this.timer = setTimeout(() => this.send(), wait);
  }

  private send(): void {
    this.timer = undefined;
    this.last = Date.now();
    this.db.pool.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, '']).catch(() => undefined);
  }

  /** Drops a pending trailing NOTIFY. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
