/**
 * WhatsApp's customer-service window: a business may send free-form messages to a customer only
 * within 24 hours of the customer's last message (that message's `timestamp`); each new customer
 * message reopens it for 24 hours, and after it closes only approved templates may be sent (a
 * free-form send fails with Meta error 131047). Source: Meta's WhatsApp Cloud API documentation,
 * "Customer service windows" (summarised in `shared/reference/whatsapp-cloud-api.md`, "24-hour
 * customer service window"). The tenant API shows it, and the agent-reply policy must use this same rule.
 */
export const CUSTOMER_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface CustomerWindow {
  /** True while `now` is before windowExpiresAt; false when it has passed or the customer never wrote. */
  windowOpen: boolean;
  /** ISO 8601 (UTC, millisecond precision): the customer's last message time + 24 h; null when the customer never wrote. */
  windowExpiresAt: string | null;
}

/**
 * The window of a customer whose newest message was at `lastInboundAt` (null: never wrote), as of
 * `now`. The window is open strictly before its expiry (at the expiry instant it is closed).
 */
export function customerWindow(lastInboundAt: Date | null, now: Date = new Date()): CustomerWindow {
  if (!lastInboundAt) return { windowOpen: false, windowExpiresAt: null };
  const expiresAt = lastInboundAt.getTime() + CUSTOMER_WINDOW_MS;
  return { windowOpen: now.getTime() < expiresAt, windowExpiresAt: new Date(expiresAt).toISOString() };
}
