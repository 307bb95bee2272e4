import { appError, createHttpClient, templateFromMeta, type HttpClient, type Template } from '@bridge/shared';

/**
 * Reads a WABA's whole template catalogue from Meta:
 * `GET {META_GRAPH_URL}/{waba_id}/message_templates?fields=id,name,language,status,category,components&limit=100`
 * with the tenant's token, following Graph's cursor paging (shared/reference/whatsapp-cloud-api.md,
 * "Templates"; Meta, "Paginated Results": `paging.cursors.after`, and `paging.next` only while
 * there are more; a page shorter than `limit` does not mean the end).
 *
 * Choices:
 * - The next page is asked for with `after=<cursor>` on the same URL; `paging.next` is read only
 *   as "there is more", never followed (it is a URL Meta's answer names, and the request carries
 *   the token: it must not go wherever an answer says).
 * - No redirects are followed, for the same reason.
 * - A listing longer than `maxPages` pages or than `maxPages` full pages' templates (however
 *   its pages are cut), a page over MAX_TEMPLATE_PAGE_BYTES, a cursor that repeats, or an answer
 *   of the wrong shape fails the whole sync: a catalogue is replaced only by a complete listing,
 *   so a partial one never deletes templates.
 * - What Meta's error says is kept for the admin (TEMPLATE_SYNC_FAILED); the token never is.
 */

/** Templates per page (Meta's `limit`). */
export const TEMPLATE_PAGE_SIZE = 100;
/** Pages read at most in one sync (10,000 templates at 100 a page). */
export const DEFAULT_MAX_TEMPLATE_PAGES = 100;
/** Default timeout of each request to Meta, in ms. */
export const DEFAULT_TEMPLATE_SYNC_TIMEOUT_MS = 10_000;
/**
 * The largest page read, in bytes: a page of 100 templates is far smaller (a body holds at most
 * 1,024 characters, a header and a footer 60), so a larger answer is not a listing, and it is
 * refused as it streams in rather than held whole.
 */
export const MAX_TEMPLATE_PAGE_BYTES = 4 * 1024 * 1024;

const FIELDS = 'id,name,language,status,category,components';
/** The longest excerpt of Meta's error text kept in a TEMPLATE_SYNC_FAILED message. */
const MAX_META_TEXT = 500;

export interface MetaTemplatesOptions {
  /** Graph API base with version, e.g. `https://graph.facebook.com/v23.0` (META_GRAPH_URL). */
  graphUrl: string;
  /** Per request; default DEFAULT_TEMPLATE_SYNC_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default DEFAULT_MAX_TEMPLATE_PAGES. */
  maxPages?: number;
}

/** What a listing found: the templates this bridge can store, and how many items it skipped (no usable name or language). */
export interface TemplateListing {
  templates: Template[];
  skipped: number;
  pages: number;
}

interface GraphPage {
  data?: unknown;
  paging?: { cursors?: { after?: unknown }; next?: unknown };
}

/** The Graph client of the template sync; `close()` releases its sockets. */
export class MetaTemplatesClient {
  private readonly http: HttpClient;
  private readonly maxPages: number;
  private readonly base: string;

  constructor(options: MetaTemplatesOptions) {
    this.base = options.graphUrl.replace(/\/+$/, '');
    this.maxPages = options.maxPages ?? DEFAULT_MAX_TEMPLATE_PAGES;
    this.http = createHttpClient({ timeoutMs: options.timeoutMs ?? DEFAULT_TEMPLATE_SYNC_TIMEOUT_MS, maxRedirects: 0, maxSockets: 8, maxContentLength: MAX_TEMPLATE_PAGE_BYTES });
  }

  /**
   * Every template of WABA `wabaId`, all pages, with `accessToken`. Throws 502
   * TEMPLATE_SYNC_FAILED (Meta's error text, or what went wrong) when Meta refuses, cannot be
   * reached, or answers something that is not a complete listing. `signal` aborts it.
   */
  async listAll(wabaId: string, accessToken: string, signal?: AbortSignal): Promise<TemplateListing> {
    const url = `${this.base}/${encodeURIComponent(wabaId)}/message_templates`;
    const failed = (reason: string) => appError('TEMPLATE_SYNC_FAILED', redact(`Meta did not list the templates of WABA ${wabaId}: ${reason}`, accessToken));
    const templates: Template[] = [];
    let skipped = 0;
    const seen = new Set<string>();
    let after: string | undefined;
    for (let pages = 1; ; pages++) {
      let res;
      try {
        res = await this.http.get<GraphPage>(url, {
          params: { fields: FIELDS, limit: TEMPLATE_PAGE_SIZE, ...(after !== undefined ? { after } : {}) },
          headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' },
          responseType: 'json',
          signal,
        });
      } catch (err) {
        if (/maxContentLength/.test((err as Error).message)) throw failed(`a page is larger than ${MAX_TEMPLATE_PAGE_BYTES} bytes`);
        throw failed(`Meta could not be reached (${(err as Error).message})`);
      }
      if (res.status !== 200) throw failed(`Meta answered ${res.status}: ${metaErrorText(res.data)}`);
      const page = res.data;
      if (!page || typeof page !== 'object' || !Array.isArray(page.data)) throw failed('the answer is not a template listing');
      // However its pages are cut, a listing holds at most what maxPages full pages would.
      if (templates.length + skipped + page.data.length > this.maxPages * TEMPLATE_PAGE_SIZE) {
        throw failed(`the listing has more than ${this.maxPages * TEMPLATE_PAGE_SIZE} templates`);
      }
      for (const item of page.data) {
        const t = templateFromMeta(item);
        if (t) templates.push(t);
        else skipped++;
      }
      if (page.paging?.next === undefined || page.paging.next === null) return { templates, skipped, pages };
      const cursor = page.paging.cursors?.after;
      if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 1024) throw failed('a page says there is more but gives no cursor');
      if (seen.has(cursor)) throw failed('the paging cursor repeats');
      if (pages >= this.maxPages) throw failed(`the listing is longer than ${this.maxPages} pages of ${TEMPLATE_PAGE_SIZE}`);
      seen.add(cursor);
      after = cursor;
    }
  }

  close(): void {
    this.http.close();
  }
}

/** Meta's error text (`error.message`, and `error_data.details` when it adds to it), or what the body was. */
function metaErrorText(body: unknown): string {
  const error = (body as { error?: { message?: unknown; code?: unknown; error_data?: { details?: unknown } } } | undefined)?.error;
  if (!error || typeof error.message !== 'string') return 'no Graph error in the answer';
  const details = typeof error.error_data?.details === 'string' && error.error_data.details !== error.message ? ` (${error.error_data.details})` : '';
  return `${error.message}${details}`.slice(0, MAX_META_TEXT);
}

/** The text without the token, wherever it might have been echoed. */
function redact(text: string, accessToken: string): string {
  return accessToken ? text.split(accessToken).join('[redacted]') : text;
}
