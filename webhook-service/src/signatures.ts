import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, checked over the exact bytes received (never re-serialised JSON: Meta signs
 * its escaped-unicode serialisation). Meta: `sha256=<hex>`; Genesys: `sha256=<base64>`.
 *
 * Without a secret (the tenant does not exist, or has no credentials) the same HMAC is computed
 * with a throwaway key and the answer is false: the body's HMAC, the costly part for a large one,
 * is paid alike for an unknown tenant and for a known tenant's wrong signature.
 */
const THROWAWAY_KEY = randomBytes(32);

function matches(raw: Buffer, secret: string | undefined, given: Buffer): boolean {
  const expected = createHmac('sha256', secret ?? THROWAWAY_KEY).update(raw).digest();
  return secret !== undefined && expected.length === given.length && timingSafeEqual(expected, given);
}

export function verifyMetaSignature(raw: Buffer, header: string | undefined, appSecret: string | undefined): boolean {
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header?.trim() ?? '');
  return matches(raw, appSecret, match ? Buffer.from(match[1], 'hex') : Buffer.alloc(0));
}

export function verifyGenesysSignature(raw: Buffer, header: string | undefined, secret: string | undefined): boolean {
  const match = /^sha256=([A-Za-z0-9+/]{43}=)$/.exec(header?.trim() ?? '');
  return matches(raw, secret, match ? Buffer.from(match[1], 'base64') : Buffer.alloc(0));
}
