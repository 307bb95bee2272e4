/**
 * A strict local stand-in for Genesys Cloud: the login service (`POST /oauth/token`, client
 * credentials), the Open Messaging inbound API (`/api/v2/conversations/messages/{integrationId}/
 * inbound/open/message|receipt|event`) and agentless messages (`/api/v2/conversations/messages/
 * agentless`, `agentless.ts`) on one HTTP server, plus the other direction — agent replies, typing
 * events and agentless messages POSTed to our outbound webhook, signed and retried the way
 * Genesys does.
 *
 * Choices where the reference is silent:
 * - A valid token used on another org's integration (or an unknown integration) gets 404
 *   `not.found`: integrations are org-scoped, so from the caller's org the id does not exist.
 * - An unscoped outage answers 503 on every route, login included; an outage scoped to an
 *   integration answers 503 on that integration's API routes only.
 * - `failNext` faults apply after authentication (a rate limit is per token); outage and latency
 *   apply before it.
 * - Inbound messages are not deduplicated on `channel.messageId`: each accepted POST gets a new
 *   Genesys id and is recorded, so tests can see duplicates the bridge let through.
 * - `channel.metadata.customAttributes` and top-level `metadata` must map strings to strings (the
 *   SDK types them `{ [key: string]: string }`); anything nested is a 400.
 * - Only `contentType: "Attachment"` content is accepted inbound.
 * - Agentless messages: the choices are listed in agentless.ts.
 */
import { Conditions, isHttpUrl, isNonEmptyString, sleep, startServer, type SimRequest, type SimResponse } from '../common';
import { AGENTLESS_PATH, AgentlessApi, fromAddressOf, type GenesysAgentlessRecord } from './agentless';
import { control } from './control';
import { apiError, faultMatcher, newGenesysFaults, type GenesysFaultOptions, type Outcome } from './faults';
import { GenesysLogin, type GenesysOrgOptions } from './oauth';
import {
  API_PATH,
  OpenMessagingApi,
  type AttachmentFetch,
  type GenesysEventRecord,
  type GenesysMessageRecord,
  type GenesysReceiptRecord,
  type GenesysRecord,
} from './open-messaging';
import { GENESYS_MAX_BODY_BYTES, type GenesysEndpoint } from './open-messaging-schema';
import {
  OutboundWebhook,
  type AgentReplyOptions,
  type AgentTypingOptions,
  type OutboundDeliveryResult,
  type OutboundRecord,
  type OutboundWebhookTarget,
  type RawOutboundOptions,
} from './outbound-webhook';

export * from './open-messaging-schema';
export {
  AGENTLESS_TEXT_MAX,
  validateAgentlessBody,
  type GenesysAgentlessRecord,
  type GenesysAgentlessRequest,
  type GenesysAgentlessResponse,
} from './agentless';
export type { GenesysFaultOptions } from './faults';
export type { GenesysOrgOptions } from './oauth';
export type { AttachmentFetch, GenesysEventRecord, GenesysMessageRecord, GenesysReceiptRecord, GenesysRecord } from './open-messaging';
export type {
  AgentReplyOptions,
  AgentTypingOptions,
  GenesysOutboundMessage,
  OutboundCommonOptions,
  OutboundDeliveryResult,
  OutboundRecord,
  OutboundWebhookTarget,
  RawOutboundOptions,
} from './outbound-webhook';

/** Every request the server answered (accepted or not), for counting attempts and retries. */
export interface GenesysCall {
  endpoint: 'token' | GenesysEndpoint | 'agentless' | 'other';
  method: string;
  path: string;
  integrationId?: string;
  clientId?: string;
  status: number;
  /** True when the answer came from failNext or an outage. */
  injected: boolean;
  time: Date;
}

export interface GenesysSimulatorOptions {
  port?: number;
  host?: string;
  /** Delay between outbound webhook retries; default 5000 (Genesys' 5 s). */
  retryDelayMs?: number;
  /** Outbound webhook timeout; default 10000 (Genesys' 10 s). */
  webhookTimeoutMs?: number;
  /** Serve the `/_sim/*` control API (used by the CLI for demos); default false. */
  controlApi?: boolean;
  /**
   * After accepting a message, GET each attachment URL the way Genesys does, recording the
   * outcome in `attachmentFetches`; default false.
   */
  fetchAttachments?: boolean;
}

export interface GenesysSimulator {
  /** Base URL for both GENESYS_LOGIN_URL and GENESYS_API_URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  addOrg(org: GenesysOrgOptions): void;
  /** Token requests made with this client id (any outcome); all clients when omitted. */
  tokenRequests(clientId?: string): number;
  /** Tokens issued to this client (or to all). */
  tokensIssued(clientId?: string): number;
  /** Invalidates the tokens issued so far (to this client, or all): the API answers 401. */
  revokeTokens(clientId?: string): void;
  /** The next n matching requests get this error instead of being processed. */
  failNext(n: number, fault: GenesysFaultOptions): void;
  /** 503 on every call (or on one integration's API calls). */
  setOutage(on: boolean, scope?: { integrationId?: string }): void;
  /** Delays every answer (or one integration's) by ms. */
  setLatency(ms: number, scope?: { integrationId?: string }): void;
  /** Removes pending failNext rules, outages and latency. */
  clearFaults(): void;
  /** clearFaults() and forgets everything recorded (orgs and tokens stay). */
  reset(): void;
  /** Accepted inbound messages, receipts and events, in arrival order. */
  readonly received: GenesysRecord[];
  /** Every answered request. */
  readonly calls: GenesysCall[];
  /** Agent replies, typing events, agentless messages and raw bodies sent to webhooks. */
  readonly outbound: OutboundRecord[];
  /** Resolves with the first webhook send (past or future) matching; rejects after timeoutMs (default 5000). */
  waitForOutbound(predicate: (record: OutboundRecord) => boolean, timeoutMs?: number): Promise<OutboundRecord>;
  /** Configures an integration's outbound webhook, where its agentless messages are delivered; throws for an unknown integration. */
  setOutboundWebhook(target: OutboundWebhookTarget): void;
  /** Accepted agentless messages (of one integration, or all), in arrival order. */
  agentlessMessages(integrationId?: string): GenesysAgentlessRecord[];
  /** Resolves with the first accepted agentless message (past or future) matching. */
  waitForAgentless(predicate: (record: GenesysAgentlessRecord) => boolean, timeoutMs?: number): Promise<GenesysAgentlessRecord>;
  readonly attachmentFetches: AttachmentFetch[];
  messages(integrationId?: string): GenesysMessageRecord[];
  receipts(integrationId?: string): GenesysReceiptRecord[];
  events(integrationId?: string): GenesysEventRecord[];
  /** Resolves with the first recorded item (past or future) matching; rejects after timeoutMs (default 5000). */
  waitFor(predicate: (record: GenesysRecord) => boolean, timeoutMs?: number): Promise<GenesysRecord>;
  waitForAttachmentFetch(predicate: (fetch: AttachmentFetch) => boolean, timeoutMs?: number): Promise<AttachmentFetch>;
  /** The conversation id the simulator assigns to (integration, WhatsApp user). */
  conversationIdFor(integrationId: string, fromId: string): string;
  agentReply(options: AgentReplyOptions): Promise<OutboundDeliveryResult>;
  agentTyping(options: AgentTypingOptions): Promise<OutboundDeliveryResult>;
  /** One POST of arbitrary bytes, no retries. */
  sendRawOutbound(options: RawOutboundOptions): Promise<{ status: number | null; error?: string; responseBody?: string }>;
  close(): Promise<void>;
}

export async function startGenesysSimulator(options: GenesysSimulatorOptions = {}): Promise<GenesysSimulator> {
  const faults = newGenesysFaults();
  const conditions = new Conditions();
  const calls: GenesysCall[] = [];
  const timeoutMs = options.webhookTimeoutMs ?? 10_000;
  const login = new GenesysLogin(faults);
  const api = new OpenMessagingApi(login, faults, { fetchAttachments: options.fetchAttachments ?? false, timeoutMs });
  const webhook = new OutboundWebhook({ retryDelayMs: options.retryDelayMs ?? 5000, timeoutMs });
  const agentless = new AgentlessApi(login, faults, api, webhook);
  const received = api.received;

  async function handle(req: SimRequest): Promise<SimResponse> {
    if (req.path.startsWith('/_sim/') && options.controlApi) return control(sim, req);
    const path = API_PATH.exec(req.path);
    const isAgentless = req.path === AGENTLESS_PATH;
    // An agentless call names its integration in the body; it scopes outages and latency too.
    const integrationId = path ? decodeURIComponent(path[1]) : isAgentless ? fromAddressOf(req) : undefined;
    let endpoint: GenesysCall['endpoint'] = 'other';
    if (path) endpoint = path[2] as GenesysEndpoint;
    else if (isAgentless) endpoint = 'agentless';
    else if (req.path === '/oauth/token') endpoint = 'token';
    const latency = conditions.latency(integrationId);
    if (latency > 0) await sleep(latency);

    let outcome: Outcome;
    if (conditions.isDown(integrationId) && endpoint !== 'other') {
      outcome = { res: apiError(503, 'The service is currently unavailable (simulated outage).'), injected: true };
    } else if (endpoint === 'token') {
      outcome = login.handleToken(req);
    } else if (path && integrationId !== undefined) {
      outcome = api.handle(req, integrationId, path[2] as GenesysEndpoint);
    } else if (isAgentless) {
      outcome = agentless.handle(req);
    } else {
      outcome = { res: apiError(404, `No resource at ${req.method} ${req.path}`), injected: false };
    }
    calls.push({
      endpoint,
      method: req.method,
      path: req.path,
      integrationId,
      clientId: outcome.clientId,
      status: outcome.res.status,
      injected: outcome.injected,
      time: new Date(),
    });
    return outcome.res;
  }

  const sim: GenesysSimulator = {
    url: '',
    port: 0,
    addOrg: (org) => login.addOrg(org),
    tokenRequests: (clientId) => login.tokenRequests(clientId),
    tokensIssued: (clientId) => login.tokensIssued(clientId),
    revokeTokens: (clientId) => login.revokeTokens(clientId),
    failNext: (n, fault) => faults.add(n, faultMatcher(fault), fault),
    setOutage: (on, scope) => conditions.setOutage(on, scope?.integrationId),
    setLatency: (ms, scope) => conditions.setLatency(ms, scope?.integrationId),
    clearFaults() {
      faults.clear();
      conditions.clear();
    },
    reset() {
      sim.clearFaults();
      received.clear();
      calls.length = 0;
      webhook.outbound.clear();
      agentless.received.clear();
      api.attachmentFetches.clear();
      login.resetCounts();
    },
    received: received.items,
    calls,
    outbound: webhook.outbound.items,
    waitForOutbound: (predicate, timeoutMs) => webhook.outbound.waitFor(predicate, timeoutMs, 'outbound webhook send'),
    setOutboundWebhook(target) {
      if (!login.hasIntegration(target.integrationId)) throw new Error(`setOutboundWebhook: unknown integration ${target.integrationId}`);
      if (!isHttpUrl(target.webhookUrl) || !isNonEmptyString(target.secret)) {
        throw new TypeError('setOutboundWebhook: webhookUrl (http or https) and secret are required');
      }
      webhook.setTarget(target);
    },
    agentlessMessages: (integrationId) => agentless.received.items.filter((r) => !integrationId || r.integrationId === integrationId),
    waitForAgentless: (predicate, timeoutMs) => agentless.received.waitFor(predicate, timeoutMs, 'agentless message'),
    attachmentFetches: api.attachmentFetches.items,
    messages: (integrationId) =>
      received.items.filter((r): r is GenesysMessageRecord => r.kind === 'message' && (!integrationId || r.integrationId === integrationId)),
    receipts: (integrationId) =>
      received.items.filter((r): r is GenesysReceiptRecord => r.kind === 'receipt' && (!integrationId || r.integrationId === integrationId)),
    events: (integrationId) =>
      received.items.filter((r): r is GenesysEventRecord => r.kind === 'event' && (!integrationId || r.integrationId === integrationId)),
    waitFor: (predicate, timeoutMs) => received.waitFor(predicate, timeoutMs, 'Genesys inbound call'),
    waitForAttachmentFetch: (predicate, timeoutMs) => api.attachmentFetches.waitFor(predicate, timeoutMs, 'attachment fetch'),
    conversationIdFor: (integrationId, fromId) => api.conversationIdFor(integrationId, fromId),
    agentReply: (o) => webhook.agentReply(o),
    agentTyping: (o) => webhook.agentTyping(o),
    sendRawOutbound: (o) => webhook.sendRaw(o),
    close: async () => undefined,
  };

  const server = await startServer(handle, { host: options.host, port: options.port, bodyLimit: GENESYS_MAX_BODY_BYTES });
  Object.assign(sim, { url: server.url, port: server.port, close: server.close });
  return sim;
}
