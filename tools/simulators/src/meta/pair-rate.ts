/**
 * Meta's pair rate limit: how fast one business number may write to one WhatsApp user. Meta's
 * "Throughput" page (developers.facebook.com/docs/whatsapp/throughput, "Pair rate limits", as
 * quoted in 2026 by dualhook.com/docs/capacity-quality-limits and developers.whats91.com/rate-limits;
 * `shared/reference/whatsapp-cloud-api.md`: "~1 per 6 s, bursts borrow"): 1 message every 6 s to
 * the same user (about 10 a minute, 600 an hour); bursts of up to 45 messages in 6 s are allowed,
 * but they borrow from the future, so after a burst the pair waits as long as those messages would
 * have taken at the steady rate. A send over the limit fails with 131056.
 *
 * Modelled as a generic cell rate algorithm (a leaky bucket): each pair has the time its next
 * send is due at the steady rate; a send is accepted while that time is at most `burst - 1`
 * intervals ahead of now, and pushes it one interval further. So `burst` sends at once pass, the
 * next one is refused, and from then on one send per interval passes. A refused send counts
 * nothing. Sends refused for another reason (bad body, closed window) never reach the limit.
 *
 * Off unless switched on (`pairRateLimit` option or `setPairRateLimit`), since many tests send
 * several messages to one user at once.
 */

/** A pair limit: one send per `intervalMs` to one user, bursts of up to `burst` sends. */
export interface PairRateLimit {
  intervalMs: number;
  burst: number;
}

/** Meta's published figures: 1 message per 6 s, bursts of up to 45. */
export const META_PAIR_RATE_LIMIT: PairRateLimit = { intervalMs: 6_000, burst: 45 };

/** Meta's title and details of 131056 (the send API's `error.message` and `error_data.details`). */
export const PAIR_RATE_LIMIT_DETAILS = 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.';

/** What a test passes: any field left out is Meta's. */
export type PairRateLimitOptions = Partial<PairRateLimit>;

function resolve(options: PairRateLimitOptions | null | undefined): PairRateLimit | null {
  if (!options) return null;
  const limit = { ...META_PAIR_RATE_LIMIT, ...options };
  if (!(Number.isInteger(limit.intervalMs) && limit.intervalMs > 0)) throw new RangeError('pair rate limit: intervalMs must be a positive integer');
  if (!(Number.isInteger(limit.burst) && limit.burst >= 1)) throw new RangeError('pair rate limit: burst must be an integer of at least 1');
  return limit;
}

const keyOf = (phoneNumberId: string, recipient: string): string => `${phoneNumberId}\u0000${recipient}`;

/** Each (business number, user) pair's next due time, and the limit in force (null: off). */
export class PairRates {
  private readonly due = new Map<string, number>();
  private readonly initial: PairRateLimit | null;
  private current: PairRateLimit | null;

  constructor(options?: PairRateLimitOptions | null) {
    this.initial = resolve(options);
    this.current = this.initial;
  }

  /** The limit in force; null when off. */
  get limit(): PairRateLimit | null {
    return this.current;
  }

  /** Switches the limit on (Meta's figures for what is left out) or off (null), forgetting every pair. */
  set(options: PairRateLimitOptions | null): void {
    this.current = resolve(options);
    this.due.clear();
  }

  /**
   * A send from `phoneNumberId` to the user `recipient` (one key per user whether a send names
   * them in `to` or, by BSUID, in `recipient`: MetaUsers.canonical) at `now` (epoch ms): true, and counted, when the
   * pair is within its limit (always while off); false, counting nothing, when it is not.
   */
  take(phoneNumberId: string, recipient: string, now = Date.now()): boolean {
    const limit = this.current;
    if (!limit) return true;
    const key = keyOf(phoneNumberId, recipient);
    const next = Math.max(this.due.get(key) ?? now, now);
    if (next - now > (limit.burst - 1) * limit.intervalMs) return false;
    this.due.set(key, next + limit.intervalMs);
    if (this.due.size > 10_000) for (const [k, at] of this.due) if (at <= now) this.due.delete(k);
    return true;
  }

  /** Forgets every pair and restores the start option. */
  reset(): void {
    this.due.clear();
    this.current = this.initial;
  }
}
