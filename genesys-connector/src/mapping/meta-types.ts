/**
 * WhatsApp Cloud API shapes as the bridge sees them (facts: shared/reference/whatsapp-cloud-api.md).
 *
 * Webhook types (MetaMessage, MetaStatus and their parts) are loose on purpose: Meta adds fields
 * and leaves others out, so anything may be missing and the mapping must cope. Send types
 * (MetaSendBody) are exact: they are what the bridge produces for `POST {graph}/{phone_number_id}/messages`.
 */
import type { TemplateSendBody } from '@bridge/shared';

// ---------------------------------------------------------------------------------------------
// Webhooks: `entry[].changes[].value.messages[]` and `.statuses[]`

/** `image`/`video`/`audio`/`document`/`sticker` of a message: a media id to fetch (valid 7 days), never the bytes. */
export interface MetaMediaObject {
  id?: string;
  mime_type?: string;
  sha256?: string;
  caption?: string;
  filename?: string;
  voice?: boolean;
  animated?: boolean;
  url?: string;
}

/** An `errors[]` item on a message or a failed status; `code` is looked up in META_ERRORS (meta-errors.ts). */
export interface MetaErrorObject {
  code?: number;
  title?: string;
  message?: string;
  error_data?: { details?: string };
  href?: string;
}

/** A `contacts[]` item of a `contacts` message: a contact card the user shared (not the sender). */
export interface MetaSharedContact {
  name?: { formatted_name?: string; first_name?: string; last_name?: string; [k: string]: unknown };
  phones?: Array<{ phone?: string; wa_id?: string; type?: string }>;
  emails?: Array<{ email?: string; type?: string }>;
  org?: { company?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** A `value.messages[]` item of a Meta webhook, loosely typed: anything may be missing. */
export interface MetaMessage {
  id: string;
  timestamp: string | number;
  type: string;
  from?: string;
  /** Business-scoped user id (newer payloads). */
  from_user_id?: string;
  context?: { from?: string; id?: string; forwarded?: boolean; frequently_forwarded?: boolean; [k: string]: unknown };
  text?: { body?: string };
  image?: MetaMediaObject;
  video?: MetaMediaObject;
  audio?: MetaMediaObject;
  document?: MetaMediaObject;
  sticker?: MetaMediaObject;
  location?: { latitude?: number | string; longitude?: number | string; name?: string; address?: string; url?: string };
  contacts?: MetaSharedContact[];
  interactive?: {
    type?: string;
    button_reply?: { id?: string; title?: string };
    list_reply?: { id?: string; title?: string; description?: string };
    nfm_reply?: { name?: string; body?: string; response_json?: string };
    [k: string]: unknown;
  };
  button?: { payload?: string; text?: string };
  reaction?: { message_id?: string; emoji?: string };
  order?: {
    catalog_id?: string;
    text?: string;
    product_items?: Array<{ product_retailer_id?: string; quantity?: number | string; item_price?: number | string; currency?: string }>;
  };
  referral?: {
    source_url?: string;
    source_id?: string;
    source_type?: string;
    headline?: string;
    body?: string;
    ctwa_clid?: string;
    [k: string]: unknown;
  };
  /** `user_changed_number`: the new number in `wa_id` (`new_wa_id` in webhooks up to v11). */
  system?: { body?: string; type?: string; wa_id?: string; new_wa_id?: string; [k: string]: unknown };
  unsupported?: { type?: string };
  errors?: MetaErrorObject[];
  [k: string]: unknown;
}

/** A `value.statuses[]` item of a Meta webhook. */
export interface MetaStatus {
  id: string;
  status: string;
  timestamp: string | number;
  recipient_id?: string;
  /** Business-scoped user id (newer payloads). */
  recipient_user_id?: string;
  recipient_type?: string;
  errors?: MetaErrorObject[];
  [k: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Sends

/** A media send by link; `caption` for image, video and document (≤ 1024), `filename` for documents. */
export type MetaMediaRef = { link: string; caption?: string; filename?: string };

interface MetaSendBase {
  messaging_product: 'whatsapp';
  recipient_type: 'individual';
  to: string;
}

/** Body of `POST {graph}/{phone_number_id}/messages`, as outbound.ts produces them (templates: shared `templateSendBody`). */
export type MetaSendBody =
  | TemplateSendBody
  | (MetaSendBase & { type: 'text'; text: { body: string; preview_url: boolean } })
  | (MetaSendBase & { type: 'image'; image: MetaMediaRef })
  | (MetaSendBase & { type: 'video'; video: MetaMediaRef })
  | (MetaSendBase & { type: 'audio'; audio: MetaMediaRef })
  | (MetaSendBase & { type: 'document'; document: MetaMediaRef });
