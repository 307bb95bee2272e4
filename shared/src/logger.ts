import pino, { type Logger } from 'pino';
import { currentContext } from './context';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear in a log object. Header names are lower-case as
 * Node delivers them; credential fields cover both the admin API's body and decrypted blobs.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-internal-token"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.appSecret',
  '*.accessToken',
  '*.verifyToken',
  '*.clientSecret',
  '*.webhookSecret',
  '*.apiKey',
  '*.password',
  '*.token',
  '*.access_token',
  'credentials',
  '*.credentials',
];

/**
 * An error as pino serialised it, with its message and stack cut short: an error's message may
 * quote its input (a parser's, a driver's), and a log line must not carry that input whole.
 * createLogger's err serializer wraps pino's with it.
 */
export function boundSerializedError<E>(serialized: E): E {
  const e = serialized as { message?: unknown; stack?: unknown } | undefined;
  if (typeof e?.message === 'string' && e.message.length > 1000) e.message = `${e.message.slice(0, 1000)}…`;
  if (typeof e?.stack === 'string' && e.stack.length > 4000) e.stack = `${e.stack.slice(0, 4000)}…`;
  return serialized;
}

export function createLogger(options: { name: string; level?: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: (err: Error) => boundSerializedError(pino.stdSerializers.err(err)) },
      // requestId and tenantId ride along on every line logged inside a request.
      mixin() {
        const ctx = currentContext();
        if (!ctx) return {};
        return ctx.tenantId ? { requestId: ctx.requestId, tenantId: ctx.tenantId } : { requestId: ctx.requestId };
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
