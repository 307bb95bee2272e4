import { CredentialCipher, apiKeyPrefix, generateApiKey, generateEncryptionKey, hashApiKey, maskSecret, safeEqual } from '../src';

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
