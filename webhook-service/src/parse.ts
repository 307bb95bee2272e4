import type { z } from 'zod';
import { appError, parseInput } from '@bridge/shared';

/**
 * Parses a webhook's raw bytes (kept raw until now for the signature check) against `schema`:
 * malformed JSON → 400 MALFORMED_JSON, the wrong shape → 400 INVALID_PAYLOAD naming the fields.
 */
export function parseWebhookBody<S extends z.ZodType>(raw: Buffer, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw appError('MALFORMED_JSON');
  }
  return parseInput(schema, json, 'INVALID_PAYLOAD');
}
