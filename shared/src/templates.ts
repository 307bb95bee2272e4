/**
 * WhatsApp message templates: what a tenant's catalogue holds, how a send is checked against it
 * before any call to Meta, the send body, and the text it shows. Pure: the SQL is in
 * `template-catalogue.ts`.
 *
 * Facts (shared/reference/whatsapp-cloud-api.md, "Templates"; Meta's WhatsApp Cloud API docs,
 * "Message templates" and "Send message templates"): a template is named by `name` and
 * `language` (e.g. `en_US`); only an APPROVED one can be sent (PAUSED → Meta error 132015,
 * DISABLED → 132016, other statuses or no such template → 132001); its HEADER (TEXT format),
 * BODY and URL buttons hold placeholders `{{1}}` (or `{{name}}`), and a send must fill each
 * component's placeholders exactly (else 132000); a filled body is at most 1,024 characters
 * (132005).
 *
 * Parameters are one flat list, in reading order: the text header's placeholders, then the
 * body's, then each URL button's (one each). Media headers and other button kinds are not
 * parameterised by this bridge: a template with a media header cannot be sent through it.
 */

export const TEMPLATE_STATUSES = ['APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED', 'IN_APPEAL', 'PENDING_DELETION', 'DELETED', 'LIMIT_EXCEEDED'] as const;
export const TEMPLATE_CATEGORIES = ['UTILITY', 'MARKETING', 'AUTHENTICATION'] as const;

/** A filled template body's limit, in characters (Meta error 132005 beyond). */
export const TEMPLATE_BODY_MAX = 1024;

/** Template names: lower-case letters, digits and underscores (Meta's rule), at most 512. */
export const TEMPLATE_NAME_PATTERN = /^[a-z0-9_]{1,512}$/;
/** Language (and locale) codes as Meta writes them: `en`, `en_US`, `pt_BR`, `zh_HK`. */
export const TEMPLATE_LANGUAGE_PATTERN = /^[a-z]{2,3}(_[A-Z]{2})?$/;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** A component as Meta's catalogue lists it (`GET /{waba_id}/message_templates`). */
export interface TemplateComponent {
  type: string;
  format?: string;
  text?: string;
  buttons?: Array<{ type: string; text?: string; url?: string; [more: string]: unknown }>;
  [more: string]: unknown;
}

/** A template of a tenant's catalogue. */
export interface Template {
  name: string;
  language: string;
  /** Meta's template id (digits), when known. */
  templateId: string | null;
  category: string;
  status: string;
  components: TemplateComponent[];
}

/** How many parameters a template takes, per component (what the tenant API shows). */
export interface TemplateParameters {
  header: number;
  body: number;
  /** One entry per button that takes a parameter (URL buttons with a placeholder): its index in BUTTONS. */
  buttons: Array<{ index: number; type: string; count: number }>;
  /** Whether the header is media (IMAGE, VIDEO, DOCUMENT, LOCATION): not sendable through the bridge. */
  mediaHeader: boolean;
  total: number;
}

const placeholders = (text: string | undefined): string[] => [...new Set([...(text ?? '').matchAll(PLACEHOLDER)].map((m) => m[1]))];

const component = (t: Pick<Template, 'components'>, type: string): TemplateComponent | undefined =>
  t.components.find((c) => typeof c?.type === 'string' && c.type.toUpperCase() === type);

/** The parameters each component of `t` takes. */
export function templateParameters(t: Pick<Template, 'components'>): TemplateParameters {
  const header = component(t, 'HEADER');
  const mediaHeader = !!header && (header.format ?? 'TEXT').toUpperCase() !== 'TEXT';
  const headerCount = header && !mediaHeader ? placeholders(header.text).length : 0;
  const body = placeholders(component(t, 'BODY')?.text).length;
  const buttons: TemplateParameters['buttons'] = [];
  (component(t, 'BUTTONS')?.buttons ?? []).forEach((b, index) => {
    if (String(b?.type).toUpperCase() === 'URL' && placeholders(b.url).length > 0) buttons.push({ index, type: 'url', count: 1 });
  });
  return { header: headerCount, body, buttons, mediaHeader, total: headerCount + body + buttons.length };
}

/** The body's text as defined (placeholders unfilled), '' when none. */
export function templateBodyText(t: Pick<Template, 'components'>): string {
  return component(t, 'BODY')?.text ?? '';
}

function fill(text: string, values: string[]): string {
  const names = placeholders(text);
  return text.replace(PLACEHOLDER, (_m, name: string) => values[names.indexOf(name)] ?? '');
}

/** Splits the flat parameter list into the header's, the body's and each URL button's. */
function split(t: Pick<Template, 'components'>, parameters: string[]) {
  const p = templateParameters(t);
  const header = parameters.slice(0, p.header);
  const body = parameters.slice(p.header, p.header + p.body);
  const buttons = p.buttons.map((b, i) => ({ index: b.index, value: parameters[p.header + p.body + i] ?? '' }));
  return { header, body, buttons };
}

/**
 * What the customer reads: header, body and footer with the parameters filled in, separated by
 * blank lines (the text the bridge shows in Genesys for a template it sent).
 */
export function renderTemplate(t: Pick<Template, 'components'>, parameters: string[]): string {
  const { header, body } = split(t, parameters);
  const h = component(t, 'HEADER');
  const parts = [
    h && (h.format ?? 'TEXT').toUpperCase() === 'TEXT' && h.text ? fill(h.text, header) : undefined,
    fill(templateBodyText(t), body),
    component(t, 'FOOTER')?.text,
  ];
  return parts.filter((s): s is string => !!s && s.trim().length > 0).join('\n\n');
}

/** The Cloud API send body of a template (`type: template`), to `to`. */
export function templateSendBody(to: string, t: Pick<Template, 'name' | 'language' | 'components'>, parameters: string[]) {
  const { header, body, buttons } = split(t, parameters);
  const text = (value: string) => ({ type: 'text' as const, text: value });
  const components: Array<Record<string, unknown>> = [];
  if (header.length > 0) components.push({ type: 'header', parameters: header.map(text) });
  if (body.length > 0) components.push({ type: 'body', parameters: body.map(text) });
  for (const b of buttons) components.push({ type: 'button', sub_type: 'url', index: String(b.index), parameters: [text(b.value)] });
  return {
    messaging_product: 'whatsapp' as const,
    recipient_type: 'individual' as const,
    to,
    type: 'template' as const,
    template: { name: t.name, language: { code: t.language }, ...(components.length > 0 ? { components } : {}) },
  };
}

export type TemplateSendBody = ReturnType<typeof templateSendBody>;

/** What a template send asks for: which template, and its parameters in reading order. */
export interface TemplateRequest {
  name: string;
  language: string;
  parameters: string[];
}

/** Why a template send is refused before Meta is called. */
export type TemplateProblem =
  | 'TEMPLATE_NOT_FOUND'
  | 'TEMPLATE_LANGUAGE_NOT_FOUND'
  | 'TEMPLATE_NOT_APPROVED'
  | 'TEMPLATE_PARAMETER_MISMATCH'
  | 'TEMPLATE_NOT_SENDABLE'
  | 'TEMPLATE_TOO_LONG';

export type TemplateCheck = { ok: true; template: Template } | { ok: false; problem: TemplateProblem; reason: string };

const describe = (t: Pick<Template, 'name' | 'language'>) => `${t.name} (${t.language})`;

/** At most this many names in a reason that lists what exists. */
const LISTED = 10;

/**
 * What a refusal tells about the catalogue: "Approved templates: name (language): n parameter(s);
 * …" (at most 10, then how many more), or that there is none.
 */
export function approvedTemplatesListing(templates: Template[]): string {
  const approved = templates.filter((t) => t.status === 'APPROVED');
  if (approved.length === 0) return 'This account has no approved templates.';
  const names = approved.slice(0, LISTED).map((t) => `${describe(t)}: ${templateParameters(t).total} parameter(s)`);
  const more = approved.length > LISTED ? `, and ${approved.length - LISTED} more` : '';
  return `Approved templates: ${names.join('; ')}${more}.`;
}

/**
 * Checks a template send against the tenant's catalogue (every template of the tenant), before
 * any call to Meta. A refusal's `reason` is written for the agent or API caller: what was wrong,
 * and what exists.
 */
export function checkTemplateRequest(catalogue: Template[], req: TemplateRequest): TemplateCheck {
  const named = catalogue.filter((t) => t.name === req.name);
  if (named.length === 0) {
    return { ok: false, problem: 'TEMPLATE_NOT_FOUND', reason: `No template named "${req.name}". ${approvedTemplatesListing(catalogue)}` };
  }
  const template = named.find((t) => t.language === req.language);
  if (!template) {
    const languages = named.map((t) => t.language).join(', ');
    return { ok: false, problem: 'TEMPLATE_LANGUAGE_NOT_FOUND', reason: `Template "${req.name}" has no ${req.language} version; it exists in: ${languages}.` };
  }
  if (template.status !== 'APPROVED') {
    return { ok: false, problem: 'TEMPLATE_NOT_APPROVED', reason: `Template ${describe(template)} is ${template.status}, not APPROVED, so WhatsApp will not send it.` };
  }
  const p = templateParameters(template);
  if (p.mediaHeader) {
    return { ok: false, problem: 'TEMPLATE_NOT_SENDABLE', reason: `Template ${describe(template)} has a media header, which the bridge cannot fill.` };
  }
  if (req.parameters.length !== p.total) {
    const where = [p.header ? `${p.header} in the header` : '', p.body ? `${p.body} in the body` : '', p.buttons.length ? `${p.buttons.length} in its buttons` : '']
      .filter(Boolean)
      .join(', ');
    return {
      ok: false,
      problem: 'TEMPLATE_PARAMETER_MISMATCH',
      reason: `Template ${describe(template)} takes ${p.total} parameter(s)${where ? ` (${where})` : ''}; ${req.parameters.length} given.`,
    };
  }
  const empty = req.parameters.findIndex((v) => v.trim() === '');
  if (empty >= 0) {
    return { ok: false, problem: 'TEMPLATE_PARAMETER_MISMATCH', reason: `Parameter ${empty + 1} of template ${describe(template)} is empty; WhatsApp needs text in each.` };
  }
  const body = fill(templateBodyText(template), split(template, req.parameters).body);
  if (body.length > TEMPLATE_BODY_MAX) {
    return { ok: false, problem: 'TEMPLATE_TOO_LONG', reason: `Template ${describe(template)}'s body would be ${body.length} characters once filled; WhatsApp allows ${TEMPLATE_BODY_MAX}.` };
  }
  return { ok: true, template };
}

/** The agent command's keyword: a message whose first line starts with it is a template send. */
export const TEMPLATE_COMMAND = '/template';

/**
 * An agent's template command, or undefined when `text` is not one. The form: a first line
 * `/template <name> <language>`, then one parameter per line (a parameter may not span lines;
 * trailing empty lines are ignored). A first line that starts with `/template` but is not of that
 * form gives `{ error }` with the form to use.
 *
 *     /template order_update en_US
 *     Ana
 *     #4411
 */
export function parseTemplateCommand(text: string): TemplateRequest | { error: string } | undefined {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const first = lines[0].trim();
  if (first !== TEMPLATE_COMMAND && !first.startsWith(`${TEMPLATE_COMMAND} `)) return undefined;
  const words = first.split(/\s+/).slice(1);
  const usage = `Write "${TEMPLATE_COMMAND} <name> <language>" on the first line, then one parameter per line, e.g. "${TEMPLATE_COMMAND} order_update en_US".`;
  if (words.length !== 2) return { error: `The template command needs a name and a language. ${usage}` };
  const [name, language] = words;
  if (!TEMPLATE_NAME_PATTERN.test(name)) return { error: `"${name}" is not a template name (lower-case letters, digits and _). ${usage}` };
  if (!TEMPLATE_LANGUAGE_PATTERN.test(language)) return { error: `"${language}" is not a language code like en or en_US. ${usage}` };
  const parameters = lines.slice(1).map((l) => l.trim());
  while (parameters.length > 0 && parameters[parameters.length - 1] === '') parameters.pop();
  return { name, language, parameters };
}

/**
 * One item of Meta's listing (`GET /{waba_id}/message_templates`: `{id, name, language, status,
 * category, components}`) as a catalogue template, or undefined when it lacks a name or language
 * this bridge can store (such an item is skipped, not fatal to the sync).
 */
export function templateFromMeta(item: unknown): Template | undefined {
  if (!item || typeof item !== 'object') return undefined;
  const t = item as Record<string, unknown>;
  if (typeof t.name !== 'string' || !TEMPLATE_NAME_PATTERN.test(t.name)) return undefined;
  if (typeof t.language !== 'string' || t.language.length < 2 || t.language.length > 16) return undefined;
  return {
    name: t.name,
    language: t.language,
    templateId: typeof t.id === 'string' && /^\d{1,30}$/.test(t.id) ? t.id : null,
    category: typeof t.category === 'string' ? t.category.toUpperCase() : 'UTILITY',
    status: typeof t.status === 'string' ? t.status.toUpperCase() : 'PENDING',
    components: Array.isArray(t.components) ? (t.components.filter((c) => c && typeof c === 'object') as TemplateComponent[]) : [],
  };
}
