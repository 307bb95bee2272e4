import { OUTBOX_CHANNEL, type Database } from '@bridge/shared';

/**
 * Wakes the delivery workers after new work is committed. One NOTIFY per window at most: a
 * NOTIFY inside every webhook's transaction would make all of them queue on PostgreSQL's
 * notification lock at commit. Throttled leading and trailing, so the first webhook of a quiet
 * spell wakes the workers at once. A lost notification costs nothing but the workers' poll
 * interval.
 */
export class OutboxNotifier {
  private last = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
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

  close(): void {
    clearTimeout(this.timer);
  }
}
