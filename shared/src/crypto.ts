import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { appError } from './errors';

/** Blobs from before key ids: version (1 byte) | IV (12) | tag (16) | ciphertext, written by the one key of the time. */
const LEGACY_VERSION = 1;
/** version (1 byte) | key id (8) | IV (12) | tag (16) | ciphertext. */
const VERSION = 2;
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const LEGACY_HEADER = 1;
const HEADER = 1 + KEY_ID_BYTES;

/** 32 bytes in base64 (standard or URL-safe alphabet): 43 characters and an optional `=`. */
const ENCRYPTION_KEY_SHAPE = /^[A-Za-z0-9+/_-]{43}=?$/;

/** The 32 bytes of a base64 encryption key, or undefined when it is anything else. */
export function decodeEncryptionKey(base64Key: string): Buffer | undefined {
  return ENCRYPTION_KEY_SHAPE.test(base64Key) ? Buffer.from(base64Key, 'base64') : undefined;
}

/**
 * The id a blob records for the key that wrote it: the first 8 bytes of HMAC-SHA256(key, a fixed
 * label), as 16 hex digits. Derived rather than named, so a key has the same id whether it is
 * CREDENTIALS_ENCRYPTION_KEY or one of CREDENTIALS_ENCRYPTION_KEYS, and no id can be given to
 * the wrong key; it reveals nothing of the key.
 */
export function encryptionKeyId(base64Key: string): string {
  const key = decodeEncryptionKey(base64Key);
  if (!key) throw new Error('An encryption key must be 32 bytes, base64-encoded');
  return keyIdOf(key).toString('hex');
}

function keyIdOf(key: Buffer): Buffer {
  return createHmac('sha256', key).update('bridge-credentials-key-id').digest().subarray(0, KEY_ID_BYTES);
}

/** The key id (16 hex digits) a blob records, or undefined for a blob from before key ids or not a blob at all. */
export function credentialKeyId(blob: Buffer): string | undefined {
  return blob.length >= HEADER + IV_BYTES + TAG_BYTES && blob[0] === VERSION ? blob.subarray(1, HEADER).toString('hex') : undefined;
}

interface RingKey {
  id: Buffer;
  key: Buffer;
}

const unreadable = (message?: string) => appError('CREDENTIALS_UNREADABLE', message);

/**
 * AES-256-GCM for credential blobs, under a keyring: the newest key encrypts, every key decrypts
 * what it wrote, found by the key id the blob records. The additional authenticated data binds
 * a blob to its tenant and credential type (and its header), so a blob copied to another
 * tenant's row (or another type's) fails to decrypt instead of handing one tenant another's
 * secrets.
 *
 * Layout: version 2 (1 byte) | key id (8) | IV (12) | tag (16) | ciphertext. Blobs of version 1
 * (no key id) were written when one key was all there was; each key of the ring is tried on them.
 */
export class CredentialCipher {
  private readonly ring: RingKey[];

  /** `keys`: 32-byte keys, base64, newest first (one key is a keyring of one). Throws on a malformed or repeated key. */
  constructor(keys: string | readonly string[]) {
    const list = typeof keys === 'string' ? [keys] : keys;
    if (!list.length) throw new Error('A keyring needs at least one encryption key');
    this.ring = list.map((k) => {
      const key = decodeEncryptionKey(k);
      if (!key) throw new Error('An encryption key must be 32 bytes, base64-encoded');
      return { id: keyIdOf(key), key };
    });
    if (new Set(this.ring.map((k) => k.id.toString('hex'))).size !== this.ring.length) throw new Error('A keyring must not hold a key twice');
  }

  /** The id new blobs record: the newest key's, 16 hex digits. */
  get keyId(): string {
    return this.ring[0].id.toString('hex');
  }

  /** Every key's id, newest first. */
  get keyIds(): string[] {
    return this.ring.map((k) => k.id.toString('hex'));
  }

  /** Encrypts under the newest key. */
  encrypt(tenantId: string, type: string, value: unknown): Buffer {
    const { id, key } = this.ring[0];
    const header = Buffer.concat([Buffer.from([VERSION]), id]);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(header, tenantId, type));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([header, iv, cipher.getAuthTag(), ciphertext]);
  }

  /**
   * Decrypts with the key the blob names (any key, for a blob from before key ids). Throws a 500
   * CREDENTIALS_UNREADABLE: naming the blob's key id when the ring lacks that key, generic when
   * the blob is malformed, tampered with, or belongs to another tenant or type.
   */
  decrypt<T = unknown>(tenantId: string, type: string, blob: Buffer): T {
    if (blob[0] === LEGACY_VERSION && blob.length >= LEGACY_HEADER + IV_BYTES + TAG_BYTES) {
      for (const { key } of this.ring) {
        const plain = open(key, blob.subarray(0, LEGACY_HEADER), blob.subarray(LEGACY_HEADER), tenantId, type);
        if (plain !== undefined) return plain as T;
      }
      throw unreadable();
    }
    const keyId = credentialKeyId(blob);
    if (!keyId) throw unreadable();
    const entry = this.ring.find((k) => k.id.equals(blob.subarray(1, HEADER)));
    if (!entry) throw unreadable(`Stored credentials cannot be read: they were encrypted with key ${keyId}, which is not in the keyring`);
    const plain = open(entry.key, blob.subarray(0, HEADER), blob.subarray(HEADER), tenantId, type);
    if (plain === undefined) throw unreadable();
    return plain as T;
  }

  /** Whether a blob is already written under the newest key (re-encrypting it would change nothing). */
  isCurrent(blob: Buffer): boolean {
    return credentialKeyId(blob) === this.keyId;
  }
}

/** The header (version, and key id from version 2 on) is authenticated along with the tenant and type. */
function aad(header: Buffer, tenantId: string, type: string): Buffer {
  const version = header[0];
  const context = version === LEGACY_VERSION ? '' : `${header.subarray(1).toString('hex')}:`;
  return Buffer.from(`bridge-credentials:v${version}:${context}${tenantId}:${type}`, 'utf8');
}

/** `body` = IV | tag | ciphertext. The parsed JSON, or undefined when the key does not authenticate it. */
function open(key: Buffer, header: Buffer, body: Buffer, tenantId: string, type: string): unknown {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES));
    decipher.setAAD(aad(header, tenantId, type));
    decipher.setAuthTag(body.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([decipher.update(body.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8'));
  } catch {
    return undefined;
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

/**
 * What finds a tenant by its Meta verify token (the platform-wide handshake, in
 * tenant_credentials.verify_token_hash): SHA-256, hex, as for API keys. A verify token is chosen
 * by a person and may be guessed from its hash by whoever reads the database; it authorises
 * nothing but answering Meta's handshake, which echoes a challenge and stores nothing.
 */
export const hashVerifyToken: (verifyToken: string) => string = hashApiKey;

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
