/**
 * A strict local stand-in for Meta's Graph API (WhatsApp Cloud API): sending messages
 * (`messages.ts`, body rules in `send-body.ts`), each WABA's template catalogue and the check of
 * template sends against it (`templates.ts`), the 24-hour customer service window
 * (`customer-window.ts`), read marks and the typing indicator (`read-marks.ts`), media lookup and
 * download (`media.ts`) — and the other direction,
 * webhook deliveries signed and serialised the way Meta does (`webhooks.ts`, payloads from
 * `webhook-payloads.ts` and `template-status-payload.ts`). Errors and injected faults: `faults.ts`.
 *
 * Choices where the reference is silent:
 * - Any token problem on a send (missing, unknown, or valid for another number) is 401 with code
 *   190. Registering a number again with another token revokes the old one (190 from then on).
 * - `GET /{phone-number-id}` (numbers.ts) reads a registered number with its own token; a node id
 *   that is not a registered number is looked up as a media id. (Real Graph answers 400/100 subcode 33 when a valid token lacks access to the number.)
 * - Default HTTP status of injected errors: 190 → 401, 131000 → 500, 131016 → 503, everything
 *   else (131047, 130429, 131056, 4, 80007, 100, 131026, 131057 ...) → 400. Meta's Graph API
 *   answers most errors with 400; the bridge must classify on `error.code`, not on the status.
 *   Pass `httpStatus` to override.
 * - An outage is 503 with code 131016 ("Service unavailable").
 * - Only `Authorization: Bearer` authenticates (no `access_token` query parameter), and only
 *   `application/json` bodies are accepted.
 * - `type` may be omitted (Meta defaults it to text). `to` must be digits only (7-15); a
 *   business-scoped user id (BSUID, `CC.<up to 128 letters and digits>`, parent `CC.ENT.…`) goes
 *   in `recipient` instead, and in `to` is refused (100). With both, `to` wins. The answer's
 *   `contacts[]` carries `user_id` for a send to a BSUID (`users.ts`).
 * - Sends to BSUIDs are refused with 131062 when switched off (`bsuidRecipients: false` or
 *   `setBsuidRecipients(false)`), and always for AUTHENTICATION templates. A user's window and pair
 *   rate limit are one whichever id names them, once a webhook showed both.
 * - `caption` is refused on audio and stickers; `link` and `id` are mutually exclusive.
 * - Interactive messages are checked against every limit Meta publishes (send-body.ts,
 *   META_INTERACTIVE_LIMITS), counted in UTF-16 units (Meta says "characters"); reply button ids
 *   and titles, and list row ids, must also be unique within the message (Meta's pages do not say
 *   what a duplicate gets: the simulator refuses it, so that a mapping that relies on telling the
 *   choices apart is caught).
 * - Media download URLs require exactly the token that looked the media up; an expired URL is 404.
 * - A number's templates are those of the WABA it was registered with (`addNumber({wabaId})`); a
 *   number registered without one has none. The catalogue is read with the token of any number of
 *   that WABA.
 * - Read marks and typing indicators (`read-marks.ts`) are POSTs to /messages too, told apart by
 *   their `status`; they are the `read` endpoint for faults and calls, so that a fault meant for a
 *   send is not taken by a read mark, and are recorded in `reads`, not `sent`.
 * - The 24-hour window is enforced only with `enforceCustomerWindow` (or `setWindowEnforcement`),
 *   and a closed window is answered synchronously (131047 on the send); Meta may instead accept
 *   the send and report 131047 in a `failed` status webhook.
 * - The pair rate limit (`pair-rate.ts`: one send per interval from a number to one user, bursts
 *   borrowing from the future, 131056 over it) is enforced only with `pairRateLimit` (or
 *   `setPairRateLimit`), on sends otherwise accepted, with Meta's figures (6 s, bursts of 45) for
 *   what the option leaves out. Meta's pages do not say whether a refused send counts: here it
 *   does not.
 */
import { Conditions, parseJson, sleep, startServer, type SimRequest, type SimResponse } from '../common';
import { control } from './control';
import { CustomerWindows } from './customer-window';
import { MetaFaults, metaError, type MetaEndpoint, type MetaFaultOptions } from './faults';
import { MetaMediaStore, type MetaMediaInfo, type MetaMediaOptions } from './media';
import { MetaMessages, type MetaSendRecord } from './messages';
import { MetaNumbers, type MetaNumberOptions } from './numbers';
import { MetaReadMarks, isReadMarkBody, type MetaReadRecord } from './read-marks';
import { PairRates, type PairRateLimit, type PairRateLimitOptions } from './pair-rate';
import { MetaUsers } from './users';
import { buildTemplateStatusUpdate } from './template-status-payload';
import { MetaTemplates, META_TEMPLATE_STATUSES, type MetaTemplate, type MetaTemplateOptions, type MetaTemplateStatus } from './templates';
import { deliverMetaWebhook, verifyWebhook, type DeliverWebhookOptions, type DeliverWebhookResult } from './webhooks';

export { metaError, type MetaFaultOptions } from './faults';
export type { MetaMediaInfo, MetaMediaOptions } from './media';
export type { MetaSendRecord } from './messages';
export type { MetaNumberOptions } from './numbers';
export type { MetaReadRecord } from './read-marks';
export { META_PAIR_RATE_LIMIT, type PairRateLimit, type PairRateLimitOptions } from './pair-rate';
export { META_INTERACTIVE_LIMITS, META_MESSAGE_TYPES, validateSendBody, type MetaMedia, type MetaMessageType, type MetaSendBody } from './send-body';
export { CUSTOMER_WINDOW_MS } from './customer-window';
export {
  META_TEMPLATE_CATEGORIES,
  META_TEMPLATE_STATUSES,
  type MetaTemplate,
  type MetaTemplateCategory,
  type MetaTemplateComponent,
  type MetaTemplateOptions,
  type MetaTemplateRender,
  type MetaTemplateStatus,
} from './templates';
export { deliverMetaWebhook, type DeliverWebhookOptions, type DeliverWebhookResult } from './webhooks';
export * from './webhook-payloads';
export * from './template-status-payload';

export interface MetaCall {
  endpoint: MetaEndpoint;
  method: string;
  path: string;
  phoneNumberId?: string;
  /** Sends: the phone number the body names (`to`), when it names one. */
  to?: string;
  /** Sends: the business-scoped user id the body names (`recipient`), when it names one. */
  recipient?: string;
  mediaId?: string;
  /** Template listings. */
  wabaId?: string;
  status: number;
  /** Meta error code when the answer was an error. */
  errorCode?: number;
  injected: boolean;
  time: Date;
}

export interface MetaSimulatorOptions {
  port?: number;
  host?: string;
  /** Graph version in `graphUrl`; any `vN.N` is served. Default "v23.0". */
  version?: string;
  /** Lifetime of media download URLs; default 5 minutes. */
  mediaUrlTtlMs?: number;
  /** First webhook retry delay (doubles each retry); default 1000. */
  retryDelayMs?: number;
  /** Webhook attempts per delivery; default 5. */
  maxAttempts?: number;
  /** Webhook request timeout; default 10000. */
  webhookTimeoutMs?: number;
  /** Serve the `/_sim/*` control API (used by the CLI for demos); default false. */
  controlApi?: boolean;
  /**
   * Refuse free-form sends outside the 24-hour customer service window with 131047; default
   * false (tests may reply to users who never wrote through the simulator).
   */
  enforceCustomerWindow?: boolean;
  /**
   * Refuse sends to one user faster than the pair rate limit with 131056 (`{}`: Meta's figures,
   * 1 per 6 s with bursts of 45; or a test's, e.g. `{ intervalMs: 300, burst: 3 }`); default off.
   */
  pairRateLimit?: PairRateLimitOptions;
  /**
   * Accept sends to business-scoped user ids (`recipient`); default true. false: every such send
   * is refused with 131062, as Meta does for messages a BSUID cannot receive (authentication
   * templates always are).
   */
  bsuidRecipients?: boolean;
}

/** `deliverTemplateStatus`'s input: which template, what happened, where to POST it. */
export interface TemplateStatusDelivery extends Omit<DeliverWebhookOptions, 'payload'> {
  wabaId: string;
  name: string;
  language: string;
  /** APPROVED, REJECTED, PAUSED, DISABLED (these also move the template), or another event such as ARCHIVED. */
  event: string;
  /** Default "NONE". */
  reason?: string;
}

export interface MetaSimulator {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/v23.0` — what META_GRAPH_URL should be. */
  readonly graphUrl: string;
  readonly port: number;
  addNumber(number: MetaNumberOptions): void;
  addMedia(media: MetaMediaOptions): MetaMediaInfo;
  /** Adds a template to a WABA's catalogue, or replaces the one of that name and language; throws on a bad definition. */
  addTemplate(template: MetaTemplateOptions): MetaTemplate;
  /** Moves a template to another status (no webhook; see deliverTemplateStatus); throws when it does not exist. */
  setTemplateStatus(o: { wabaId: string; name: string; language: string; status: MetaTemplateStatus }): MetaTemplate;
  /** Deletes a template from its WABA's catalogue (no webhook); false when there was none. */
  removeTemplate(o: { wabaId: string; name: string; language: string }): boolean;
  /** The catalogue of one WABA (or of all), in the order added. */
  templates(wabaId?: string): MetaTemplate[];
  /**
   * Moves the template (for a status event) and POSTs its `message_template_status_update`
   * webhook, signed like every other; throws when the template does not exist.
   */
  deliverTemplateStatus(o: TemplateStatusDelivery): Promise<DeliverWebhookResult>;
  /** Sets (or with null forgets) when `waId` last wrote to `phoneNumberId`: a Date or epoch ms. */
  setCustomerLastMessage(o: { phoneNumberId: string; waId: string; at: Date | number | null }): void;
  /** When `waId` last wrote to `phoneNumberId`, as far as the simulator knows. */
  customerLastMessage(phoneNumberId: string, waId: string): Date | undefined;
  /** Switches the 24-hour window rule on or off (reset() restores the start option). */
  setWindowEnforcement(on: boolean): void;
  /**
   * Switches the pair rate limit on (Meta's figures for what is left out) or off (null), forgetting
   * every pair's past sends; reset() restores the start option. Throws on a bad limit.
   */
  setPairRateLimit(limit: PairRateLimitOptions | null): void;
  /** The pair rate limit in force; null when off. */
  readonly pairRateLimit: PairRateLimit | null;
  /** Switches sends to business-scoped user ids (`recipient`) on, or off (131062); reset() restores the start option. */
  setBsuidRecipients(supported: boolean): void;
  failNext(n: number, fault: MetaFaultOptions): void;
  setOutage(on: boolean, scope?: { phoneNumberId?: string }): void;
  setLatency(ms: number, scope?: { phoneNumberId?: string }): void;
  clearFaults(): void;
  /**
   * clearFaults() and forgets what was recorded, including when users last wrote (and which of
   * their messages can be marked read) and what each pair sent, and restores window enforcement
   * and the pair rate limit to their start options (numbers, media and templates stay).
   */
  reset(): void;
  /** Accepted sends, in order. */
  readonly sent: MetaSendRecord[];
  /** Accepted read marks (with or without the typing indicator), in order. */
  readonly reads: MetaReadRecord[];
  /** Waits for an accepted read mark matching `predicate`. */
  waitForRead(predicate: (read: MetaReadRecord) => boolean, timeoutMs?: number): Promise<MetaReadRecord>;
  readonly calls: MetaCall[];
  /** Webhook deliveries made through deliverWebhook (and deliverTemplateStatus). */
  readonly deliveries: DeliverWebhookResult[];
  sends(phoneNumberId?: string): MetaSendRecord[];
  waitFor(predicate: (send: MetaSendRecord) => boolean, timeoutMs?: number): Promise<MetaSendRecord>;
  /**
   * Delivers a webhook; the customer messages in it open (or extend) their 24-hour windows and
   * can be marked read.
   */
  deliverWebhook(options: DeliverWebhookOptions): Promise<DeliverWebhookResult>;
  /** Meta's GET verification handshake against a callback URL. */
  verifyWebhook(options: { url: string; verifyToken: string; challenge?: string }): Promise<{ status: number; body: string; challenge: string }>;
  close(): Promise<void>;
}

const VERSIONED = /^\/(v\d+\.\d+)(\/.*)?$/;
const SEND_PATH = /^\/([^/]+)\/messages$/;
const TEMPLATES_PATH = /^\/([^/]+)\/message_templates$/;
const NODE_PATH = /^\/([^/]+)$/;
const DOWNLOAD_PATH = /^\/media-download\/([^/]+)$/;

export async function startMetaSimulator(options: MetaSimulatorOptions = {}): Promise<MetaSimulator> {
  const numbers = new MetaNumbers();
  const faults = new MetaFaults();
  const conditions = new Conditions();
  const templates = new MetaTemplates(numbers, faults);
  const windows = new CustomerWindows(options.enforceCustomerWindow ?? false);
  const pairRates = new PairRates(options.pairRateLimit);
  const users = new MetaUsers(options.bsuidRecipients ?? true);
  const messages = new MetaMessages(numbers, faults, templates, windows, pairRates, users);
  const readMarks = new MetaReadMarks(numbers, faults);
  const media = new MetaMediaStore(numbers, faults, options.mediaUrlTtlMs ?? 5 * 60 * 1000);
  const calls: MetaCall[] = [];
  const deliveries: DeliverWebhookResult[] = [];
  const version = options.version ?? 'v23.0';
  const sent = messages.sent;

  async function handle(req: SimRequest): Promise<SimResponse> {
    if (req.path.startsWith('/_sim/') && options.controlApi) return control(sim, req);
    const versioned = VERSIONED.exec(req.path);
    const rest = versioned?.[2] ?? '';
    const send = versioned ? SEND_PATH.exec(rest) : null;
    const listing = versioned ? TEMPLATES_PATH.exec(rest) : null;
    const node = versioned && !send ? NODE_PATH.exec(rest) : null;
    const download = DOWNLOAD_PATH.exec(req.path);
    const phoneNumberId = send ? decodeURIComponent(send[1]) : undefined;
    const nodeId = node ? decodeURIComponent(node[1]) : undefined;
    // A node that is a registered number is the number (GET /{phone-number-id}); any other, a media id.
    const numberId = nodeId !== undefined && numbers.has(nodeId) ? nodeId : undefined;
    const mediaId = numberId === undefined ? nodeId : undefined;
    const wabaId = listing ? decodeURIComponent(listing[1]) : undefined;
    const readMark = !!send && req.method === 'POST' && isReadMarkBody(req.body);
    const endpoint: MetaEndpoint = readMark ? 'read' : send ? 'messages' : listing ? 'templates' : numberId ? 'number' : node ? 'media' : download ? 'download' : 'other';

    const latency = conditions.latency(phoneNumberId ?? numberId);
    if (latency > 0) await sleep(latency);
    let res: SimResponse;
    let injected = false;
    if (conditions.isDown(phoneNumberId ?? numberId)) {
      res = metaError(131016, { httpStatus: 503, message: 'Service temporarily unavailable' });
      injected = true;
    } else if (readMark) {
      res = readMarks.handle(req, phoneNumberId as string);
    } else if (send && versioned) {
      res = messages.handleSend(req, versioned[1], phoneNumberId as string);
    } else if (wabaId !== undefined) {
      res = templates.handleList(req, wabaId);
    } else if (numberId !== undefined) {
      res = numbers.handleRead(req, numberId, faults);
    } else if (node && mediaId !== undefined) {
      res = media.handleLookup(req, mediaId);
    } else if (download) {
      res = media.handleDownload(req, download[1]);
    } else {
      res = metaError(2500, { message: `Unknown path components: ${req.path}`, httpStatus: 400 });
    }
    const error = (res.body as { error?: { code?: number } } | undefined)?.error;
    const sendBody = send ? (parseJson(req.body) as { to?: unknown; recipient?: unknown } | undefined) : undefined;
    const sentTo = sendBody?.to;
    const sentRecipient = sendBody?.recipient;
    calls.push({
      endpoint,
      method: req.method,
      path: req.path,
      phoneNumberId: phoneNumberId ?? numberId,
      ...(typeof sentTo === 'string' ? { to: sentTo } : {}),
      ...(typeof sentRecipient === 'string' ? { recipient: sentRecipient } : {}),
      mediaId,
      wabaId,
      status: res.status,
      errorCode: error?.code,
      injected: injected || faults.isInjected(res),
      time: new Date(),
    });
    return res;
  }

  const sim: MetaSimulator = {
    url: '',
    graphUrl: '',
    port: 0,
    addNumber: (n) => numbers.add(n),
    addMedia: (m) => media.add(m),
    addTemplate: (t) => templates.add(t),
    setTemplateStatus: (o) => templates.setStatus(o.wabaId, o.name, o.language, o.status),
    removeTemplate: (o) => templates.remove(o.wabaId, o.name, o.language),
    templates: (wabaId) => templates.list(wabaId),
    async deliverTemplateStatus({ wabaId, name, language, event, reason, ...delivery }) {
      const known = templates.find(wabaId, name, language);
      if (!known) throw new Error(`deliverTemplateStatus: no template ${name} (${language}) in WABA ${wabaId}`);
      if ((META_TEMPLATE_STATUSES as readonly string[]).includes(event)) templates.setStatus(wabaId, name, language, event as MetaTemplateStatus);
      const payload = buildTemplateStatusUpdate({ wabaId, templateId: known.id, name, language, event, reason, category: known.category });
      return sim.deliverWebhook({ ...delivery, payload });
    },
    setCustomerLastMessage: ({ phoneNumberId, waId, at }) => windows.set(phoneNumberId, waId, at instanceof Date ? at.getTime() : at),
    customerLastMessage: (phoneNumberId, waId) => windows.lastMessageAt(phoneNumberId, waId),
    setWindowEnforcement(on) {
      windows.enforce = on;
    },
    setPairRateLimit: (limit) => pairRates.set(limit),
    get pairRateLimit() {
      return pairRates.limit;
    },
    setBsuidRecipients(supported) {
      users.bsuidRecipients = supported;
    },
    failNext: (n, fault) => faults.add(n, fault),
    setOutage: (on, scope) => conditions.setOutage(on, scope?.phoneNumberId),
    setLatency: (ms, scope) => conditions.setLatency(ms, scope?.phoneNumberId),
    clearFaults() {
      faults.clear();
      conditions.clear();
    },
    reset() {
      sim.clearFaults();
      sent.clear();
      calls.length = 0;
      deliveries.length = 0;
      windows.reset();
      readMarks.reset();
      pairRates.reset();
      users.reset();
    },
    sent: sent.items,
    reads: readMarks.reads.items,
    waitForRead: (predicate, timeoutMs) => readMarks.reads.waitFor(predicate, timeoutMs, 'Meta read mark'),
    calls,
    deliveries,
    sends: (phoneNumberId) => sent.items.filter((s) => !phoneNumberId || s.phoneNumberId === phoneNumberId),
    waitFor: (predicate, timeoutMs) => sent.waitFor(predicate, timeoutMs, 'Meta send'),
    async deliverWebhook(o) {
      // The user wrote when Meta sends the message, whatever our endpoint answers.
      windows.recordPayload(o.payload);
      readMarks.recordPayload(o.payload);
      users.learn(o.payload);
      const result = await deliverMetaWebhook({
        ...o,
        retryDelayMs: o.retryDelayMs ?? options.retryDelayMs ?? 1000,
        maxAttempts: o.maxAttempts ?? options.maxAttempts ?? 5,
        timeoutMs: o.timeoutMs ?? options.webhookTimeoutMs ?? 10_000,
      });
      deliveries.push(result);
      return result;
    },
    verifyWebhook,
    close: async () => undefined,
  };

  const server = await startServer(handle, { host: options.host, port: options.port });
  media.baseUrl = server.url;
  templates.baseUrl = server.url;
  Object.assign(sim, { url: server.url, graphUrl: `${server.url}/${version}`, port: server.port, close: server.close });
  return sim;
}
