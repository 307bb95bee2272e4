/**
 * Helpers both directions share: length limits, text cutting, MIME types, filenames, timestamps,
 * and the error for a message that cannot be mapped at all. Pure functions, no I/O.
 */

import type { MetaSendBody } from './meta-types';

/** The message cannot be represented in Genesys (no sender id, no id/timestamp): mark it failed. */
export class UnmappableMessage extends Error {
  readonly code = 'UNMAPPABLE_MESSAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UnmappableMessage';
  }
}

// ---------------------------------------------------------------------------------------------
// Limits and text

/**
 * The longest text one inbound Genesys message carries, in UTF-16 units; a customer's longer text
 * is split over several messages (inboundParts), never cut. Genesys publishes no limit for inbound
 * Open Messaging text (README, "Reference": what was searched, and the sources); 4000 is the
 * limit it documents for agent text on Open Messaging, so no part is longer than what agents
 * themselves may write there.
 */
export const MAX_GENESYS_TEXT = 4000;
/** Meta's text body limit, in UTF-16 units: longer agent text is split over several sends. */
export const MAX_META_TEXT = 4096;
/** Meta's caption limit (image, video, document; shared/reference/whatsapp-cloud-api.md). */
export const MAX_META_CAPTION = 1024;

const ELLIPSIS = '…';

/** Whether a UTF-16 unit opens a surrogate pair (so a cut must not fall right after it). */
export const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/**
 * Cuts our own text (a reason, an attribute) to at most `max` UTF-16 units, ending with an
 * ellipsis; never splits a surrogate pair. Never for what a customer or an agent wrote: that is
 * split (splitText), not cut.
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - ELLIPSIS.length;
  if (isHighSurrogate(text.charCodeAt(cut - 1))) cut -= 1;
  return text.slice(0, cut) + ELLIPSIS;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const WHITESPACE = /^\s+$/;

/**
 * Splits text into pieces of at most `max` UTF-16 units, in order, losing nothing but the
 * whitespace at the cuts. A cut prefers a line break, then any whitespace, in the second half of
 * the window; without one it falls between two grapheme clusters, so never inside a surrogate
 * pair, an emoji sequence (👨‍👩‍👧‍👦, 👋🏽, 🇮🇱) or a letter with its combining marks. Only a single cluster
 * longer than `max` (hundreds of stacked marks) is cut between code points. Blank pieces are skipped.
 */
export function splitText(text: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const floor = Math.floor(max / 2);
    let lineBreak = -1;
    let space = -1;
    let cluster = -1;
    for (const { index, segment } of graphemes.segment(rest)) {
      if (index > max) break;
      if (index > floor && WHITESPACE.test(segment)) {
        if (segment.includes('\n')) lineBreak = index;
        else space = index;
      }
      if (index > 0) cluster = index;
    }
    const soft = lineBreak !== -1 ? lineBreak : space;
    let piece: string;
    if (soft !== -1) {
      piece = rest.slice(0, soft).trimEnd();
      rest = rest.slice(soft).trimStart();
    } else {
      const cut = cluster !== -1 ? cluster : isHighSurrogate(rest.charCodeAt(max - 1)) ? max - 1 : max;
      piece = rest.slice(0, cut);
      rest = rest.slice(cut);
    }
    if (piece.trim().length > 0) pieces.push(piece);
  }
  if (rest.trim().length > 0) pieces.push(rest);
  return pieces;
}

/** A string with something other than whitespace in it. */
export const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;

/** An absolute http(s) URL (what WhatsApp fetches media from, and what a link button opens). */
export function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/** A URL in a text piece turns WhatsApp's link preview on for that piece. */
const URL_IN_TEXT = /(https?:\/\/|www\.)\S/i;

/** Text sends for `text`, split at MAX_META_TEXT (splitText), each with the link preview on when it has a URL. */
export function textSends(text: string, to: string): MetaSendBody[] {
  return splitText(text, MAX_META_TEXT).map((body) => ({
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'text',
    text: { body, preview_url: URL_IN_TEXT.test(body) },
  }));
}

// ---------------------------------------------------------------------------------------------
// Media: MIME types, extensions, filenames

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'video/3gpp': '3gp',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/aac': 'aac',
  'audio/amr': 'amr',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.ms-powerpoint': 'ppt',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
};

/** `audio/ogg; codecs=opus` → `audio/ogg`; absent or malformed → application/octet-stream. */
export function baseMime(mime: unknown): string {
  const base = typeof mime === 'string' ? mime.split(';')[0].trim().toLowerCase() : '';
  return /^[a-z0-9][\w.+-]*\/[\w.+-]+$/.test(base) ? base : 'application/octet-stream';
}

/** A file extension for a base MIME type: known ones from the table, else the subtype if it looks like one, else `bin`. */
export function extensionFor(mime: string): string {
  const known = EXTENSIONS[mime];
  if (known) return known;
  const sub = mime.split('/')[1] ?? '';
  return /^[a-z0-9]{1,8}$/.test(sub) ? sub : 'bin';
}

/** A user-supplied filename made safe to carry in URLs and headers (no control characters or paths). */
export function cleanFilename(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const cleaned = name.replace(/[\u0000-\u001f\u007f]/g, '').replace(/^.*[\\/]/, '').trim();
  return cleaned.length > 0 ? cleaned.slice(0, 255) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Time

/**
 * Meta's Unix timestamp (seconds, as a number or a digit string) → ISO 8601 as Genesys wants it.
 * Throws UnmappableMessage naming `what` when there is no usable timestamp.
 */
export function unixToIso(value: unknown, what: string): string {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  const date = new Date(seconds * 1000);
  if (!Number.isFinite(seconds) || Number.isNaN(date.getTime())) throw new UnmappableMessage(`${what} has no valid timestamp`);
  return date.toISOString();
}
