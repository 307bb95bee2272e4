/**
 * Plumbing shared by the simulators: a tiny HTTP server wrapper (plain `node:http`, so that body
 * limits, content types and error bodies are exactly what each simulated service answers, not
 * what a framework's parsers would), recorders with `waitFor`, fault rules, and an HTTP sender
 * with retries for the webhooks the simulators deliver.
 */
import http from 'node:http';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A request as the simulators see it: body fully read (up to a limit). */
export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** True when the body went over the server's limit; `body` is then truncated to nothing. */
  tooLarge: boolean;
  /** Bytes actually received. */
  size: number;
}

export interface SimResponse {
  status: number;
  body?: unknown;
  /** Sent as is (no JSON encoding) when set; `body` is ignored. */
  raw?: Buffer | string;
  headers?: Record<string, string>;
  /** Runs once the answer has been written (what a service does after answering, e.g. a webhook). */
  after?: () => void;
}

export type SimHandler = (req: SimRequest) => Promise<SimResponse>;

export interface RunningServer {
  server: http.Server;
  port: number;
  /** `http://host:port`, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

/**
 * Reads the whole body but keeps at most `limit` bytes: a body over the limit is drained (so the
 * client gets a clean answer instead of a reset) and flagged `tooLarge`.
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
      } else if (!tooLarge) {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge, size }));
    req.on('error', reject);
  });
}

/** Starts a server on `host:port` (port 0 = any free port) that hands every request to `handler`. */
export async function startServer(
  handler: SimHandler,
  options: { host?: string; port?: number; bodyLimit?: number },
): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const bodyLimit = options.bodyLimit ?? 10 * 1024 * 1024;
  const server = http.createServer((req, res) => {
    void (async () => {
      let answer: SimResponse;
      try {
        const url = new URL(req.url ?? '/', 'http://sim.local');
        const { body, tooLarge, size } = await readBody(req, bodyLimit);
        answer = await handler({
          method: (req.method ?? 'GET').toUpperCase(),
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
          tooLarge,
          size,
        });
      } catch (err) {
        answer = { status: 500, body: { message: `simulator error: ${(err as Error).message}`, status: 500 } };
      }
      if (res.destroyed) return;
      const payload =
        answer.raw !== undefined ? answer.raw : answer.body === undefined ? '' : JSON.stringify(answer.body);
      const headers: Record<string, string | number> = { ...answer.headers };
      if (answer.raw === undefined && answer.body !== undefined && !hasHeader(headers, 'content-type')) {
        headers['Content-Type'] = 'application/json; charset=utf-8';
      }
      headers['Content-Length'] = Buffer.byteLength(payload);
      res.writeHead(answer.status, headers);
      const after = answer.after;
      res.end(payload, after ? () => after() : undefined);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets (fetch pools them) would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

function hasHeader(headers: Record<string, unknown>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

/** First value of a header, or undefined. */
export function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(headers: http.IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header(headers, 'authorization') ?? '');
  return match?.[1];
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(headers: http.IncomingHttpHeaders): string {
  return (header(headers, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
}

/** Request headers as recorded: credentials and signatures redacted. */
export function redactHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[name] = name === 'authorization' ? text.replace(/^(\w+)\s+.*$/, '$1 [REDACTED]') : text;
  }
  return out;
}

/**
 * An append-only list of recorded items that can be awaited: `waitFor` resolves with the first
 * item (already recorded or recorded later) that matches.
 */
export class Recorder<T> {
  readonly items: T[] = [];
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  push(item: T): void {
    this.items.push(item);
    this.emitter.emit('item', item);
  }

  clear(): void {
    this.items.length = 0;
  }

  waitFor(predicate: (item: T) => boolean, timeoutMs = 5000, what = 'item'): Promise<T> {
    const found = this.items.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const onItem = (item: T): void => {
        if (!predicate(item)) return;
        clearTimeout(timer);
        this.emitter.off('item', onItem);
        resolve(item);
      };
      const timer = setTimeout(() => {
        this.emitter.off('item', onItem);
        reject(new Error(`waitFor: no matching ${what} within ${timeoutMs} ms (${this.items.length} recorded)`));
      }, timeoutMs);
      this.emitter.on('item', onItem);
    });
  }
}

/** Fault rules consumed in the order they were added; each answers `remaining` matching requests. */
export class FaultQueue<Ctx, Fault> {
  private rules: Array<{ remaining: number; matches: (ctx: Ctx) => boolean; fault: Fault }> = [];

  add(count: number, matches: (ctx: Ctx) => boolean, fault: Fault): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('failNext: n must be a positive integer');
    this.rules.push({ remaining: count, matches, fault });
  }

  /** The fault for this request, if a rule matches; uses one of that rule's answers. */
  take(ctx: Ctx): Fault | undefined {
    const rule = this.rules.find((r) => r.matches(ctx));
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining === 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule.fault;
  }

  /** Answers not yet used, over all rules. */
  pending(): number {
    return this.rules.reduce((sum, r) => sum + r.remaining, 0);
  }

  clear(): void {
    this.rules = [];
  }
}

/** Outage and latency switches, global or scoped to one key (an integration id, a phone number id). */
export class Conditions {
  private outageAll = false;
  private readonly outageKeys = new Set<string>();
  private latencyAll = 0;
  private readonly latencyKeys = new Map<string, number>();

  setOutage(on: boolean, key?: string): void {
    if (key === undefined) this.outageAll = on;
    else if (on) this.outageKeys.add(key);
    else this.outageKeys.delete(key);
  }

  setLatency(ms: number, key?: string): void {
    if (!(ms >= 0)) throw new RangeError('setLatency: ms must be >= 0');
    if (key === undefined) this.latencyAll = ms;
    else if (ms > 0) this.latencyKeys.set(key, ms);
    else this.latencyKeys.delete(key);
  }

  isDown(key?: string): boolean {
    return this.outageAll || (key !== undefined && this.outageKeys.has(key));
  }

  latency(key?: string): number {
    return Math.max(this.latencyAll, key !== undefined ? (this.latencyKeys.get(key) ?? 0) : 0);
  }

  clear(): void {
    this.outageAll = false;
    this.outageKeys.clear();
    this.latencyAll = 0;
    this.latencyKeys.clear();
  }
}

/** One HTTP attempt of a webhook delivery. */
export interface DeliveryAttempt {
  /** 1 for the first delivery, 2 for the deliberate duplicate. */
  delivery: number;
  /** 1-based attempt number within that delivery. */
  attempt: number;
  /** HTTP status, or null when there was no answer (timeout, connection refused). */
  status: number | null;
  /** `timeout` or the network error code when `status` is null. */
  error?: string;
  responseBody?: string;
  durationMs: number;
}

/** POSTs exactly `body` once; never throws (network errors and timeouts are reported). */
export async function postOnce(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ status: number | null; error?: string; responseBody?: string; durationMs: number }> {
  const started = Date.now();
  try {
    const res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
    const responseBody = await res.text();
    return { status: res.status, responseBody, durationMs: Date.now() - started };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const error = e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timeout' : (e.cause?.code ?? e.message);
    return { status: null, error, durationMs: Date.now() - started };
  }
}

/**
 * POSTs `body` until an attempt succeeds or `maxAttempts` is reached, waiting `delayFor(n)` ms
 * after failed attempt n.
 */
export async function postWithRetries(options: {
  url: string;
  body: Buffer;
  headers: Record<string, string>;
  timeoutMs: number;
  maxAttempts: number;
  delivery: number;
  succeeded: (status: number) => boolean;
  retryable: (status: number | null) => boolean;
  delayFor: (failedAttempt: number) => number;
}): Promise<{ attempts: DeliveryAttempt[]; delivered: boolean }> {
  const attempts: DeliveryAttempt[] = [];
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    const result = await postOnce(options.url, options.body, options.headers, options.timeoutMs);
    attempts.push({ delivery: options.delivery, attempt, ...result });
    if (result.status !== null && options.succeeded(result.status)) return { attempts, delivered: true };
    if (!options.retryable(result.status) || attempt === options.maxAttempts) break;
    await sleep(options.delayFor(attempt));
  }
  return { attempts, delivered: false };
}

/** Parses a JSON body; undefined when it is not valid JSON. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every change of a Meta webhook payload (an object, or its JSON text or bytes): each
 * `entry[].changes[]` item's `field` and `value`, where the value is an object. Anything else in
 * the payload, and a payload that is not JSON, yields nothing.
 */
export function* webhookChanges(payload: unknown): Generator<{ field: unknown; value: Record<string, unknown> }> {
  const parsed = Buffer.isBuffer(payload) ? parseJson(payload) : typeof payload === 'string' ? parseJson(Buffer.from(payload)) : payload;
  for (const entry of isObject(parsed) && Array.isArray(parsed.entry) ? parsed.entry : []) {
    for (const change of isObject(entry) && Array.isArray(entry.changes) ? entry.changes : []) {
      if (isObject(change) && isObject(change.value)) yield { field: change.field, value: change.value };
    }
  }
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** A full ISO-8601 date-time with a zone (what Genesys' `time` fields take). */
export function isIsoDateTime(value: unknown): value is string {
  return typeof value === 'string' && ISO_8601.test(value) && !Number.isNaN(Date.parse(value));
}

export function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
