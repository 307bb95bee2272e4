import { buildTemplateStatusUpdate } from '@bridge/simulators';
import { templateStatusUpdate } from '../src/ingest/template-status';
import type { AccountEvent } from '../src/routing-store';

/** What a `message_template_status_update` change asks of the catalogue (applied in test/templates.test.ts). */
function event(o: { event: string; templateId?: number | string; name?: string; language?: string; field?: string }): AccountEvent {
  const payload = buildTemplateStatusUpdate({ wabaId: '102290129340398', templateId: o.templateId ?? 1234567890123, name: o.name ?? 'order_update', language: o.language ?? 'en_US', event: o.event });
  const [entry] = payload.entry;
  return { field: o.field ?? 'message_template_status_update', wabaId: entry.id, payload: { entry: { id: entry.id, time: entry.time }, change: entry.changes[0] } };
}

describe('templateStatusUpdate', () => {
  it("reads Meta's numeric template id as digits, with the name, language and the event as the new status", () => {
    expect(templateStatusUpdate(event({ event: 'PAUSED' }))).toEqual({ templateId: '1234567890123', name: 'order_update', language: 'en_US', status: 'PAUSED' });
    for (const status of ['APPROVED', 'REJECTED', 'DISABLED', 'PENDING_DELETION']) expect(templateStatusUpdate(event({ event: status }))?.status).toBe(status);
  });

  it('does not trust an id beyond 2^53 (JSON may have changed its digits): name and language find the template instead', () => {
    expect(templateStatusUpdate(event({ event: 'PAUSED', templateId: 2 ** 53 + 2 }))).toEqual({ templateId: null, name: 'order_update', language: 'en_US', status: 'PAUSED' });
  });

  it('asks nothing of an event that is not a status (FLAGGED leaves a template APPROVED), of other fields, or of a change naming no template', () => {
    for (const e of ['FLAGGED', 'ARCHIVED', 'UNARCHIVED', 'LOCKED']) expect(templateStatusUpdate(event({ event: e }))).toBeUndefined();
    expect(templateStatusUpdate(event({ event: 'PAUSED', field: 'account_update' }))).toBeUndefined();
    expect(templateStatusUpdate(event({ event: 'PAUSED', templateId: 0, name: 'Not A Name' }))).toBeUndefined();
    expect(templateStatusUpdate({ field: 'message_template_status_update', wabaId: null, payload: { change: {} } })).toBeUndefined();
  });
});
