import { TEMPLATE_LANGUAGE_PATTERN, TEMPLATE_NAME_PATTERN, TEMPLATE_STATUSES, setTemplateStatus, type Queryable } from '@bridge/shared';
import type { AccountEvent } from '../routing-store';

/**
 * Meta's `message_template_status_update` changes, applied to the tenant's template catalogue
 * (message_templates) in the transaction that records them (account_events), and only when that
 * transaction recorded them for the first time: a redelivered webhook changes nothing twice, so a
 * late copy of an old PAUSED cannot undo a later sync.
 *
 * Facts (shared/reference/whatsapp-cloud-api.md, "Templates"; Meta's webhook reference,
 * message_template_status_update): `value.event` is the new status (APPROVED, REJECTED, PAUSED,
 * DISABLED, ...), `value.message_template_id` Meta's template id as a JSON number,
 * `message_template_name` and `message_template_language` name it.
 *
 * Choices: only an event that is a catalogue status (TEMPLATE_STATUSES) moves the template; the
 * others (FLAGGED, which leaves a template APPROVED; ARCHIVED, UNARCHIVED, LOCKED, ...) are only
 * recorded, and the next sync shows what they did. A template id that is not a safe integer (so
 * the number may have lost digits in JSON) is not trusted: the template is found by name and
 * language instead. A template the catalogue does not hold yet is left to the next sync.
 */

export const TEMPLATE_STATUS_FIELD = 'message_template_status_update';

/** What a template status change asks of the catalogue, or undefined when it asks nothing (not such a change, or not a status). */
export function templateStatusUpdate(event: AccountEvent): { templateId: string | null; name: string | null; language: string | null; status: string } | undefined {
  if (event.field !== TEMPLATE_STATUS_FIELD) return undefined;
  const value = (event.payload as { change?: { value?: Record<string, unknown> } } | undefined)?.change?.value;
  if (!value || typeof value !== 'object') return undefined;
  const status = typeof value.event === 'string' ? value.event.toUpperCase() : undefined;
  if (!status || !(TEMPLATE_STATUSES as readonly string[]).includes(status)) return undefined;
  const id = value.message_template_id;
  const templateId =
    typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? String(id) : typeof id === 'string' && /^\d{1,30}$/.test(id) ? id : null;
  const name = typeof value.message_template_name === 'string' && TEMPLATE_NAME_PATTERN.test(value.message_template_name) ? value.message_template_name : null;
  const language =
    typeof value.message_template_language === 'string' && TEMPLATE_LANGUAGE_PATTERN.test(value.message_template_language) ? value.message_template_language : null;
  if (!templateId && !(name && language)) return undefined;
  return { templateId, name, language, status };
}

/** Applies the template status changes among `events` (new ones, in order), in the caller's transaction. Returns how many templates changed. */
export async function applyTemplateStatuses(q: Queryable, tenantId: string, events: readonly AccountEvent[]): Promise<number> {
  let changed = 0;
  for (const event of events) {
    const update = templateStatusUpdate(event);
    if (update) changed += await setTemplateStatus(q, tenantId, update);
  }
  return changed;
}
