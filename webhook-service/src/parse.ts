import type { z } from 'zod';
import { AppError } from '@bridge/shared';

/**
 * Parses a webhook's raw bytes (kept raw until now for the signature check) against `schema`:
 * malformed JSON → 400 MALFORMED_JSON, the wrong shape → 400 INVALID_PAYLOAD naming the field.
 */
export function parseWebhookBody<S extends z.ZodType>(raw: Buffer, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AppError('MALFORMED_JSON', 'Request body is not valid JSON', 400);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('INVALID_PAYLOAD', `${issue.path.join('.') || 'body'}: ${issue.message}`, 400);
  }
  return parsed.data;
}
