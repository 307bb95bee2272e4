/**
 * WhatsApp's 24-hour customer service window: a business number may send free-form messages to
 * a user only within 24 hours of that user's last message to that number (its `timestamp`);
 * after that only templates, and a free-form send fails with 131047.
 *
 * The simulator learns when a user wrote from the customer messages it delivers as webhooks
 * (their `timestamp`, not the delivery time: a test can deliver a message "from yesterday"), or
 * from a test setting it directly. The rule is enforced only when switched on: many tests reply
 * to users who never wrote through the simulator.
 */
import { isObject, webhookChanges } from '../common';

/** 24 hours, in ms. */
export const CUSTOMER_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Meta's details for 131047, as its failed statuses carry them. */
export const WINDOW_CLOSED_DETAILS =
  'Message failed to send because more than 24 hours have passed since the customer last replied to this number.';

const keyOf = (phoneNumberId: string, waId: string): string => `${phoneNumberId}\u0000${waId}`;

/** When each user last wrote to each business number, and whether the window is enforced. */
export class CustomerWindows {
  private readonly lastAt = new Map<string, number>();
  /** Enforce the window on free-form sends. */
  enforce: boolean;

  constructor(private readonly enforceByDefault: boolean) {
    this.enforce = enforceByDefault;
  }

  /** `waId` wrote to `phoneNumberId` at `atMs` (epoch ms); an older message does not move the time back. */
  customerWrote(phoneNumberId: string, waId: string, atMs: number): void {
    const key = keyOf(phoneNumberId, waId);
    if (atMs > (this.lastAt.get(key) ?? -Infinity)) this.lastAt.set(key, atMs);
  }

  /** Sets (or with null forgets) when `waId` last wrote to `phoneNumberId`, earlier or later than known. */
  set(phoneNumberId: string, waId: string, atMs: number | null): void {
    if (atMs === null) this.lastAt.delete(keyOf(phoneNumberId, waId));
    else if (!Number.isFinite(atMs)) throw new RangeError('setCustomerLastMessage: at must be a valid time');
    else this.lastAt.set(keyOf(phoneNumberId, waId), atMs);
  }

  lastMessageAt(phoneNumberId: string, waId: string): Date | undefined {
    const at = this.lastAt.get(keyOf(phoneNumberId, waId));
    return at === undefined ? undefined : new Date(at);
  }

  /** True while less than 24 h have passed since the user's last message (never when they have not written). */
  isOpen(phoneNumberId: string, waId: string, now = Date.now()): boolean {
    const at = this.lastAt.get(keyOf(phoneNumberId, waId));
    return at !== undefined && now - at < CUSTOMER_WINDOW_MS;
  }

  /**
   * Records every customer message in a `messages` webhook payload (an object, or its JSON text
   * or bytes): `from` (and `from_user_id`) wrote to `metadata.phone_number_id` at `timestamp` (unix seconds). Anything
   * else in the payload is ignored, as is a payload that is not JSON.
   */
  recordPayload(payload: unknown): void {
    for (const { field, value } of webhookChanges(payload)) {
      const { metadata, messages } = value;
      if (field !== 'messages' || !isObject(metadata) || typeof metadata.phone_number_id !== 'string' || !Array.isArray(messages)) continue;
      for (const m of messages) {
        const seconds = isObject(m) ? Number(m.timestamp) : NaN;
        if (!isObject(m) || !Number.isFinite(seconds)) continue;
        // A user may be named by phone number, by business-scoped user id, or both.
        for (const id of [m.from, m.from_user_id]) if (typeof id === 'string') this.customerWrote(metadata.phone_number_id, id, seconds * 1000);
      }
    }
  }

  /** Forgets every time and sets enforcement back to the simulator's option. */
  reset(): void {
    this.lastAt.clear();
    this.enforce = this.enforceByDefault;
  }
}
