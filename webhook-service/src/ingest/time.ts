/**
 * Senders' times, made safe to store. A provider's clock is input like any other: a time that is
 * not a number, or not a plausible one, becomes the time of receipt, so that it can never fail
 * the statement storing the webhook (and with it the good messages of the same delivery, on every
 * redelivery). Plausible: after 1970 and at most a day ahead of our clock. JavaScript reads times
 * PostgreSQL cannot store (1e300 seconds, year +275760), and a time years ahead would pin a
 * conversation's `last_message_at` and the order of its lane.
 */
const MAX_SKEW_MS = 24 * 60 * 60 * 1000;

/** `ms` (epoch milliseconds) if plausible, else `now`. */
export function plausibleMs(ms: number, now = Date.now()): number {
  return Number.isFinite(ms) && ms > 0 && ms <= now + MAX_SKEW_MS ? ms : now;
}

/** Meta's `timestamp` (Unix seconds, as a string) → Unix seconds, plausible. */
export const metaSeconds = (timestamp: unknown): number => plausibleMs(Number(timestamp) * 1000) / 1000;

/** Genesys's `channel.time` (ISO 8601) → ISO 8601 (UTC), plausible. */
export const genesysIsoTime = (time: unknown): string => new Date(plausibleMs(typeof time === 'string' ? Date.parse(time) : NaN)).toISOString();
