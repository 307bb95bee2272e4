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

import { excerpt } from './ids';

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

/**
 * A text's placeholders, each once, in the order a send fills them: positional ones (`{{1}}`,
 * `{{2}}`) by their number — Meta fills `{{n}}` with the component's n-th parameter wherever it
 * stands in the text —, named ones (`{{first_name}}`) in reading order. A text that is not a
 * string (a component stored before the listing was checked) has none.
 */
function placeholders(text: unknown): string[] {
  if (typeof text !== 'string') return [];
  const names = [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))];
  return names.every((n) => /^\d+$/.test(n)) ? names.sort((a, b) => Number(a) - Number(b)) : names;
}

/** Whether a placeholder is named (`{{first_name}}`): a send then names its parameter (`parameter_name`). */
const isNamed = (placeholder: string): boolean => !/^\d+$/.test(placeholder);

const component = (t: Pick<Template, 'components'>, type: string): TemplateComponent | undefined =>
  t.components.find((c) => typeof c?.type === 'string' && c.type.toUpperCase() === type);

/** The parameters each component of `t` takes. */
export function templateParameters(t: Pick<Template, 'components'>): TemplateParameters {
  const header = component(t, 'HEADER');
  const mediaHeader = !!header && (header.format ?? 'TEXT').toUpperCase() !== 'TEXT';
  const headerCount = header && !mediaHeader ? placeholders(header.text).length : 0;
  const body = placeholders(component(t, 'BODY')?.text).length;
  const buttons: TemplateParameters['buttons'] = [];
  const listed = component(t, 'BUTTONS')?.buttons;
  (Array.isArray(listed) ? listed : []).forEach((b, index) => {
    if (String(b?.type).toUpperCase() === 'URL' && placeholders(b.url).length > 0) buttons.push({ index, type: 'url', count: 1 });
  });
  return { header: headerCount, body, buttons, mediaHeader, total: headerCount + body + buttons.length };
}

/** The body's text as defined (placeholders unfilled), '' when none. */
export function templateBodyText(t: Pick<Template, 'components'>): string {
  const text = component(t, 'BODY')?.text;
  return typeof text === 'string' ? text : '';
}

function fill(text: string, values: string[]): string {
  const names = placeholders(text);
  return text.replace(PLACEHOLDER, (_m, name: string) => values[names.indexOf(name)] ?? '');
}

/** The text header's text, '' when the header is media or absent. */
function headerText(t: Pick<Template, 'components'>): string {
  const h = component(t, 'HEADER');
  return h && (h.format ?? 'TEXT').toUpperCase() === 'TEXT' && typeof h.text === 'string' ? h.text : '';
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
  const footer = component(t, 'FOOTER')?.text;
  const parts = [fill(headerText(t), header), fill(templateBodyText(t), body), typeof footer === 'string' ? footer : undefined];
  return parts.filter((s): s is string => !!s && s.trim().length > 0).join('\n\n');
}

/**
 * The Cloud API send body of a template (`type: template`), to `to`. A parameter of a named
 * placeholder carries its name (`parameter_name`), which Meta requires of templates with named
 * parameters (Meta's template send reference; e.g. whatsapp-api-js `TemplateNamedParameter`:
 * "parameter_name: … optional if using number variables").
 */
export function templateSendBody(to: string, t: Pick<Template, 'name' | 'language' | 'components'>, parameters: string[]) {
  const { header, body, buttons } = split(t, parameters);
  const text = (value: string) => ({ type: 'text' as const, text: value });
  const named = (names: string[]) => (value: string, i: number) =>
    names[i] !== undefined && isNamed(names[i]) ? { type: 'text' as const, parameter_name: names[i], text: value } : text(value);
  const components: Array<Record<string, unknown>> = [];
  if (header.length > 0) components.push({ type: 'header', parameters: header.map(named(placeholders(headerText(t)))) });
  if (body.length > 0) components.push({ type: 'body', parameters: body.map(named(placeholders(templateBodyText(t)))) });
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

/**
 * Why WhatsApp would refuse `value` as a text parameter of a template, or undefined. Meta refuses a
 * parameter holding a line break or a tab, or more than four consecutive spaces ("Param text
 * cannot have new-line/tab characters or more than 4 consecutive spaces", as reported in
 * github.com/netflie/whatsapp-cloud-api/issues/201; README, "Reference notes").
 */
export function templateParameterProblem(value: string): string | undefined {
  return /[\r\n\t\v\f\u2028\u2029]| {5,}/.test(value)
    ? 'WhatsApp refuses a template parameter holding a line break, a tab or more than four spaces in a row'
    : undefined;
}

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
    const more = named.length > LISTED ? `, and ${named.length - LISTED} more` : '';
    const languages = named.slice(0, LISTED).map((t) => t.language).join(', ');
    return { ok: false, problem: 'TEMPLATE_LANGUAGE_NOT_FOUND', reason: `Template "${req.name}" has no ${req.language} version; it exists in: ${languages}${more}.` };
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
/** A first line that is a command: the keyword (any case) alone or followed by white space. */
const COMMAND_LINE = /^\/template(\s|$)/i;
/** Zero-width and direction marks, and the BOM. */
const INVISIBLE = /[\u200b-\u200f\u2060\ufeff]/g;

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
  // Invisible marks a rich-text editor may put first (zero-width space, BOM, direction marks) are not the agent's.
  const first = lines[0].replace(INVISIBLE, '').trim();
  // The keyword in any case, then any white space (a tab, a no-break space): such a line is meant as
  // a command, and must never reach the customer as text.
  if (!COMMAND_LINE.test(first)) return undefined;
  const words = first.split(/\s+/).slice(1);
  const usage = `Write "${TEMPLATE_COMMAND} <name> <language>" on the first line, then one parameter per line, e.g. "${TEMPLATE_COMMAND} order_update en_US".`;
  if (words.length !== 2) return { error: `The template command needs a name and a language. ${usage}` };
  const [name, language] = words;
  // What the agent typed is quoted short, so that the reason (cut at 1,000 characters in a receipt) keeps the form to use.
  if (!TEMPLATE_NAME_PATTERN.test(name)) return { error: `"${excerpt(name, 64)}" is not a template name (lower-case letters, digits and _). ${usage}` };
  if (!TEMPLATE_LANGUAGE_PATTERN.test(language)) return { error: `"${excerpt(language, 64)}" is not a language code like en or en_US. ${usage}` };
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
  if (typeof t.language !== 'string' || !TEMPLATE_LANGUAGE_PATTERN.test(t.language)) return undefined;
  return {
    name: t.name,
    language: t.language,
    templateId: typeof t.id === 'string' && /^\d{1,30}$/.test(t.id) ? t.id : null,
    category: metaWord(t.category) ?? 'UTILITY',
    status: metaWord(t.status) ?? 'PENDING',
    components: Array.isArray(t.components) ? t.components.flatMap(componentFromMeta) : [],
  };
}

/** A status or category as Meta writes them (`APPROVED`, `PENDING_DELETION`), upper-cased; undefined when it is not one. */
function metaWord(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z_]{1,40}$/.test(value) ? value.toUpperCase() : undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * A component of Meta's listing as the rules read it: one with a string `type`; its `format`,
 * `text` and `buttons` (objects with a string `type`; their `text` and `url` strings) kept only
 * when of that shape, anything else it has kept as it is. [] for anything else.
 */
function componentFromMeta(c: unknown): TemplateComponent[] {
  if (!isRecord(c) || typeof c.type !== 'string') return [];
  const { format, text, buttons, ...rest } = c;
  const kept: TemplateComponent = { ...rest, type: c.type };
  if (typeof format === 'string') kept.format = format;
  if (typeof text === 'string') kept.text = text;
  if (Array.isArray(buttons)) {
    kept.buttons = buttons.filter(isRecord).flatMap((b) => {
      if (typeof b.type !== 'string') return [];
      const { text: label, url, ...more } = b;
      return [{ ...more, type: b.type, ...(typeof label === 'string' ? { text: label } : {}), ...(typeof url === 'string' ? { url } : {}) }];
    });
  }
  return [kept];
}
