import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, checked over the exact bytes received (never re-serialised JSON: Meta signs
 * its escaped-unicode serialisation). Meta: `sha256=<hex>`; Genesys: `sha256=<base64>`.
 */
function matches(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export function verifyMetaSignature(raw: Buffer, header: string | undefined, appSecret: string): boolean {
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header?.trim() ?? '');
  if (!match) return false;
  const expected = createHmac('sha256', appSecret).update(raw).digest();
  return matches(expected, Buffer.from(match[1], 'hex'));
}

export function verifyGenesysSignature(raw: Buffer, header: string | undefined, secret: string): boolean {
  const match = /^sha256=([A-Za-z0-9+/]{43}=)$/.exec(header?.trim() ?? '');
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  return matches(expected, Buffer.from(match[1], 'base64'));
}
