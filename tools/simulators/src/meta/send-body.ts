/**
 * What `POST /{phone-number-id}/messages` accepts: the send body's types and a validator that
 * returns every problem found (empty = valid), worded like Graph's `Param …` messages (the
 * choices where the reference is silent are listed in index.ts).
 */
import { isHttpUrl, isNonEmptyString, isObject } from '../common';
import { BSUID_PATTERN, PHONE_PATTERN } from './users';

export const META_MESSAGE_TYPES = [
  'text',
  'image',
  'video',
  'audio',
  'document',
  'sticker',
  'location',
  'contacts',
  'interactive',
  'template',
  'reaction',
] as const;
export type MetaMessageType = (typeof META_MESSAGE_TYPES)[number];

const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
const INTERACTIVE_TYPES = [
  'button',
  'list',
  'cta_url',
  'flow',
  'product',
  'product_list',
  'catalog_message',
  'location_request_message',
  'address_message',
];

export interface MetaMedia {
  link?: string;
  id?: string;
  caption?: string;
  filename?: string;
}

/** A send request body, as recorded. */
export interface MetaSendBody {
  messaging_product: 'whatsapp';
  recipient_type?: 'individual';
  /** A phone number. */
  to?: string;
  /** A business-scoped user id (BSUID or parent BSUID), when `to` is absent. */
  recipient?: string;
  type?: MetaMessageType;
  context?: { message_id: string };
  text?: { body: string; preview_url?: boolean };
  image?: MetaMedia;
  video?: MetaMedia;
  audio?: MetaMedia;
  document?: MetaMedia;
  sticker?: MetaMedia;
  location?: { latitude: number | string; longitude: number | string; name?: string; address?: string };
  contacts?: unknown[];
  interactive?: Record<string, unknown>;
  template?: { name: string; language: { code: string; policy?: string }; components?: unknown[] };
  reaction?: { message_id: string; emoji: string };
  biz_opaque_callback_data?: string;
  [more: string]: unknown;
}

function checkMedia(kind: (typeof MEDIA_TYPES)[number], media: unknown, errors: string[]): void {
  if (!isObject(media)) {
    errors.push(`Param ${kind} is required for type ${kind}`);
    return;
  }
  const hasLink = media.link !== undefined;
  const hasId = media.id !== undefined;
  if (hasLink === hasId) errors.push(`Param ${kind} must have exactly one of link or id`);
  if (hasLink && !isHttpUrl(media.link)) errors.push(`Param ${kind}['link'] must be an http(s) URL`);
  if (hasId && !isNonEmptyString(media.id)) errors.push(`Param ${kind}['id'] must be a non-empty string`);
  if (media.caption !== undefined) {
    if (kind === 'audio' || kind === 'sticker') errors.push(`Param ${kind}['caption'] is not allowed for ${kind}`);
    else if (typeof media.caption !== 'string') errors.push(`Param ${kind}['caption'] must be a string`);
    else if (media.caption.length > 1024) errors.push(`Param ${kind}['caption'] must be at most 1024 characters long`);
  }
  if (media.filename !== undefined) {
    if (kind !== 'document') errors.push(`Param ${kind}['filename'] is only allowed for documents`);
    else if (!isNonEmptyString(media.filename)) errors.push(`Param document['filename'] must be a non-empty string`);
  }
}

function isCoordinate(value: unknown, max: number): boolean {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && Math.abs(n) <= max;
}

/**
 * Limits of free-form interactive messages (Meta's "Interactive reply buttons messages",
 * "Interactive list messages" and "Interactive Call-to-Action URL Button Messages" pages; see the
 * README's reference notes): header text and footer 60, body 1024, 3 reply buttons with titles of
 * 20 and ids of 256, a list of at most 10 sections and 10 rows in all (row id 200, title 24,
 * description 72, section title 24, button label 20), a CTA URL button's display text 20.
 */
export const META_INTERACTIVE_LIMITS = {
  headerText: 60,
  body: 1024,
  footer: 60,
  buttons: 3,
  buttonTitle: 20,
  buttonId: 256,
  listButton: 20,
  sections: 10,
  rows: 10,
  rowId: 200,
  rowTitle: 24,
  rowDescription: 72,
  sectionTitle: 24,
  ctaDisplayText: 20,
} as const;

const L = META_INTERACTIVE_LIMITS;
const HEADER_TYPES: Record<string, string[]> = {
  button: ['text', 'image', 'video', 'document'],
  cta_url: ['text', 'image', 'video', 'document'],
  list: ['text'],
};

function checkText(value: unknown, path: string, max: number, errors: string[], required = true): void {
  if (value === undefined && !required) return;
  if (!isNonEmptyString(value)) errors.push(`Param ${path} is required`);
  else if (value.length > max) errors.push(`Param ${path} must be at most ${max} characters long`);
}

function checkInteractiveHeader(type: string, header: unknown, errors: string[]): void {
  if (header === undefined) return;
  const allowed = HEADER_TYPES[type] ?? [];
  if (!isObject(header) || !allowed.includes(header.type as string)) {
    errors.push(`Param interactive['header']['type'] must be one of ${allowed.join(', ') || '(no header allowed)'} for ${type}`);
    return;
  }
  if (header.type === 'text') {
    checkText(header.text, "interactive['header']['text']", L.headerText, errors);
    return;
  }
  const kind = header.type as string;
  const media = header[kind];
  if (!isObject(media) || (media.link === undefined) === (media.id === undefined)) {
    errors.push(`Param interactive['header']['${kind}'] must have exactly one of link or id`);
  } else if (media.link !== undefined && !isHttpUrl(media.link)) {
    errors.push(`Param interactive['header']['${kind}']['link'] must be an http(s) URL`);
  }
}

function checkButtons(action: Record<string, unknown>, errors: string[]): void {
  const buttons = action.buttons;
  if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > L.buttons) {
    errors.push(`Param interactive['action']['buttons'] must have 1 to ${L.buttons} buttons`);
    return;
  }
  const ids = new Set<string>();
  const titles = new Set<string>();
  buttons.forEach((b: unknown, i) => {
    const reply = isObject(b) ? b.reply : undefined;
    const path = `interactive['action']['buttons'][${i}]`;
    if (!isObject(b) || b.type !== 'reply' || !isObject(reply) || !isNonEmptyString(reply.id) || !isNonEmptyString(reply.title)) {
      errors.push(`Param ${path} must be {type:"reply", reply:{id, title}}`);
      return;
    }
    if (reply.title.length > L.buttonTitle) errors.push(`Param ${path}['reply']['title'] must be at most ${L.buttonTitle} characters long`);
    if (reply.id.length > L.buttonId) errors.push(`Param ${path}['reply']['id'] must be at most ${L.buttonId} characters long`);
    if (ids.has(reply.id)) errors.push(`Param ${path}['reply']['id'] must be unique`);
    if (titles.has(reply.title)) errors.push(`Param ${path}['reply']['title'] must be unique`);
    ids.add(reply.id);
    titles.add(reply.title);
  });
}

function checkList(action: Record<string, unknown>, errors: string[]): void {
  checkText(action.button, "interactive['action']['button']", L.listButton, errors);
  const sections = action.sections;
  if (!Array.isArray(sections) || sections.length < 1 || sections.length > L.sections) {
    errors.push(`Param interactive['action']['sections'] must have 1 to ${L.sections} sections`);
    return;
  }
  const ids = new Set<string>();
  let rowCount = 0;
  sections.forEach((s: unknown, i) => {
    const path = `interactive['action']['sections'][${i}]`;
    if (!isObject(s)) {
      errors.push(`Param ${path} must be an object`);
      return;
    }
    checkText(s.title, `${path}['title']`, L.sectionTitle, errors, sections.length > 1);
    const rows = s.rows;
    if (!Array.isArray(rows) || rows.length === 0) {
      errors.push(`Param ${path}['rows'] is required`);
      return;
    }
    rowCount += rows.length;
    rows.forEach((r: unknown, j) => {
      const rowPath = `${path}['rows'][${j}]`;
      if (!isObject(r) || !isNonEmptyString(r.id) || !isNonEmptyString(r.title)) {
        errors.push(`Param ${rowPath} needs id and title`);
        return;
      }
      if (r.id.length > L.rowId) errors.push(`Param ${rowPath}['id'] must be at most ${L.rowId} characters long`);
      if (r.title.length > L.rowTitle) errors.push(`Param ${rowPath}['title'] must be at most ${L.rowTitle} characters long`);
      if (r.description !== undefined) checkText(r.description, `${rowPath}['description']`, L.rowDescription, errors);
      if (ids.has(r.id)) errors.push(`Param ${rowPath}['id'] must be unique`);
      ids.add(r.id);
    });
  });
  if (rowCount > L.rows) errors.push(`Param interactive['action']['sections'] must have at most ${L.rows} rows in all`);
}

function checkCtaUrl(action: Record<string, unknown>, errors: string[]): void {
  if (action.name !== 'cta_url') errors.push(`Param interactive['action']['name'] must be 'cta_url'`);
  const parameters = action.parameters;
  if (!isObject(parameters)) {
    errors.push(`Param interactive['action']['parameters'] is required`);
    return;
  }
  checkText(parameters.display_text, "interactive['action']['parameters']['display_text']", L.ctaDisplayText, errors);
  if (!isHttpUrl(parameters.url)) errors.push(`Param interactive['action']['parameters']['url'] must be an http(s) URL`);
}

function checkInteractive(value: unknown, errors: string[]): void {
  if (!isObject(value)) {
    errors.push('Param interactive is required for type interactive');
    return;
  }
  if (!INTERACTIVE_TYPES.includes(value.type as string)) {
    errors.push(`Param interactive['type'] must be one of ${INTERACTIVE_TYPES.join(', ')}`);
    return;
  }
  const type = value.type as string;
  const action = value.action;
  if (!isObject(action)) errors.push("Param interactive['action'] is required");
  const needsBody = ['button', 'list', 'cta_url', 'flow', 'product_list', 'catalog_message', 'location_request_message'];
  if (needsBody.includes(type)) {
    const body = value.body;
    if (!isObject(body) || !isNonEmptyString(body.text)) errors.push("Param interactive['body']['text'] is required");
    else if (body.text.length > L.body) errors.push(`Param interactive['body']['text'] must be at most ${L.body} characters long`);
  }
  if (type in HEADER_TYPES) {
    checkInteractiveHeader(type, value.header, errors);
    if (value.footer !== undefined) {
      if (!isObject(value.footer)) errors.push("Param interactive['footer'] must be an object");
      else checkText(value.footer.text, "interactive['footer']['text']", L.footer, errors);
    }
  }
  if (!isObject(action)) return;
  if (type === 'button') checkButtons(action, errors);
  if (type === 'list') checkList(action, errors);
  if (type === 'cta_url') checkCtaUrl(action, errors);
}

export const TEMPLATE_SEND_COMPONENT_TYPES = ['header', 'body', 'button'] as const;
export const TEMPLATE_BUTTON_SUB_TYPES = ['quick_reply', 'url', 'copy_code', 'flow', 'catalog', 'mpm'] as const;
const TEMPLATE_MEDIA_PARAMETERS = ['image', 'video', 'document'];

/** A button component's `index`: 0-9, as a number or a digit string (Meta's examples use both). */
export function buttonIndex(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 9 ? n : undefined;
}

function checkTemplateParameter(p: unknown, path: string, errors: string[]): void {
  if (!isObject(p) || !isNonEmptyString(p.type)) {
    errors.push(`Param ${path}['type'] is required`);
    return;
  }
  if (p.type === 'text' && !isNonEmptyString(p.text)) errors.push(`Param ${path}['text'] must be a non-empty string`);
  if (p.type === 'payload' && !isNonEmptyString(p.payload)) errors.push(`Param ${path}['payload'] must be a non-empty string`);
  if (TEMPLATE_MEDIA_PARAMETERS.includes(p.type)) {
    const media = p[p.type];
    if (!isObject(media) || (media.link === undefined) === (media.id === undefined)) {
      errors.push(`Param ${path}['${p.type}'] must have exactly one of link or id`);
    }
  }
}

/**
 * The template object's shape (what it must be before it is compared with the template in the
 * catalogue, in templates.ts): name, language code, and lower-case components, each at most once
 * (buttons once per index).
 */
function checkTemplate(obj: unknown, errors: string[]): void {
  if (!isObject(obj)) {
    errors.push('Param template is required for type template');
    return;
  }
  if (!isNonEmptyString(obj.name)) errors.push("Param template['name'] is required");
  if (!isObject(obj.language) || !isNonEmptyString(obj.language.code)) {
    errors.push("Param template['language']['code'] is required");
  }
  if (obj.components === undefined) return;
  if (!Array.isArray(obj.components)) {
    errors.push("Param template['components'] must be an array");
    return;
  }
  const seen = new Set<string>();
  obj.components.forEach((c: unknown, i) => {
    const path = `template['components'][${i}]`;
    if (!isObject(c) || !TEMPLATE_SEND_COMPONENT_TYPES.includes(c.type as never)) {
      errors.push(`Param ${path}['type'] must be one of ${TEMPLATE_SEND_COMPONENT_TYPES.join(', ')}`);
      return;
    }
    let key = String(c.type);
    if (c.type === 'button') {
      if (!TEMPLATE_BUTTON_SUB_TYPES.includes(c.sub_type as never)) {
        errors.push(`Param ${path}['sub_type'] must be one of ${TEMPLATE_BUTTON_SUB_TYPES.join(', ')}`);
      }
      const index = buttonIndex(c.index);
      if (index === undefined) errors.push(`Param ${path}['index'] must be a button index from 0 to 9`);
      key = `button ${String(index)}`;
    }
    if (seen.has(key)) errors.push(`Param template['components'] has more than one ${key} component`);
    seen.add(key);
    if (c.parameters === undefined) return;
    if (!Array.isArray(c.parameters)) {
      errors.push(`Param ${path}['parameters'] must be an array`);
      return;
    }
    c.parameters.forEach((p: unknown, j) => checkTemplateParameter(p, `${path}['parameters'][${j}]`, errors));
  });
}

/**
 * The user a send is for: a phone number in `to`, or a business-scoped user id in `recipient`
 * (with both, `to` wins; users.ts). A BSUID in `to` is refused, as Meta does: it goes in `recipient`.
 */
function checkAddress(body: Record<string, unknown>, errors: string[]): void {
  if (body.to === undefined && body.recipient === undefined) {
    errors.push('The parameter to (a phone number) or recipient (a business-scoped user ID) is required.');
    return;
  }
  if (body.to !== undefined) {
    if (typeof body.to === 'string' && BSUID_PATTERN.test(body.to)) {
      errors.push('Param to must be a phone number; send to a business-scoped user ID with recipient');
    } else if (typeof body.to !== 'string' || !PHONE_PATTERN.test(body.to)) errors.push('Param to must be a phone number (digits only)');
  }
  if (body.recipient !== undefined && (typeof body.recipient !== 'string' || !BSUID_PATTERN.test(body.recipient))) {
    errors.push('Param recipient must be a business-scoped user ID (a country code, a period and up to 128 letters and digits)');
  }
}

/** The user a valid send is for: `to` when present (it wins), else `recipient`. */
export function sendAddress(body: MetaSendBody): { id: string; by: 'to' | 'recipient' } {
  return body.to !== undefined ? { id: body.to, by: 'to' } : { id: body.recipient!, by: 'recipient' };
}

export function validateSendBody(body: Record<string, unknown>): string[] {
  const errors: string[] = [];
  if (body.messaging_product === undefined) errors.push('The parameter messaging_product is required.');
  else if (body.messaging_product !== 'whatsapp') errors.push("Param messaging_product must be 'whatsapp'");
  if (body.recipient_type !== undefined && body.recipient_type !== 'individual') {
    errors.push("Param recipient_type must be 'individual'");
  }
  checkAddress(body, errors);
  const type = (body.type ?? 'text') as MetaMessageType;
  if (!META_MESSAGE_TYPES.includes(type)) {
    errors.push(`Param type must be one of ${META_MESSAGE_TYPES.join(', ')}`);
    return errors;
  }
  if (body.context !== undefined && !(isObject(body.context) && isNonEmptyString(body.context.message_id))) {
    errors.push("Param context['message_id'] is required");
  }
  const obj = body[type];
  switch (type) {
    case 'text':
      if (!isObject(obj) || typeof obj.body !== 'string') errors.push("Param text['body'] is required");
      else if (obj.body.trim().length === 0) errors.push("Param text['body'] must be non-empty");
      else if (obj.body.length > 4096) errors.push("Param text['body'] must be at most 4096 characters long");
      if (isObject(obj) && obj.preview_url !== undefined && typeof obj.preview_url !== 'boolean') {
        errors.push("Param text['preview_url'] must be a boolean");
      }
      break;
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker':
      checkMedia(type, obj, errors);
      break;
    case 'location':
      if (!isObject(obj)) errors.push('Param location is required for type location');
      else {
        if (!isCoordinate(obj.latitude, 90)) errors.push("Param location['latitude'] must be a number");
        if (!isCoordinate(obj.longitude, 180)) errors.push("Param location['longitude'] must be a number");
      }
      break;
    case 'contacts':
      if (!Array.isArray(obj) || obj.length === 0) errors.push('Param contacts must be a non-empty array');
      else {
        obj.forEach((c: unknown, i) => {
          const name = isObject(c) ? c.name : undefined;
          if (!isObject(name) || !isNonEmptyString(name.formatted_name)) {
            errors.push(`Param contacts[${i}]['name']['formatted_name'] is required`);
          }
        });
      }
      break;
    case 'interactive':
      checkInteractive(obj, errors);
      break;
    case 'template':
      checkTemplate(obj, errors);
      break;
    case 'reaction':
      if (!isObject(obj) || !isNonEmptyString(obj.message_id)) errors.push("Param reaction['message_id'] is required");
      else if (typeof obj.emoji !== 'string') errors.push("Param reaction['emoji'] is required (empty string removes)");
      break;
  }
  return errors;
}
