/**
 * Structured content of a Genesys bot message → WhatsApp interactive sends. Pure.
 *
 * Genesys bot flows (not agents, not the agentless API) send `type: "Structured"` messages whose
 * `content[]` holds `QuickReply` items, `Card`s, a `Carousel` of cards and, rarely, a
 * `QuickReplyV2`, a `ListTemplate` (list picker) or a `DatePicker` (shapes: README, "Reference
 * notes: structured messages"). WhatsApp has reply buttons (≤ 3), lists (≤ 10 rows) and one
 * call-to-action URL button per message, with short titles (WHATSAPP_INTERACTIVE). Each quick
 * reply group, card, list picker or date picker is one block, rendered as the richest form
 * WhatsApp allows for it without losing anything:
 *
 * - its choices → reply buttons when there are at most 3, each title ≤ 20 characters, titles
 *   distinct and no choice has a description; else a list when there are at most 10, titles
 *   ≤ 24 and descriptions ≤ 72; else a numbered text the customer can answer by typing the
 *   number. No choice is ever dropped or shortened: every title appears whole in what is sent.
 * - a card's image or video → the header of its buttons or link message (lists take only a text
 *   header, so there it goes as a media send just before); its title → a text header when it
 *   fits (≤ 60) and there is no media, else the first line of the body.
 * - a link (a card's `Link` action) → a call-to-action URL button when it is the card's only
 *   action and there is no choice; next to choices (WhatsApp cannot mix them in one message),
 *   each link is a `text: url` line of the body, which WhatsApp shows as a link.
 * - a body over 1024 characters keeps its last piece as the body; the rest goes first as text.
 * - a carousel → one message per card, in order.
 *
 * Choices are identified on WhatsApp by their Genesys payload when it fits (≤ 200 characters) and
 * is unique in the message, else `option-<n>`; OfferedChoice lists them all, with the send that
 * offers each and, for numbered texts, the number to type. The caller keeps that list so that a
 * customer's answer (a reply id, or a typed number) can be mapped back (inbound.ts, `choices`).
 *
 * Not mapped: a quick reply's image (WhatsApp buttons have none); Genesys `Reactions` content
 * (counts of social-media reactions, with no message to react to: nothing WhatsApp can show).
 */

import { isHttpUrl, nonEmpty, splitText, textSends } from './common';
import type { GenesysCard, GenesysCardAction, GenesysDatePicker, GenesysList, GenesysOutboundContent, GenesysQuickReply } from './genesys-types';
import type { MetaInteractive, MetaInteractiveHeader, MetaSendBody } from './meta-types';

/**
 * WhatsApp's limits for free-form interactive messages, in characters (counted here in UTF-16
 * units, which is never fewer). Source: Meta's "Interactive reply buttons messages",
 * "Interactive list messages" and "Interactive Call-to-Action URL Button Messages" pages.
 */
export const WHATSAPP_INTERACTIVE = {
  headerText: 60,
  body: 1024,
  buttons: 3,
  buttonTitle: 20,
  listButton: 20,
  rows: 10,
  rowId: 200,
  rowTitle: 24,
  rowDescription: 72,
  ctaDisplayText: 20,
} as const;

/** The label of the button that opens a list (≤ 20). */
export const LIST_BUTTON_LABEL = 'Options';
/** The body of a choice message that has no text of its own (WhatsApp requires one). */
export const DEFAULT_PROMPT = 'Please choose an option.';
/** The last line of a numbered text. */
export const NUMBERED_HINT = 'Reply with the number of your choice.';
/** A call-to-action button's label when the link's own text is longer than 20 (the text then goes in the body). */
export const DEFAULT_LINK_LABEL = 'Open link';

/** One choice offered to the customer, as the caller must remember it to map the answer back. */
export interface OfferedChoice {
  /** Its id on WhatsApp (reply button or list row id): the payload when it can be, else `option-<n>`. */
  id: string;
  /** What the customer sees (and what Genesys gets back as the answer's text). */
  title: string;
  /** What the bot gets back (the Genesys quick reply / postback payload). */
  payload: string;
  /** The number to type, when it was offered in a numbered text. */
  number?: number;
  /** The send of the message (1-based) that offers it. */
  part: number;
}

interface Option {
  title: string;
  payload: string;
  description?: string;
}

interface Link {
  text: string;
  url: string;
}

/** One thing to render: a quick reply group, a card, a list picker or a date picker. */
interface Block {
  title?: string;
  body?: string;
  media?: { kind: 'image' | 'video'; link: string };
  options: Option[];
  links: Link[];
}

const arrayOf = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);

function optionOf(text: unknown, payload: unknown, description?: unknown): Option | undefined {
  const title = nonEmpty(text) ? text.trim() : nonEmpty(payload) ? payload.trim() : undefined;
  if (!title) return undefined;
  const option: Option = { title, payload: typeof payload === 'string' && payload.length > 0 ? payload : title };
  if (nonEmpty(description)) option.description = description.trim();
  return option;
}

function cardBlock(card: GenesysCard): Block {
  const block: Block = { options: [], links: [] };
  if (nonEmpty(card.title)) block.title = card.title.trim();
  if (nonEmpty(card.description)) block.body = card.description.trim();
  if (isHttpUrl(card.image)) block.media = { kind: 'image', link: card.image };
  else if (isHttpUrl(card.video)) block.media = { kind: 'video', link: card.video };
  const add = (action: GenesysCardAction | undefined, isDefault: boolean): void => {
    if (!action || typeof action !== 'object') return;
    const isLink = action.type === 'Link' || (action.type !== 'Postback' && isHttpUrl(action.url) && !nonEmpty(action.payload));
    if (isLink) {
      if (!isHttpUrl(action.url) || (isDefault && block.links.some((l) => l.url === action.url))) return;
      block.links.push({ text: nonEmpty(action.text) ? action.text.trim() : action.url, url: action.url });
      return;
    }
    const option = optionOf(action.text, action.payload);
    if (!option || (isDefault && block.options.some((o) => o.payload === option.payload))) return;
    block.options.push(option);
  };
  for (const action of arrayOf<GenesysCardAction>(card.actions)) add(action, false);
  // Tapping the card itself has no WhatsApp equivalent: its action is offered like the others,
  // unless one of them already is it.
  add(card.defaultAction, true);
  return block;
}

function listBlock(list: GenesysList): Block {
  const block: Block = { options: [], links: [] };
  if (nonEmpty(list.title)) block.title = list.title.trim();
  if (nonEmpty(list.description)) block.body = list.description.trim();
  for (const item of arrayOf<NonNullable<GenesysList['components']>[number]>(list.components)) {
    if (!item || typeof item !== 'object') continue;
    const url = item.actions?.url;
    if (isHttpUrl(url)) block.links.push({ text: nonEmpty(item.title) ? item.title.trim() : url, url });
    if (isHttpUrl(url) && !nonEmpty(item.actions?.textback)) continue;
    const option = optionOf(item.title, item.actions?.textback, item.description);
    if (option) block.options.push(option);
  }
  return block;
}

/** `2025-05-30T12:00:00Z` → `2025-05-30 12:00 UTC`; anything else as it is. */
function timeTitle(dateTime: string): string {
  const ms = Date.parse(dateTime);
  return Number.isNaN(ms) ? dateTime.trim() : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function datePickerBlock(picker: GenesysDatePicker): Block {
  const block: Block = { options: [], links: [] };
  if (nonEmpty(picker.title)) block.title = picker.title.trim();
  if (nonEmpty(picker.subtitle)) block.body = picker.subtitle.trim();
  for (const slot of arrayOf<NonNullable<GenesysDatePicker['availableTimes']>[number]>(picker.availableTimes)) {
    if (!nonEmpty(slot?.dateTime)) continue;
    const minutes = typeof slot.duration === 'number' && slot.duration > 0 ? Math.round(slot.duration / 60) : undefined;
    block.options.push({ title: timeTitle(slot.dateTime), payload: slot.dateTime, ...(minutes ? { description: `${minutes} min` } : {}) });
  }
  return block;
}

/**
 * The blocks of a message's `content[]`, in order, and its quick replies (all `QuickReply` items
 * and `QuickReplyV2` actions together: WhatsApp shows them under the message's text, as Genesys
 * does). Attachments and unknown content types are not blocks.
 */
export function structuredBlocks(content: GenesysOutboundContent[]): { blocks: Block[]; quickReplies?: Block } {
  const blocks: Block[] = [];
  const quickReplies: Block = { options: [], links: [] };
  let hasQuickReplies = false;
  const addQuickReply = (qr: GenesysQuickReply | undefined): void => {
    hasQuickReplies = true;
    const option = qr && typeof qr === 'object' ? optionOf(qr.text, qr.payload) : undefined;
    if (option) quickReplies.options.push(option);
  };
  for (const item of content) {
    if (!item || typeof item !== 'object') continue;
    switch (item.contentType) {
      case 'QuickReply':
        addQuickReply(item.quickReply);
        break;
      case 'QuickReplyV2':
        if (nonEmpty(item.quickReplyV2?.title) && !quickReplies.title) quickReplies.title = item.quickReplyV2.title.trim();
        for (const qr of arrayOf<GenesysQuickReply>(item.quickReplyV2?.actions)) addQuickReply(qr);
        break;
      case 'Card':
        if (item.card && typeof item.card === 'object') blocks.push(cardBlock(item.card));
        break;
      case 'Carousel':
        for (const card of arrayOf<GenesysCard>(item.carousel?.cards)) if (card && typeof card === 'object') blocks.push(cardBlock(card));
        break;
      case 'ListTemplate':
        if (item.list && typeof item.list === 'object') blocks.push(listBlock(item.list));
        break;
      case 'DatePicker':
        if (item.datePicker && typeof item.datePicker === 'object') blocks.push(datePickerBlock(item.datePicker));
        break;
    }
  }
  return hasQuickReplies ? { blocks, quickReplies } : { blocks };
}

// ---------------------------------------------------------------------------------------------
// Rendering

type Form = 'buttons' | 'list' | 'numbered';

function formFor(options: Option[]): Form {
  const W = WHATSAPP_INTERACTIVE;
  const titles = new Set(options.map((o) => o.title));
  if (
    options.length <= W.buttons &&
    titles.size === options.length &&
    options.every((o) => o.title.length <= W.buttonTitle && o.description === undefined)
  ) {
    return 'buttons';
  }
  if (options.length <= W.rows && options.every((o) => o.title.length <= W.rowTitle && (o.description?.length ?? 0) <= W.rowDescription)) return 'list';
  return 'numbered';
}

const GENERATED_ID = /^option-\d+$/;

/** WhatsApp ids for every option of the message: the payload when it fits and is unique, else `option-<n>`. */
function assignIds(options: Option[]): Map<Option, string> {
  const count = new Map<string, number>();
  for (const o of options) count.set(o.payload, (count.get(o.payload) ?? 0) + 1);
  const ids = new Map<Option, string>();
  options.forEach((o, i) => {
    const usable = o.payload.trim().length > 0 && o.payload.length <= WHATSAPP_INTERACTIVE.rowId && count.get(o.payload) === 1 && !GENERATED_ID.test(o.payload);
    ids.set(o, usable ? o.payload : `option-${i + 1}`);
  });
  return ids;
}

const linkLine = (link: Link): string => (link.text === link.url ? link.url : `${link.text}: ${link.url}`);

/** A body of at most 1024 characters: the text's last piece; what comes before it goes first, as text. */
function fitBody(whole: string): { lead: string; body: string } {
  const text = whole.trim();
  if (text.length <= WHATSAPP_INTERACTIVE.body) return { lead: '', body: text };
  // The last piece of a split at the body limit is a suffix of the text (splitText trims only at cuts).
  const pieces = splitText(text, WHATSAPP_INTERACTIVE.body);
  const body = pieces[pieces.length - 1];
  return { lead: text.slice(0, text.length - body.length).trimEnd(), body };
}

class Renderer {
  readonly sends: MetaSendBody[] = [];
  readonly choices: OfferedChoice[] = [];
  private numbered = 0;

  constructor(
    private readonly to: string,
    private readonly ids: Map<Option, string>,
  ) {}

  private push(send: MetaSendBody): number {
    this.sends.push(send);
    return this.sends.length;
  }

  private base() {
    return { messaging_product: 'whatsapp', recipient_type: 'individual', to: this.to } as const;
  }

  private text(text: string): void {
    for (const send of textSends(text, this.to)) this.push(send);
  }

  private media(media: NonNullable<Block['media']>, caption?: string): void {
    const ref = caption ? { link: media.link, caption } : { link: media.link };
    this.push(media.kind === 'image' ? { ...this.base(), type: 'image', image: ref } : { ...this.base(), type: 'video', video: ref });
  }

  private interactive(interactive: MetaInteractive): number {
    return this.push({ ...this.base(), type: 'interactive', interactive });
  }

  /** Header for buttons and link messages: the media, else the title when it fits; `titled` says whether the title is in it. */
  private header(block: Block, mediaAllowed: boolean): { header?: MetaInteractiveHeader; titled: boolean } {
    if (mediaAllowed && block.media) {
      return { header: block.media.kind === 'image' ? { type: 'image', image: { link: block.media.link } } : { type: 'video', video: { link: block.media.link } }, titled: false };
    }
    if (block.title && block.title.length <= WHATSAPP_INTERACTIVE.headerText) return { header: { type: 'text', text: block.title }, titled: true };
    return { titled: false };
  }

  /** The body text: the title unless the header shows it, the block's text, then any extra lines. */
  private bodyText(block: Block, titled: boolean, extra: string[]): string {
    const lines = [titled ? undefined : block.title, block.body, ...extra].filter(nonEmpty);
    return lines.join('\n');
  }

  render(block: Block): void {
    if (block.options.length === 0) return this.renderLinksOnly(block);
    const form = formFor(block.options);
    const links = block.links.map(linkLine);
    if (form === 'numbered') return this.renderNumbered(block, links);
    const { header, titled } = form === 'buttons' ? this.header(block, true) : this.header(block, false);
    if (form === 'list' && block.media) this.media(block.media);
    const { lead, body } = fitBody(this.bodyText(block, titled, links) || DEFAULT_PROMPT);
    if (lead) this.text(lead);
    const interactive: MetaInteractive =
      form === 'buttons'
        ? {
            type: 'button',
            ...(header ? { header } : {}),
            body: { text: body },
            action: { buttons: block.options.map((o) => ({ type: 'reply' as const, reply: { id: this.ids.get(o)!, title: o.title } })) },
          }
        : {
            type: 'list',
            ...(header?.type === 'text' ? { header } : {}),
            body: { text: body },
            action: {
              button: LIST_BUTTON_LABEL,
              sections: [
                {
                  rows: block.options.map((o) => ({ id: this.ids.get(o)!, title: o.title, ...(o.description ? { description: o.description } : {}) })),
                },
              ],
            },
          };
    const part = this.interactive(interactive);
    for (const o of block.options) this.choices.push({ id: this.ids.get(o)!, title: o.title, payload: o.payload, part });
  }

  private renderNumbered(block: Block, links: string[]): void {
    if (block.media) this.media(block.media);
    const lines = block.options.map((o) => {
      const n = ++this.numbered;
      return { o, n, line: `${n}. ${o.title}${o.description ? ` — ${o.description}` : ''}` };
    });
    const intro = this.bodyText(block, false, links);
    const text = [intro, lines.map((l) => l.line).join('\n'), NUMBERED_HINT].filter(nonEmpty).join('\n\n');
    const first = this.sends.length + 1;
    this.text(text);
    // The choices' part: the send that holds their line (the text may take several sends).
    const bodies = this.sends.slice(first - 1).map((s) => (s.type === 'text' ? s.text.body : ''));
    for (const { o, n, line } of lines) {
      const at = bodies.findIndex((b) => b.includes(line));
      this.choices.push({ id: this.ids.get(o)!, title: o.title, payload: o.payload, number: n, part: first + Math.max(at, 0) });
    }
  }

  /** A block without choices: its links as call-to-action buttons, else its media and text. */
  private renderLinksOnly(block: Block): void {
    const [first, ...more] = block.links;
    if (!first) {
      const text = this.bodyText(block, false, []);
      if (block.media && text.length <= WHATSAPP_INTERACTIVE.body) return void this.media(block.media, text || undefined);
      if (block.media) this.media(block.media);
      if (text) this.text(text);
      return;
    }
    const { header, titled } = this.header(block, true);
    this.cta(first, header, this.bodyText(block, titled, []));
    for (const link of more) this.cta(link, undefined, '');
  }

  private cta(link: Link, header: MetaInteractiveHeader | undefined, text: string): void {
    const fits = link.text.length <= WHATSAPP_INTERACTIVE.ctaDisplayText;
    // A label too long for the button goes whole into the body; a link without text of its own shows its URL.
    const extra = !fits || !text ? [link.text] : [];
    const { lead, body } = fitBody([text, ...extra].filter(nonEmpty).join('\n'));
    if (lead) this.text(lead);
    this.interactive({
      type: 'cta_url',
      ...(header ? { header } : {}),
      body: { text: body },
      action: { name: 'cta_url', parameters: { display_text: fits ? link.text : DEFAULT_LINK_LABEL, url: link.url } },
    });
  }

  /** Text that goes before everything else (the message's text when no quick replies carry it). */
  leadText(text: string): void {
    if (text.trim().length > 0) this.text(text);
  }
}

/**
 * The sends for a message's structured content (`blocks`, `quickReplies`: structuredBlocks),
 * after `before` (the attachments' sends, already built), and the choices they offer. The
 * message's `text` is the quick replies' body when there are quick replies, else a text send
 * that comes first.
 */
export function renderStructured(
  parts: { text: string; blocks: Block[]; quickReplies?: Block; before: MetaSendBody[] },
  to: string,
): { sends: MetaSendBody[]; choices: OfferedChoice[] } {
  const all = [...parts.blocks, ...(parts.quickReplies ? [parts.quickReplies] : [])];
  const renderer = new Renderer(to, assignIds(all.flatMap((b) => b.options)));
  if (!parts.quickReplies) renderer.leadText(parts.text);
  for (const send of parts.before) renderer.sends.push(send);
  for (const block of parts.blocks) renderer.render(block);
  if (parts.quickReplies) renderer.render({ ...parts.quickReplies, body: nonEmpty(parts.text) ? parts.text : undefined });
  return { sends: renderer.sends, choices: renderer.choices };
}
