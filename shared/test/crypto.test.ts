import { CredentialCipher, apiKeyPrefix, credentialKeyId, encryptionKeyId, generateApiKey, generateEncryptionKey, hashApiKey, maskSecret, safeEqual } from '../src';
import { legacyCredentialBlob as legacyBlob } from '../../test/support/credentials';

describe('CredentialCipher', () => {
  const cipher = new CredentialCipher(generateEncryptionKey());
  const secret = { accessToken: 'EAAG-secret-token', appSecret: 'app-secret-ä-😀' };

  it('round-trips, with a fresh IV every time and no plaintext in the blob', () => {
    const a = cipher.encrypt('acme', 'meta', secret);
    const b = cipher.encrypt('acme', 'meta', secret);
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(1, 13).equals(b.subarray(1, 13))).toBe(false);
    expect(a.toString('latin1')).not.toContain('EAAG-secret-token');
    expect(cipher.decrypt('acme', 'meta', a)).toEqual(secret);
  });

  it('fails to decrypt a blob moved to another tenant or type', () => {
    const blob = cipher.encrypt('acme', 'meta', secret);
    expect(() => cipher.decrypt('globex', 'meta', blob)).toThrow(/cannot be read/);
    expect(() => cipher.decrypt('acme', 'genesys', blob)).toThrow(/cannot be read/);
  });

  it('fails on a tampered blob or another key', () => {
    const blob = cipher.encrypt('acme', 'meta', secret);
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 1] ^= 1;
    expect(() => cipher.decrypt('acme', 'meta', tampered)).toThrow(/cannot be read/);
    expect(() => new CredentialCipher(generateEncryptionKey()).decrypt('acme', 'meta', blob)).toThrow(/cannot be read/);
    expect(() => cipher.decrypt('acme', 'meta', Buffer.from('short'))).toThrow(/cannot be read/);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new CredentialCipher(Buffer.alloc(31).toString('base64'))).toThrow(/32 bytes/);
  });
});

describe('CredentialCipher keyring', () => {
  const A = generateEncryptionKey();
  const B = generateEncryptionKey();
  const secret = { clientSecret: 'genesys-client-secret-abcd' };

  it('encrypts under the newest key and records its id in the blob', () => {
    const ring = new CredentialCipher([B, A]);
    expect(ring.keyId).toBe(encryptionKeyId(B));
    expect(ring.keyIds).toEqual([encryptionKeyId(B), encryptionKeyId(A)]);
    expect(ring.keyId).toMatch(/^[0-9a-f]{16}$/);
    const blob = ring.encrypt('acme', 'genesys', secret);
    expect(credentialKeyId(blob)).toBe(encryptionKeyId(B));
    expect(ring.isCurrent(blob)).toBe(true);
    // Only B opens it: the old key alone cannot.
    expect(new CredentialCipher(B).decrypt('acme', 'genesys', blob)).toEqual(secret);
    expect(() => new CredentialCipher(A).decrypt('acme', 'genesys', blob)).toThrow(/not in the keyring/);
  });

  it('decrypts what an older key of the ring wrote, and says it is not current', () => {
    const blob = new CredentialCipher(A).encrypt('acme', 'genesys', secret);
    const ring = new CredentialCipher([B, A]);
    expect(ring.decrypt('acme', 'genesys', blob)).toEqual(secret);
    expect(ring.isCurrent(blob)).toBe(false);
    // The AAD still binds it to its tenant and type under a ring.
    expect(() => ring.decrypt('globex', 'genesys', blob)).toThrow(/cannot be read/);
  });

  it('names the key id a blob needs when the ring lacks that key', () => {
    const blob = new CredentialCipher(A).encrypt('acme', 'meta', secret);
    const ring = new CredentialCipher([B]);
    expect(() => ring.decrypt('acme', 'meta', blob)).toThrow(`Stored credentials cannot be read: they were encrypted with key ${encryptionKeyId(A)}, which is not in the keyring`);
    expect(() => ring.decrypt('acme', 'meta', blob)).toThrow(expect.objectContaining({ code: 'CREDENTIALS_UNREADABLE', status: 500 }));
  });

  it('decrypts a blob from before key ids with the key that wrote it, alone or in a ring', () => {
    const blob = legacyBlob(A, 'acme', 'meta', secret);
    expect(credentialKeyId(blob)).toBeUndefined();
    expect(new CredentialCipher(A).decrypt('acme', 'meta', blob)).toEqual(secret);
    expect(new CredentialCipher([B, A]).decrypt('acme', 'meta', blob)).toEqual(secret);
    expect(new CredentialCipher([B, A]).isCurrent(blob)).toBe(false);
    expect(() => new CredentialCipher(B).decrypt('acme', 'meta', blob)).toThrow(/cannot be read/);
    expect(() => new CredentialCipher(A).decrypt('globex', 'meta', blob)).toThrow(/cannot be read/);
  });

  it('fails on a tampered key id instead of trying another key', () => {
    const blob = new CredentialCipher([B, A]).encrypt('acme', 'meta', secret);
    const relabelled = Buffer.from(blob);
    Buffer.from(encryptionKeyId(A), 'hex').copy(relabelled, 1);
    expect(() => new CredentialCipher([B, A]).decrypt('acme', 'meta', relabelled)).toThrow(/cannot be read/);
  });

  it('refuses an empty ring or a key twice', () => {
    expect(() => new CredentialCipher([])).toThrow(/at least one/);
    expect(() => new CredentialCipher([A, B, A])).toThrow(/twice/);
  });
});

describe('API keys', () => {
  it('are sk_ plus 256 random bits and hash to SHA-256 hex', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(generateApiKey()).not.toBe(key);
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(apiKeyPrefix(key)).toBe(key.slice(0, 11));
  });
});

describe('helpers', () => {
  it('compares secrets exactly', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });

  it('masks all but the last four characters', () => {
    expect(maskSecret('supersecretvalue')).toBe('****alue');
    expect(maskSecret('short')).toBe('****');
  });
});
