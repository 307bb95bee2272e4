import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError, type z } from 'zod';
import { currentContext } from './context';

/** An error a client may see: a stable SCREAMING_SNAKE_CASE code, a message, an HTTP status. */
export class AppError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly status: number,
    /** Extra response headers, e.g. Retry-After. */
    public readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, code = 'NOT_FOUND') => new AppError(code, `${what} not found`, 404);

/** Describes the first problems of a zod failure as `field: message`, naming the field. */
export function describeZodError(err: ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.length ? i.path.join('.') : 'body';
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

export function validationError(err: ZodError): AppError {
  return new AppError('VALIDATION_ERROR', describeZodError(err), 400);
}

/** Parses `value` with `schema`, or throws the 400 that names the bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error);
  return result.data;
}

/** Maps errors thrown by body-parser and friends (they carry `type` and `status`) to codes. */
function fromHttpError(err: { type?: string; status?: number; statusCode?: number }): AppError | undefined {
  const status = err.status ?? err.statusCode;
  if (!status || status < 400 || status >= 500) return undefined;
  switch (err.type) {
    case 'entity.too.large':
      return new AppError('PAYLOAD_TOO_LARGE', 'Request body too large', 413);
    case 'entity.parse.failed':
      return new AppError('MALFORMED_JSON', 'Request body is not valid JSON', 400);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('UNSUPPORTED_ENCODING', 'Unsupported content encoding or charset', 415);
    case 'request.aborted':
      return new AppError('REQUEST_ABORTED', 'Request aborted', 400);
    default:
      return new AppError('BAD_REQUEST', 'Bad request', status);
  }
}

export function errorBody(code: string, message: string) {
  return { error: { code, message, requestId: currentContext()?.requestId } };
}

/** 404 for any route nothing else answered. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('ROUTE_NOT_FOUND', `No route for ${req.method} ${req.path}`, 404));
};

/**
 * The one error middleware: renders the contract's error JSON. 5xx are logged with their stack
 * at `error` and answered with a generic message; nothing internal (stack, SQL, secrets) leaves.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let appErr: AppError;
  if (err instanceof AppError) appErr = err;
  else if (err instanceof ZodError) appErr = validationError(err);
  else appErr = fromHttpError(err ?? {}) ?? new AppError('INTERNAL_ERROR', 'Internal server error', 500);

  const log = (req as { log?: { error: Function; info: Function } }).log;
  if (appErr.status >= 500) log?.error({ err }, 'request failed');
  else log?.info({ code: appErr.code, status: appErr.status }, appErr.message);

  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (appErr.headers) res.set(appErr.headers);
  res.status(appErr.status).json(errorBody(appErr.code, appErr.message));
};
