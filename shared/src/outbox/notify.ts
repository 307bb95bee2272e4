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
    /**
     * Milliseconds between two NOTIFYs at most; default 20. Each NOTIFY is a transaction of its own:
     * at 5 ms nearly every message of a steady 50–200 msg/s stream sent one (0.8 per message in
     * the bench); at 20 ms a burst's later messages wait at most 20 ms for theirs, and the workers
     * a leading NOTIFY woke usually claim them before it.
     */
    private readonly windowMs = 20,
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
