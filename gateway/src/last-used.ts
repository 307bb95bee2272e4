import type { Database, Logger } from '@bridge/shared';

/**
 * Records when API keys were last used without a database write per request: uses are noted in
 * memory and written in one statement every interval (and on close). Several gateways writing
 * the same key keep the latest time.
 */
export class LastUsedRecorder {
  private pending = new Map<string, Date>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(keyId: string): void {
    this.pending.set(keyId, new Date());
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.db.withPlatform((q) =>
        q.query(
          `UPDATE tenant_api_keys k SET last_used_at = GREATEST(k.last_used_at, v.used_at)
             FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, used_at) WHERE k.id = v.id`,
          [[...batch.keys()], [...batch.values()]],
        ),
      );
    } catch (err) {
      // Put the uses back (keeping newer ones) so the next flush retries them.
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      this.logger.warn({ err }, 'could not record API key use; will retry');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
