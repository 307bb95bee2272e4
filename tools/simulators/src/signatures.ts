import { createHmac } from 'node:crypto';

/**
 * Serialises like Meta's webhook sender: compact JSON, every non-ASCII UTF-16 code unit escaped as
 * a lowercase `\uXXXX` (so `ä` → `\u00e4`, and an emoji → its surrogate pair `\ud83d\ude00`), and
 * `/` escaped as `\/`. A receiver that re-serialises the parsed JSON therefore gets other bytes
 * than were signed — which is the point of sending them this way.
 */
export function metaSerialize(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('metaSerialize: value is not serialisable');
  // Without the `u` flag the class matches single code units, so surrogate halves are escaped
  // one by one. `/` only ever occurs inside strings in JSON text, so a global replace is safe.
  return json
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/\//g, '\\/');
}

/** Meta's `X-Hub-Signature-256` value: `sha256=<lowercase hex HMAC-SHA256(app secret, body)>`. */
export function signMeta(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Genesys' `X-Hub-Signature-256` value: `sha256=<base64 HMAC-SHA256(secret, body)>` (base64, not hex). */
export function signGenesys(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('base64')}`;
}
