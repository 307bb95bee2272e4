import type { Database, Logger } from '@bridge/shared';

/** A key's latest use: when, and from which client address (req.ip: TRUST_PROXY_HOPS decides which). */
interface Use {
  at: Date;
  ip: string | null;
}

/**
 * Records when API keys were last used, and from which address, without a database write per
 * request: uses are noted in memory and written in one statement every interval (and on close).
 * Several gateways writing the same key keep the latest time, and that use's address. An address
 * a key had not been used from (among its last 20) is recorded as a security event by that write.
 */
export class LastUsedRecorder {
  private pending = new Map<string, Use>();
  private readonly timer: NodeJS.Timeout;
  /** The write in progress: writes run one at a time, so a later one carries what an earlier one put back. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(keyId: string, ip?: string): void {
    // An IPv4 client of a dual-stack socket is written as IPv4 (::ffff:192.0.2.1 → 192.0.2.1).
    this.pending.set(keyId, { at: new Date(), ip: ip?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '') ?? null });
  }

  /** Writes the pending uses; on failure keeps them for the next flush. Never rejects. */
  async flush(): Promise<void> {
    await this.write().catch((err: unknown) => this.logger.warn({ err }, 'could not record API key use; will retry'));
  }

  /**
   * Stops the timer and writes what is pending, after any write in progress (whose failure puts
   * its uses back). Call it before the database closes: it is the last chance to write them.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.write().catch((err: unknown) => this.logger.error({ err, keys: this.pending.size }, 'could not record API key use before closing'));
  }

  private write(): Promise<void> {
    const next = this.writing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        // Keys of every tenant at once: record_api_key_use (migrations 1732060800020, 1732060800100).
        const uses = [...batch.values()];
        // A key seen from an address it had not been used from is a security.key_new_ip event, written by the same statement (migration 1732060800150).
        const [row] = await this.db.unscoped<{ news: number }>('SELECT record_api_key_use($1::uuid[], $2::timestamptz[], $3::text[]) AS news', [
          [...batch.keys()],
          uses.map((u) => u.at),
          uses.map((u) => u.ip),
        ]);
        if (row?.news) this.logger.info({ keys: row.news }, 'API keys used from a new address (security.key_new_ip in their audit trails)');
      } catch (err) {
        // Put the uses back (keeping newer ones) so the next write retries them.
        for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
        throw err;
      }
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
