import { z } from 'zod';
import { TEMPLATE_STATUSES, templateBodyText, templateParameters, type Template } from './templates';

/**
 * What the APIs show of a catalogue template: tenant-service's `GET /tenants/:id/templates` and
 * state-manager's `GET /templates` answer `{templates: TemplateView[]}` with this one mapping.
 */
export interface TemplateView {
  name: string;
  language: string;
  category: string;
  status: string;
  /** Meta's template id (digits), null when not known. */
  templateId: string | null;
  /** The BODY text as defined, placeholders (`{{1}}`) unfilled; '' when none. */
  body: string;
  /** Parameters each component takes (see templateParameters); `total` is what a send must give, in reading order. */
  parameters: { header: number; body: number; buttons: Array<{ index: number; type: string; count: number }>; total: number };
  /** ISO 8601: when its status, components or category last changed. */
  updatedAt: string;
}

/** A catalogue row (Template with `updatedAt`) as the APIs show it. */
export function templateView(t: Template & { updatedAt: Date | string }): TemplateView {
  const p = templateParameters(t);
  return {
    name: t.name,
    language: t.language,
    category: t.category,
    status: t.status,
    templateId: t.templateId,
    body: templateBodyText(t),
    parameters: { header: p.header, body: p.body, buttons: p.buttons, total: p.total },
    updatedAt: new Date(t.updatedAt).toISOString(),
  };
}

/** The query of both template listings: `?status=APPROVED` (one of TEMPLATE_STATUSES) keeps only those. */
export const templateListQuerySchema = z
  .object({ status: z.enum(TEMPLATE_STATUSES, { message: `must be one of ${TEMPLATE_STATUSES.join(', ')}` }).optional() })
  .strict();
