import { createCipheriv, randomBytes } from 'node:crypto';

/**
 * A credentials blob exactly as the single-key cipher wrote them before blobs carried a key id
 * (version 1): 1 | IV (12) | tag (16) | ciphertext, AAD `bridge-credentials:v1:<tenant>:<type>`.
 * Databases hold such rows; every later cipher must still read them.
 */
export function legacyCredentialBlob(base64Key: string, tenantId: string, type: string, value: unknown): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(base64Key, 'base64'), iv);
  cipher.setAAD(Buffer.from(`bridge-credentials:v1:${tenantId}:${type}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), ciphertext]);
}
