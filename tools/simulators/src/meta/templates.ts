/**
 * Message templates: the catalogue of each WABA, `GET /{version}/{waba-id}/message_templates`
 * (Graph's cursor paging), and the check a template send goes through against that catalogue
 * (facts and their sources: README, "Reference notes"):
 * - no template of that name in that language → 132001; one that is not APPROVED → 132015 when
 *   PAUSED, 132016 when DISABLED, 132001 otherwise (PENDING, REJECTED: "not approved");
 * - a component's parameter count other than its template's placeholders → 132000;
 * - a parameter of a type the template's slot does not take (an image for a text header, a
 *   payload for a URL button) → 132012;
 * - a body longer than 1024 characters once filled → 132005.
 *
 * Choices where Meta is silent: the listing's default `limit` is 25; a cursor names a template
 * (it stops working when that template is gone, as Graph's do); a quick-reply button's payload
 * may be left out; placeholders are counted per component, `{{1}}` and `{{name}}` alike.
 */
import { randomInt } from 'node:crypto';
import { bearerToken, isNonEmptyString, isObject, type SimRequest, type SimResponse } from '../common';
import { metaError, type MetaFaults } from './faults';
import type { MetaNumbers } from './numbers';
import { buttonIndex } from './send-body';

export const META_TEMPLATE_STATUSES = ['APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED'] as const;
export const META_TEMPLATE_CATEGORIES = ['UTILITY', 'MARKETING', 'AUTHENTICATION'] as const;
export type MetaTemplateStatus = (typeof META_TEMPLATE_STATUSES)[number];
export type MetaTemplateCategory = (typeof META_TEMPLATE_CATEGORIES)[number];

const HEADER_FORMATS = ['TEXT', 'IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION'] as const;
const BUTTON_TYPES = ['QUICK_REPLY', 'URL', 'PHONE_NUMBER', 'COPY_CODE', 'FLOW'] as const;
/** The fields the listing serves (its default when `fields` is absent). */
const LIST_FIELDS = ['id', 'name', 'language', 'status', 'category', 'parameter_format', 'components'] as const;
/** Meta's limit on a template body (characters), checked after the parameters are filled in. */
export const TEMPLATE_BODY_MAX = 1024;
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** A component of a template's definition, as the catalogue lists it (upper-case types). */
export interface MetaTemplateComponent {
  type: 'HEADER' | 'BODY' | 'FOOTER' | 'BUTTONS';
  /** Headers: default TEXT. */
  format?: (typeof HEADER_FORMATS)[number];
  text?: string;
  buttons?: Array<{ type: (typeof BUTTON_TYPES)[number]; text: string; url?: string; phone_number?: string }>;
  [more: string]: unknown;
}

/** A template as the catalogue holds it. `id` is a numeric string, like Meta's. */
export interface MetaTemplate {
  id: string;
  wabaId: string;
  name: string;
  /** Language and locale code, e.g. `en_US`. */
  language: string;
  status: MetaTemplateStatus;
  category: MetaTemplateCategory;
  components: MetaTemplateComponent[];
}

/** What `addTemplate` takes: `components`, or just `body` for a template that is one BODY. */
export interface MetaTemplateOptions {
  wabaId: string;
  name: string;
  language: string;
  /** Default APPROVED. */
  status?: MetaTemplateStatus;
  /** Default UTILITY. */
  category?: MetaTemplateCategory;
  components?: MetaTemplateComponent[];
  body?: string;
  /** Default: the id it already has, or a new one. */
  id?: string;
}

/** A template send that passed: which template, and its text with the parameters filled in. */
export interface MetaTemplateRender {
  templateId: string;
  name: string;
  language: string;
  category: MetaTemplateCategory;
  header?: string;
  body?: string;
  footer?: string;
}

/** One slot the sender must (or may) fill: a header, the body, or one button. */
interface Slot {
  key: string;
  count: number;
  /** Parameter types the slot takes. */
  types: string[];
  optional?: boolean;
  subType?: string;
}

const placeholders = (text: string | undefined): string[] => [...new Set([...(text ?? '').matchAll(PLACEHOLDER)].map((m) => m[1]))];

function slotsOf(t: MetaTemplate): Slot[] {
  const slots: Slot[] = [];
  for (const c of t.components) {
    if (c.type === 'HEADER') {
      const format = c.format ?? 'TEXT';
      if (format !== 'TEXT') slots.push({ key: 'header', count: 1, types: [format.toLowerCase()] });
      else if (placeholders(c.text).length > 0) slots.push({ key: 'header', count: placeholders(c.text).length, types: ['text'] });
    } else if (c.type === 'BODY' && placeholders(c.text).length > 0) {
      slots.push({ key: 'body', count: placeholders(c.text).length, types: ['text', 'currency', 'date_time'] });
    } else if (c.type === 'BUTTONS') {
      (c.buttons ?? []).forEach((b, i) => {
        const key = `button ${i}`;
        if (b.type === 'URL' && placeholders(b.url).length > 0) slots.push({ key, count: 1, types: ['text'], subType: 'url' });
        if (b.type === 'QUICK_REPLY') slots.push({ key, count: 1, types: ['payload'], subType: 'quick_reply', optional: true });
        if (b.type === 'COPY_CODE') slots.push({ key, count: 1, types: ['coupon_code'], subType: 'copy_code' });
      });
    }
  }
  return slots;
}

function validateComponents(components: unknown): MetaTemplateComponent[] {
  if (!Array.isArray(components) || components.length === 0) throw new TypeError('addTemplate: components must be a non-empty array');
  const seen = new Set<string>();
  for (const c of components as MetaTemplateComponent[]) {
    if (!isObject(c) || !['HEADER', 'BODY', 'FOOTER', 'BUTTONS'].includes(c.type)) {
      throw new TypeError('addTemplate: each component needs type HEADER, BODY, FOOTER or BUTTONS');
    }
    if (seen.has(c.type)) throw new TypeError(`addTemplate: more than one ${c.type} component`);
    seen.add(c.type);
    if (c.type === 'HEADER' && c.format !== undefined && !HEADER_FORMATS.includes(c.format)) {
      throw new TypeError(`addTemplate: HEADER format must be one of ${HEADER_FORMATS.join(', ')}`);
    }
    const needsText = c.type === 'BODY' || c.type === 'FOOTER' || (c.type === 'HEADER' && (c.format ?? 'TEXT') === 'TEXT');
    if (needsText && !isNonEmptyString(c.text)) throw new TypeError(`addTemplate: ${c.type} needs text`);
    if (c.type === 'BUTTONS' && !(Array.isArray(c.buttons) && c.buttons.every((b) => isObject(b) && BUTTON_TYPES.includes(b.type)))) {
      throw new TypeError(`addTemplate: BUTTONS needs buttons of type ${BUTTON_TYPES.join(', ')}`);
    }
  }
  if (!seen.has('BODY')) throw new TypeError('addTemplate: a template needs a BODY component');
  return structuredClone(components as MetaTemplateComponent[]);
}

const cursorOf = (t: MetaTemplate): string => Buffer.from(`template:${t.id}`).toString('base64url');
const idOfCursor = (cursor: string): string => Buffer.from(cursor, 'base64url').toString('utf8').replace(/^template:/, '');

/** The text a parameter puts into its placeholder. */
function parameterText(p: Record<string, unknown>): string {
  if (typeof p.text === 'string') return p.text;
  const inner = p[String(p.type)];
  return isObject(inner) && typeof inner.fallback_value === 'string' ? inner.fallback_value : '';
}

function fill(text: string, parameters: Array<Record<string, unknown>>): string {
  let position = 0;
  const filled = new Map<string, string>();
  return text.replace(PLACEHOLDER, (_m, name: string) => {
    if (!filled.has(name)) {
      const named = parameters.find((p) => p.parameter_name === name);
      const p = named ?? (/^\d+$/.test(name) ? parameters[Number(name) - 1] : parameters[position]);
      position += 1;
      filled.set(name, p ? parameterText(p) : '');
    }
    return filled.get(name) as string;
  });
}

/** The templates of every WABA of one simulator. */
export class MetaTemplates {
  /** By WABA, then `name\0language`, in the order they were added. */
  private readonly byWaba = new Map<string, Map<string, MetaTemplate>>();
  /** `http://host:port` of the simulator, for `paging.next`; set once it listens. */
  baseUrl = '';

  constructor(
    private readonly numbers: MetaNumbers,
    private readonly faults: MetaFaults,
  ) {}

  /** Adds a template or replaces the one of that name and language (keeping its id). Throws on a bad definition. */
  add(o: MetaTemplateOptions): MetaTemplate {
    if (!isNonEmptyString(o.wabaId)) throw new TypeError('addTemplate: wabaId is required');
    if (!isNonEmptyString(o.name) || !/^[a-z0-9_]{1,512}$/.test(o.name)) {
      throw new TypeError('addTemplate: name must be lower-case letters, digits and underscores');
    }
    if (!isNonEmptyString(o.language) || !/^[a-z]{2,3}(_[A-Z]{2})?$/.test(o.language)) {
      throw new TypeError('addTemplate: language must be a code like en or en_US');
    }
    const status = o.status ?? 'APPROVED';
    if (!META_TEMPLATE_STATUSES.includes(status)) throw new TypeError(`addTemplate: status must be one of ${META_TEMPLATE_STATUSES.join(', ')}`);
    const category = o.category ?? 'UTILITY';
    if (!META_TEMPLATE_CATEGORIES.includes(category)) {
      throw new TypeError(`addTemplate: category must be one of ${META_TEMPLATE_CATEGORIES.join(', ')}`);
    }
    if ((o.components === undefined) === (o.body === undefined)) throw new TypeError('addTemplate: give exactly one of components or body');
    const components = validateComponents(o.components ?? [{ type: 'BODY', text: o.body }]);
    if (o.id !== undefined && !/^\d+$/.test(o.id)) throw new TypeError('addTemplate: id must be a numeric string');
    const waba = this.byWaba.get(o.wabaId) ?? new Map<string, MetaTemplate>();
    this.byWaba.set(o.wabaId, waba);
    const key = `${o.name}\u0000${o.language}`;
    const id = o.id ?? waba.get(key)?.id ?? String(10 ** 14 + randomInt(2 ** 47));
    const template: MetaTemplate = { id, wabaId: o.wabaId, name: o.name, language: o.language, status, category, components };
    waba.set(key, template);
    return structuredClone(template);
  }

  /** The template of that name and language in that WABA, or undefined. */
  find(wabaId: string, name: string, language: string): MetaTemplate | undefined {
    return this.byWaba.get(wabaId)?.get(`${name}\u0000${language}`);
  }

  /** Moves a template to another status; throws when there is no such template. */
  setStatus(wabaId: string, name: string, language: string, status: MetaTemplateStatus): MetaTemplate {
    const t = this.find(wabaId, name, language);
    if (!t) throw new Error(`no template ${name} (${language}) in WABA ${wabaId}`);
    if (!META_TEMPLATE_STATUSES.includes(status)) throw new TypeError(`status must be one of ${META_TEMPLATE_STATUSES.join(', ')}`);
    t.status = status;
    return structuredClone(t);
  }

  /** Deletes a template (as deleting it in WhatsApp Manager does); false when there was none. */
  remove(wabaId: string, name: string, language: string): boolean {
    return this.byWaba.get(wabaId)?.delete(`${name}\u0000${language}`) ?? false;
  }

  /** Every template (of one WABA, or all), copies. */
  list(wabaId?: string): MetaTemplate[] {
    const wabas = wabaId === undefined ? [...this.byWaba.values()] : [this.byWaba.get(wabaId) ?? new Map()];
    return wabas.flatMap((w) => [...w.values()]).map((t) => structuredClone(t));
  }

  /** `GET /{version}/{waba-id}/message_templates?fields=&limit=&after=|before=`. */
  handleList(req: SimRequest, wabaId: string): SimResponse {
    if (req.method !== 'GET') return metaError(100, { message: `Unsupported ${req.method.toLowerCase()} request.`, subcode: 33 });
    const token = bearerToken(req.headers);
    if (!token) return metaError(190, { message: 'An access token is required to request this resource.' });
    if (!this.numbers.tokenIsKnown(token)) return metaError(190);
    if (!this.numbers.tokenManages(token, wabaId)) {
      return metaError(100, {
        message: `Unsupported get request. Object with ID '${wabaId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        subcode: 33,
      });
    }
    const fault = this.faults.take({ endpoint: 'templates' });
    if (fault) return fault;

    const limitParam = req.query.get('limit');
    const limit = limitParam === null ? 25 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 1) return metaError(100, { message: 'Param limit must be a positive integer' });
    const fieldsParam = req.query.get('fields');
    const fields = fieldsParam === null ? [...LIST_FIELDS] : fieldsParam.split(',').map((f) => f.trim()).filter(Boolean);
    const unknown = fields.find((f) => !(LIST_FIELDS as readonly string[]).includes(f));
    if (unknown) return metaError(100, { message: `Tried accessing nonexisting field (${unknown}) on node type (WhatsAppBusinessHSM)` });
    const after = req.query.get('after');
    const before = req.query.get('before');
    if (after !== null && before !== null) return metaError(100, { message: 'Pass either after or before, not both' });

    const all = [...(this.byWaba.get(wabaId)?.values() ?? [])];
    let start = 0;
    let end = Math.min(all.length, limit);
    const cursor = after ?? before;
    if (cursor !== null) {
      const at = all.findIndex((t) => t.id === idOfCursor(cursor));
      if (at < 0) return metaError(100, { message: 'Invalid cursor: it names no template (it may have been deleted)' });
      if (after !== null) [start, end] = [at + 1, Math.min(all.length, at + 1 + limit)];
      else [start, end] = [Math.max(0, at - limit), at];
    }
    const page = all.slice(start, end);
    const data = page.map((t) => {
      const row: Record<string, unknown> = {};
      for (const f of fields) row[f] = f === 'parameter_format' ? parameterFormat(t) : structuredClone(t[f as keyof MetaTemplate]);
      // Graph always returns a node's id, asked for or not.
      row.id = t.id;
      return row;
    });
    if (page.length === 0) return { status: 200, body: { data } };
    const link = (key: 'after' | 'before', value: string): string => {
      const url = new URL(`${this.baseUrl}${req.path}`);
      if (fieldsParam !== null) url.searchParams.set('fields', fieldsParam);
      url.searchParams.set('limit', String(limit));
      url.searchParams.set(key, value);
      return url.toString();
    };
    const paging: Record<string, unknown> = { cursors: { before: cursorOf(page[0]), after: cursorOf(page[page.length - 1]) } };
    if (start > 0) paging.previous = link('before', cursorOf(page[0]));
    if (end < all.length) paging.next = link('after', cursorOf(page[page.length - 1]));
    return { status: 200, body: { data, paging } };
  }

  /**
   * Checks a template send from a number of WABA `wabaId` against the catalogue (rules in the
   * module comment): Meta's error answer, or what was sent, filled in.
   */
  checkSend(wabaId: string, template: { name: string; language: { code: string }; components?: unknown[] }): { error: SimResponse } | { render: MetaTemplateRender } {
    const { name } = template;
    const language = template.language.code;
    const t = this.find(wabaId, name, language);
    if (!t) {
      const others = this.list(wabaId).filter((x) => x.name === name).map((x) => x.language);
      const details = `template name (${name}) does not exist in ${language}${others.length > 0 ? ` (it exists in ${others.join(', ')})` : ''}`;
      return { error: metaError(132001, { details }) };
    }
    if (t.status === 'PAUSED') return { error: metaError(132015, { details: `Template ${name} (${language}) is paused` }) };
    if (t.status === 'DISABLED') return { error: metaError(132016, { details: `Template ${name} (${language}) is disabled` }) };
    if (t.status !== 'APPROVED') {
      return { error: metaError(132001, { details: `template ${name} (${language}) is not approved (status ${t.status})` }) };
    }

    const given = new Map<string, { subType?: string; parameters: Array<Record<string, unknown>> }>();
    for (const c of (template.components ?? []) as Array<Record<string, unknown>>) {
      const key = c.type === 'button' ? `button ${String(buttonIndex(c.index))}` : String(c.type);
      given.set(key, { subType: c.sub_type as string | undefined, parameters: (c.parameters ?? []) as Array<Record<string, unknown>> });
    }
    const slots = slotsOf(t);
    for (const slot of slots) {
      const got = given.get(slot.key);
      const count = got?.parameters.length ?? 0;
      if (count === 0 && slot.optional) continue;
      if (count !== slot.count) {
        return { error: metaError(132000, { details: `${slot.key}: expected ${slot.count} parameter(s), received ${count}` }) };
      }
    }
    for (const [key, got] of given) {
      const slot = slots.find((s) => s.key === key);
      if (!slot) {
        if (got.parameters.length === 0) continue;
        return { error: metaError(132000, { details: `${key}: expected 0 parameter(s), received ${got.parameters.length}` }) };
      }
      if (slot.subType !== undefined && got.subType !== slot.subType) {
        return { error: metaError(132012, { details: `${key}: the template's button takes sub_type ${slot.subType}, not ${String(got.subType)}` }) };
      }
      const wrong = got.parameters.findIndex((p) => !slot.types.includes(String(p.type)));
      if (wrong >= 0) {
        const details = `${key} parameter ${wrong + 1}: expected ${slot.types.join(' or ')}, received ${String(got.parameters[wrong].type)}`;
        return { error: metaError(132012, { details }) };
      }
    }

    const textOf = (type: MetaTemplateComponent['type']): string | undefined => t.components.find((c) => c.type === type)?.text;
    const header = t.components.find((c) => c.type === 'HEADER');
    const render: MetaTemplateRender = { templateId: t.id, name, language, category: t.category };
    if (header && (header.format ?? 'TEXT') === 'TEXT') render.header = fill(header.text ?? '', given.get('header')?.parameters ?? []);
    render.body = fill(textOf('BODY') ?? '', given.get('body')?.parameters ?? []);
    if (textOf('FOOTER') !== undefined) render.footer = textOf('FOOTER');
    if (render.body.length > TEMPLATE_BODY_MAX) {
      return { error: metaError(132005, { details: `The body is ${render.body.length} characters once filled in; the limit is ${TEMPLATE_BODY_MAX}` }) };
    }
    return { render };
  }
}

function parameterFormat(t: MetaTemplate): 'POSITIONAL' | 'NAMED' {
  const names = t.components.flatMap((c) => [...placeholders(c.text), ...(c.buttons ?? []).flatMap((b) => placeholders(b.url))]);
  return names.some((n) => !/^\d+$/.test(n)) ? 'NAMED' : 'POSITIONAL';
}
