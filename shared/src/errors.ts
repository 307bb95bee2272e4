import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError, type z } from 'zod';
import { currentContext } from './context';
import { ERROR_CODES, type ErrorCode } from './error-codes';
import { excerpt } from './ids';

/**
 * The longest message an error carries. Messages may quote what a client sent (a field name, a
 * path, an id); whatever that was, the answer and the log line stay short.
 */
const MAX_MESSAGE = 2048;

/**
 * An error a client may see: a code of ERROR_CODES, a message, an HTTP status. Made by
 * `appError` (or `badInput`/`parseInput`), rendered by `errorHandler`; constructed nowhere else,
 * so that a code's status is the table's (a test scans the sources for `new AppError(`).
 */
export class AppError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly status: number,
    /** Extra response headers, e.g. Retry-After. */
    public readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/**
 * The one way to make an error a client may see: the status is `code`'s in ERROR_CODES, the
 * message the table's unless a more specific one is given. Throw it, or pass it to `next`.
 * @param headers extra response headers, e.g. `{ 'Retry-After': '5' }`.
 */
export function appError(code: ErrorCode, message?: string, headers?: Record<string, string>): AppError {
  const { status, message: standard } = ERROR_CODES[code];
  return new AppError(code, message === undefined ? standard : excerpt(message, MAX_MESSAGE), status, headers);
}

/** The codes that say "this input is wrong" (400): the webhooks say INVALID_PAYLOAD, the APIs VALIDATION_ERROR. */
export type BadInputCode = 'VALIDATION_ERROR' | 'INVALID_PAYLOAD';

/** How every bad-input message names what is wrong; both parts may come from the input (a key, a value), so both are cut short. */
const fieldProblem = (field: string, problem: string) => `${excerpt(field, 100)}: ${excerpt(problem, 400)}`;

/** The one way to say "bad input": 400 `code` with the message `field: problem`. */
export function badInput(field: string, problem: string, code: BadInputCode = 'VALIDATION_ERROR'): AppError {
  return appError(code, fieldProblem(field, problem));
}

/** badInput for a zod failure: its first five problems, `field: problem; ...` (`body` when the whole value is wrong). */
function invalidInput(err: ZodError, code: BadInputCode): AppError {
  const problems = err.issues.slice(0, 5).map((i) => fieldProblem(i.path.length ? i.path.join('.') : 'body', i.message));
  return appError(code, problems.join('; '));
}

/**
 * Parses `value` with `schema`, or throws the 400 that names the bad fields (badInput's
 * `field: problem`, up to five of them joined by `; `).
 * @param code VALIDATION_ERROR (the APIs), INVALID_PAYLOAD (the webhooks).
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, code: BadInputCode = 'VALIDATION_ERROR'): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput(result.error, code);
  return result.data;
}

/** Maps errors thrown by body-parser and friends (they carry `type` and `status`) to codes. */
function fromHttpError(err: { type?: string; status?: number; statusCode?: number }): AppError | undefined {
  const status = err.status ?? err.statusCode;
  if (!status || status < 400 || status >= 500) return undefined;
  switch (err.type) {
    case 'entity.too.large':
      return appError('PAYLOAD_TOO_LARGE');
    case 'entity.parse.failed':
      return appError('MALFORMED_JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return appError('UNSUPPORTED_ENCODING');
    case 'request.aborted':
      return appError('REQUEST_ABORTED');
    default:
      // The one status not from the table: any other 4xx of body-parser or the router (a bad
      // %-escape in a path is 400, a failed `verify` 403) keeps the status it came with.
      return new AppError('BAD_REQUEST', ERROR_CODES.BAD_REQUEST.message, status);
  }
}

/** The contract's error JSON: `{ error: { code, message, requestId } }`; the message defaults to the table's. */
export function errorBody(code: ErrorCode, message: string = ERROR_CODES[code].message) {
  return { error: { code, message, requestId: currentContext()?.requestId } };
}

/** 404 for any route nothing else answered. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(appError('ROUTE_NOT_FOUND', `No route for ${req.method} ${excerpt(req.path, 64)}`));
};

/**
 * The one error middleware: renders the contract's error JSON. 5xx are logged with their stack
 * at `error` and answered with a generic message; nothing internal (stack, SQL, secrets) leaves.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let appErr: AppError;
  if (err instanceof AppError) appErr = err;
  else if (err instanceof ZodError) appErr = invalidInput(err, 'VALIDATION_ERROR');
  else appErr = fromHttpError(err ?? {}) ?? appError('INTERNAL_ERROR');

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
