/**
 * WhatsApp users as Meta names them to a business (shared/reference/whatsapp-cloud-api.md,
 * "Usernames and business-scoped user ids"): by phone number (`wa_id`, a send's `to`) and by
 * business-scoped user id (BSUID: a country code, a period and up to 128 letters and digits;
 * parent BSUIDs `CC.ENT.…`; a send's `recipient`). A user who adopted a username may be known by
 * their BSUID only.
 *
 * The simulator learns which BSUID is which phone number's from the webhooks it delivers (a
 * contact, or a message, naming both), so that a user's 24-hour window and pair rate limit are
 * one whichever id a send names them by. Sends to BSUIDs are refused with 131062 when BSUID
 * recipients are switched off (`bsuidRecipients: false`), and always for authentication templates
 * (Meta: one-tap, zero-tap and copy-code authentication templates still need a phone number).
 */
import { isObject, webhookChanges } from '../common';

/** A phone number as a send's `to` takes it: digits only, 7 to 15. */
export const PHONE_PATTERN = /^\d{7,15}$/;
/** A BSUID or parent BSUID. */
export const BSUID_PATTERN = /^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$/;

/**
 * 131062's title as Meta's error-code table words it (quoted by dualhook.com/docs/contacts-bsuid-api-changes);
 * the details are the simulator's own.
 */
export const BSUID_UNSUPPORTED_TITLE = 'Business-scoped User ID recipients are not supported for this message';
export const BSUID_UNSUPPORTED_DETAILS = 'This message cannot be sent to a business-scoped user ID. Send it to the user’s phone number instead.';

/** Which phone number each BSUID is, as far as the webhooks delivered tell, and whether sends to BSUIDs are taken. */
export class MetaUsers {
  private readonly phoneOf = new Map<string, string>();
  /** Sends addressed by `recipient` (a BSUID) are accepted; false: refused with 131062. */
  bsuidRecipients: boolean;

  constructor(private readonly bsuidRecipientsByDefault: boolean) {
    this.bsuidRecipients = bsuidRecipientsByDefault;
  }

  /** `userId` is the user with phone number `phone`. */
  link(userId: string, phone: string): void {
    if (BSUID_PATTERN.test(userId) && PHONE_PATTERN.test(phone)) this.phoneOf.set(userId, phone);
  }

  /** One key per user: their phone number when known, else the id given. */
  canonical(id: string): string {
    return this.phoneOf.get(id) ?? id;
  }

  /**
   * Learns every BSUID ↔ phone number pair a `messages` webhook payload (an object, or its JSON
   * text or bytes) shows: contacts with `wa_id` and `user_id`, messages with `from` and
   * `from_user_id`. Anything else is ignored.
   */
  learn(payload: unknown): void {
    for (const { value: v } of webhookChanges(payload)) {
      for (const c of Array.isArray(v.contacts) ? v.contacts : []) {
        if (isObject(c) && typeof c.user_id === 'string' && typeof c.wa_id === 'string') this.link(c.user_id, c.wa_id);
      }
      for (const m of Array.isArray(v.messages) ? v.messages : []) {
        if (isObject(m) && typeof m.from_user_id === 'string' && typeof m.from === 'string') this.link(m.from_user_id, m.from);
      }
    }
  }

  /** Forgets every pair and restores the start option. */
  reset(): void {
    this.phoneOf.clear();
    this.bsuidRecipients = this.bsuidRecipientsByDefault;
  }
}
