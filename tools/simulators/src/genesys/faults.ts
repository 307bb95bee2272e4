/**
 * How the Genesys simulator answers when something is wrong: the Platform API's and the login
 * service's error bodies, and the faults a test injects with `failNext`.
 */
import { randomUUID } from 'node:crypto';
import { FaultQueue, type SimResponse } from '../common';
import type { GenesysEndpoint } from './open-messaging-schema';

/** The API endpoints a fault can target: the three inbound ones and agentless messages. */
export type GenesysApiEndpoint = GenesysEndpoint | 'agentless';

export interface GenesysFaultOptions {
  /** HTTP status to answer, e.g. 429, 500, 503. */
  status: number;
  /** Sets `Retry-After`; a 429 without it gets `Retry-After: 1`. */
  retryAfterSeconds?: number;
  /** Replaces the default Genesys-shaped error body. */
  body?: unknown;
  /** Only requests for this integration. */
  integrationId?: string;
  /** Only this endpoint; default: any API endpoint (never the token endpoint). */
  endpoint?: GenesysApiEndpoint | 'token';
  /** With `endpoint: 'token'`: only token requests of this client. */
  clientId?: string;
}

/** What a request is, as far as `failNext` rules can tell. */
export interface FaultContext {
  endpoint: GenesysApiEndpoint | 'token';
  integrationId?: string;
  clientId?: string;
}

/** The pending `failNext` rules of one simulator. */
export type GenesysFaults = FaultQueue<FaultContext, GenesysFaultOptions>;

/** A handler's answer: the response, the OAuth client it is charged to, and whether a fault made it. */
export interface Outcome {
  res: SimResponse;
  clientId?: string;
  injected: boolean;
}

const ERROR_CODES: Record<number, string> = {
  400: 'bad.request',
  401: 'bad.credentials',
  403: 'not.authorized',
  404: 'not.found',
  405: 'method.not.allowed',
  408: 'request.timeout',
  409: 'conflict',
  413: 'request.entity.too.large',
  415: 'unsupported.media.type',
  429: 'too.many.requests.retry.after',
  500: 'internal.server.error',
  502: 'bad.gateway',
  503: 'service.unavailable',
  504: 'gateway.timeout',
};

/** A Genesys Platform API error answer. */
export function apiError(status: number, message: string, code = ERROR_CODES[status] ?? 'error'): SimResponse {
  return {
    status,
    body: { message, code, status, contextId: randomUUID(), details: [], errors: [] },
    headers: { 'inin-correlation-id': randomUUID() },
  };
}

/** A Genesys login service (OAuth) error answer. */
export function oauthError(status: number, error: string, description: string): SimResponse {
  return { status, body: { error, description, error_description: description } };
}

/** The answer an injected fault gives: Genesys-shaped, with `Retry-After` on 429s. */
export function faultResponse(fault: GenesysFaultOptions): SimResponse {
  const headers: Record<string, string> = { 'inin-correlation-id': randomUUID() };
  const retryAfter = fault.retryAfterSeconds ?? (fault.status === 429 ? 1 : undefined);
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  if (fault.body !== undefined) return { status: fault.status, body: fault.body, headers };
  if (fault.status === 429) {
    return {
      status: 429,
      headers,
      body: {
        message: `Rate limit exceeded the maximum. Retry the request in [${retryAfter}] seconds`,
        code: 'too.many.requests.retry.after',
        status: 429,
      },
    };
  }
  const base = apiError(fault.status, `Simulated failure (HTTP ${fault.status})`);
  return { ...base, headers };
}

/**
 * Which requests a `failNext` rule applies to: token rules only to token requests (of their
 * client, when given); the others to the API endpoints, narrowed by endpoint and integration.
 */
export function faultMatcher(fault: GenesysFaultOptions): (ctx: FaultContext) => boolean {
  return (ctx) => {
    if (fault.endpoint === 'token' || ctx.endpoint === 'token') {
      return fault.endpoint === ctx.endpoint && (fault.clientId === undefined || fault.clientId === ctx.clientId);
    }
    return (
      (fault.endpoint === undefined || fault.endpoint === ctx.endpoint) &&
      (fault.integrationId === undefined || fault.integrationId === ctx.integrationId)
    );
  };
}

export const newGenesysFaults = (): GenesysFaults => new FaultQueue<FaultContext, GenesysFaultOptions>();
