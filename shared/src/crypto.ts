import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { appError } from './errors';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for credential blobs. The additional authenticated data binds a blob to its
 * tenant and credential type, so a blob copied to another tenant's row (or another type's)
 * fails to decrypt instead of handing one tenant another's secrets.
 *
 * Layout: version (1 byte) | IV (12) | tag (16) | ciphertext.
 */
export class CredentialCipher {
  private readonly key: Buffer;

  constructor(base64Key: string) {
    this.key = Buffer.from(base64Key, 'base64');
    if (this.key.length !== 32) throw new Error('CREDENTIALS_ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  }

  private static aad(tenantId: string, type: string): Buffer {
    return Buffer.from(`bridge-credentials:v${VERSION}:${tenantId}:${type}`, 'utf8');
  }

  encrypt(tenantId: string, type: string, value: unknown): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(CredentialCipher.aad(tenantId, type));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ciphertext]);
  }

  decrypt<T = unknown>(tenantId: string, type: string, blob: Buffer): T {
    if (blob.length < 1 + IV_BYTES + TAG_BYTES || blob[0] !== VERSION) {
      throw appError('CREDENTIALS_UNREADABLE');
    }
    const iv = blob.subarray(1, 1 + IV_BYTES);
    const tag = blob.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const ciphertext = blob.subarray(1 + IV_BYTES + TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAAD(CredentialCipher.aad(tenantId, type));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch {
      throw appError('CREDENTIALS_UNREADABLE');
    }
  }
}

/** Generates a 32-byte key in the format CREDENTIALS_ENCRYPTION_KEY expects. */
export function generateEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

export const API_KEY_PREFIX = 'sk_';

/** A new tenant API key: `sk_` + 256 random bits, base64url. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** What is stored and looked up: SHA-256 of the key, hex. API keys are high-entropy, so no salt or KDF is needed. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/** The part of a key shown in listings so a person can tell keys apart. */
export function apiKeyPrefix(apiKey: string): string {
  return apiKey.slice(0, API_KEY_PREFIX.length + 8);
}

/** Constant-time string equality (lengths are compared on digests, so they leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** `****abcd`: enough to recognise a secret, never enough to use it. */
export function maskSecret(value: string): string {
  return value.length <= 8 ? '****' : `****${value.slice(-4)}`;
}
