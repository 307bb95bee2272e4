import { platformKey, tenantKey, type Cache } from './cache';
import { currentContext } from './context';
import type { Database } from './db';
import type { Logger } from './logger';
import { maskSecrets } from './audit';

/**
 * Security events in the audit trail (issue #13): occurrences of a kind (a bad webhook signature,
 * a revoked or expired key used, a subdomain/key mismatch, a request for another tenant's object)
 * are **counted** per tenant, action and subject (a channel, an API key) over a window
 * (SECURITY_EVENT_WINDOW_SECONDS, default a minute) and written as **one** audit event per window
 * with the count, so that a hostile flood costs a counter increment per request, never an audit
 * row or a database write per request.
 *
 * Across replicas: each occurrence increments a Redis counter for the window
 * (`t:{tenantId}:secev:<action>:<subject>:<window>`, hash-tagged to the tenant's slot; the
 * platform's chain: `p:secev:...`); the replica whose increment created it (the first incrementer)
 * owns the window, and once the window is over (plus a grace for the others' late increments) it
 * reads the count and writes the event, with the details of that first occurrence (request id,
 * client address, target). Without Redis (a command fails) an occurrence is counted in this
 * process, which then writes its own event for what it counted: several replicas may then write
 * one row each for the same window, each with its share (`degraded: true`); nothing is lost.
 * A replica that stops writes its windows at once (close) with the count so far and removes the
 * counter, so later increments of that window make a new owner. A replica that dies loses its
 * windows' events (the counters expire).
 *
 * Events are written with audit_append_security (migration 1732060800150): from no tenant's
 * transaction, only security.* actions, each to its tenant's chain (null: the platform's).
 */

/** The security events of the audit trail. */
export type SecurityAction =
  /** A webhook (Meta or Genesys) whose signature did not verify; subject: the channel. */
  | 'security.bad_signature'
  /** A revoked API key, or a token of one, used at the gateway; subject: the key id. */
  | 'security.revoked_key_used'
  /** An expired API key, or a token of one, used at the gateway; subject: the key id. */
  | 'security.expired_key_used'
  /** An API key or token of one tenant used on another tenant's subdomain; subject: the key id. */
  | 'security.tenant_mismatch'
  /** A request for an object (a message id) that belongs to another tenant; answered 404. Subject: the key id. */
  | 'security.foreign_object'
  /** A key used from an address it had not been used from (written by the last-use flush, record_api_key_use). */
  | 'security.key_new_ip';

/** One occurrence, as a service sees it. Never put a secret in it (details are masked all the same). */
export interface SecurityOccurrence {
  /** Whose chain records it; null: the platform's (e.g. a bad signature naming no tenant). */
  tenantId: string | null;
  action: Exclude<SecurityAction, 'security.key_new_ip'>;
  /** What occurrences of one tenant and action are counted together: a channel ('meta', 'genesys'), an API key id. */
  subject: string;
  /** Who: 'key:<id>' for a key's use, else the request context's actor, else 'unauthenticated'. */
  actor?: string;
  /** What was acted on, e.g. 'api_key:<id>', 'message:<id>', 'webhook:meta'. */
  target?: string;
  /**
   * What the first occurrence of the window looked like (non-secret). Under `internal`: what only
   * the platform's admins see (GET /audit), never the tenant (GET /state/audit), e.g. the owner
   * of an object another tenant asked for.
   */
  details?: Record<string, unknown>;
  /** Default: the request context's. */
  requestId?: string;
  clientIp?: string;
}

/** What records occurrences: the recorder, or a test's stand-in. */
export interface SecurityEvents {
  record(occurrence: SecurityOccurrence): void;
  /** Writes what is counted; called by the service's close, before the database closes. */
  close?(): Promise<void>;
}

export interface SecurityEventRecorderOptions {
  db: Database;
  cache: Cache;
  logger: Logger;
  /** The counting window, in seconds (SECURITY_EVENT_WINDOW_SECONDS); default 60. */
  windowSeconds?: number;
  /** How often due windows are written, in ms; default 1,000. */
  tickMs?: number;
  /** How long after a window's end its owner waits for other replicas' late increments, in ms; default 2,000. */
  graceMs?: number;
  /** Windows counted at once in this process at most (kinds × tenants × subjects); beyond, occurrences are dropped and logged. Default 10,000. */
  maxWindows?: number;
  /** Prepended to the Redis keys (tests sharing one Redis). */
  keyPrefix?: string;
  now?: () => number;
}

interface Window {
  occurrence: SecurityOccurrence & { actor: string };
  start: number;
  redisKey: string;
  /** This process made the Redis counter (its first increment): it writes the window's event with the shared count. */
  owner: boolean;
  /** Occurrences counted here because Redis failed: this process writes them itself. */
  local: number;
}

interface Row {
  tenantId: string | null;
  actor: string;
  action: string;
  target: string | null;
  after: unknown;
  requestId: string | null;
  clientIp: string | null;
}

/** Rows kept for retrying when the database refused a write, at most. */
const MAX_RETRY_ROWS = 1_000;

/**
 * Counts security occurrences per window and writes one audit event per window (see the top of
 * this file). `record` never waits and never throws; `close` writes whatever is counted.
 */
export class SecurityEventRecorder implements SecurityEvents {
  private readonly windows = new Map<string, Window>();
  private readonly inflight = new Set<Promise<void>>();
  private retry: Row[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly windowMs: number;
  private readonly now: () => number;
  private writing: Promise<void> = Promise.resolve();
  private dropped = 0;
  /** Occurrences recorded since start (counted or dropped). */
  recorded = 0;

  constructor(private readonly options: SecurityEventRecorderOptions) {
    this.windowMs = (options.windowSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => void this.flush(), options.tickMs ?? 1_000);
    this.timer.unref();
  }

  record(occurrence: SecurityOccurrence): void {
    this.recorded++;
    const ctx = currentContext();
    const start = Math.floor(this.now() / this.windowMs) * this.windowMs;
    const id = `${occurrence.action}|${occurrence.tenantId ?? ''}|${occurrence.subject}|${start}`;
    let w = this.windows.get(id);
    if (!w) {
      if (this.windows.size >= (this.options.maxWindows ?? 10_000)) {
        if (this.dropped++ % 1000 === 0) this.options.logger.warn({ action: occurrence.action, dropped: this.dropped }, 'too many security event windows at once; occurrence not counted');
        return;
      }
      const parts = ['secev', occurrence.action, occurrence.subject, String(start / 1000)];
      const key = occurrence.tenantId === null ? platformKey(...parts) : tenantKey(occurrence.tenantId, ...parts);
      w = {
        occurrence: {
          ...occurrence,
          actor: occurrence.actor ?? ctx?.actor ?? 'unauthenticated',
          requestId: occurrence.requestId ?? ctx?.requestId,
          clientIp: occurrence.clientIp ?? ctx?.clientIp,
        },
        start,
        redisKey: `${this.options.keyPrefix ?? ''}${key}`,
        owner: false,
        local: 0,
      };
      this.windows.set(id, w);
    }
    const counted = w;
    const ttl = this.windowMs / 1000 + 600;
    const p = this.options.cache.incr(counted.redisKey, ttl).then(
      (n) => {
        if (n === 1) counted.owner = true;
      },
      () => {
        counted.local++;
      },
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Writes the windows that are over (all of them with `everything`), and retries earlier failed writes. Never rejects. */
  flush(everything = false): Promise<void> {
    const next = this.writing.then(() => this.write(everything)).catch((err: unknown) => this.options.logger.error({ err }, 'security events not written; retrying'));
    this.writing = next;
    return next;
  }

  /** Stops the timer and writes every window counted so far (before the database closes). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush(true);
  }

  private async write(everything: boolean): Promise<void> {
    await Promise.all([...this.inflight]);
    const due = this.now() - (this.options.graceMs ?? 2_000);
    const rows: Row[] = this.retry;
    this.retry = [];
    const claimed: Window[] = [];
    for (const [id, w] of this.windows) {
      if (!everything && w.start + this.windowMs > due) continue;
      this.windows.delete(id);
      if (!w.owner && w.local === 0) continue;
      let shared = 0;
      let degraded = w.local > 0;
      if (w.owner) {
        const value = await this.options.cache.get(w.redisKey).catch(() => null);
        if (value === null) degraded = true;
        shared = value === null ? 1 : Number(value);
        claimed.push(w);
      }
      rows.push(this.row(w, shared + w.local, degraded));
    }
    if (!rows.length) return;
    try {
      await this.options.db.unscoped('SELECT audit_append_security($1::jsonb)', [JSON.stringify(rows)]);
    } catch (err) {
      this.retry = rows.slice(-MAX_RETRY_ROWS);
      throw err;
    }
    // Written: a later increment of the same window (a late replica) makes a new owner and its own event.
    if (claimed.length) await this.options.cache.del(...claimed.map((w) => w.redisKey)).catch(() => undefined);
  }

  private row(w: Window, count: number, degraded: boolean): Row {
    const o = w.occurrence;
    const { internal, ...first } = o.details ?? {};
    return {
      tenantId: o.tenantId,
      actor: o.actor,
      action: o.action,
      target: o.target ?? null,
      after: maskSecrets({
        count,
        window: { start: new Date(w.start).toISOString(), seconds: this.windowMs / 1000 },
        ...(degraded ? { degraded: true } : {}),
        first,
        ...(internal !== undefined ? { internal } : {}),
      }),
      requestId: o.requestId ?? null,
      clientIp: o.clientIp ?? null,
    };
  }
}
