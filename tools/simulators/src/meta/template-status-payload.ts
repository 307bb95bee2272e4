/**
 * The `message_template_status_update` webhook Meta POSTs when a template's status changes
 * (Meta's webhook reference; README, "Reference notes"). It is an account-level change: routed by
 * `entry[].id`, the WABA id, with no `metadata.phone_number_id` at all.
 */
export interface MetaTemplateStatusPayload {
  object: 'whatsapp_business_account';
  entry: Array<{
    /** WABA id. */
    id: string;
    /** Unix seconds. */
    time: number;
    changes: Array<{ field: 'message_template_status_update'; value: MetaTemplateStatusValue }>;
  }>;
}

export interface MetaTemplateStatusValue {
  /** APPROVED, REJECTED, PAUSED, DISABLED, ARCHIVED, ... */
  event: string;
  /** A number in Meta's payloads, not a string. */
  message_template_id: number;
  message_template_name: string;
  message_template_language: string;
  reason: string;
  message_template_category?: string;
  [more: string]: unknown;
}

export interface TemplateStatusOptions {
  wabaId: string;
  /** Numeric string or number. */
  templateId: string | number;
  name: string;
  language: string;
  event: string;
  /** Default "NONE". */
  reason?: string;
  category?: string;
  /** Default now. */
  time?: Date;
  /** Extra value fields, e.g. `disable_info` or `other_info`. */
  extra?: Record<string, unknown>;
}

export function buildTemplateStatusUpdate(o: TemplateStatusOptions): MetaTemplateStatusPayload {
  const value: MetaTemplateStatusValue = {
    event: o.event,
    message_template_id: Number(o.templateId),
    message_template_name: o.name,
    message_template_language: o.language,
    reason: o.reason ?? 'NONE',
    ...(o.category !== undefined ? { message_template_category: o.category } : {}),
    ...o.extra,
  };
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: o.wabaId,
        time: Math.floor((o.time ?? new Date()).getTime() / 1000),
        changes: [{ field: 'message_template_status_update', value }],
      },
    ],
  };
}
