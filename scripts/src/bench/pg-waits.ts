/**
 * Samples the bench database's sessions every `everyMs`: how often each was running on CPU,
 * waiting for the client (idle / idle in transaction: the service's turn), or waiting inside
 * PostgreSQL on a lock or I/O. Shares of all samples.
 */
export class PgWaitSampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly client: import('pg').Client, private readonly everyMs = 100) {}

  start(): void {
    this.counts.clear();
    this.samples = 0;
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ what: string; n: number }>(
        `SELECT CASE WHEN state = 'active' AND wait_event IS NULL THEN 'active (on CPU)'
                     WHEN state = 'active' THEN 'waiting: ' || wait_event_type || '/' || wait_event
                     ELSE coalesce(state, 'unknown') || coalesce(' (' || wait_event || ')', '') END AS what,
                count(*)::int AS n
           FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          GROUP BY 1`,
      );
      this.samples++;
      for (const r of rows) this.counts.set(r.what, (this.counts.get(r.what) ?? 0) + r.n);
    } catch {
      // a sample lost is not worth failing the bench
    } finally {
      this.busy = false;
    }
  }

  /** Average number of sessions in each state, biggest first. */
  stop(): Array<{ state: string; sessions: number }> {
    clearInterval(this.timer);
    const n = this.samples || 1;
    return [...this.counts.entries()]
      .map(([state, c]) => ({ state, sessions: Math.round((c / n) * 100) / 100 }))
      .sort((a, b) => b.sessions - a.sessions);
  }
}
