import jwt from 'jsonwebtoken';
import { AppError, ConfigError, TOKEN_AUDIENCE, TOKEN_ISSUER, TenantTokenKeyring, jwtSecretId, jwtSecrets, loadConfig, secrets, serviceConfigSchema } from '../src';

const OLD = 'old-secret-0123456789abcdef0123456789';
const NEW = 'new-secret-0123456789abcdef0123456789';
const KEY_ID = '3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b';
const claims = { tenantId: 'acme', keyId: KEY_ID };

/** The code of the AppError `fn` throws. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return `${err.status} ${err.code}`;
    throw err;
  }
  return 'no error';
}

describe('tenant tokens', () => {
  it('name their tenant, their API key, issuer and audience, and the secret in the header', () => {
    const { token } = new TenantTokenKeyring([NEW, OLD]).sign(claims, 60);
    const decoded = jwt.decode(token, { complete: true })!;
    expect(decoded.header).toMatchObject({ alg: 'HS256', kid: jwtSecretId(NEW) });
    expect(decoded.payload).toMatchObject({ tenant_id: 'acme', key_id: KEY_ID, iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, jti: expect.any(String) });
    expect(jwtSecretId(NEW)).toMatch(/^[0-9a-f]{16}$/);
    expect(jwtSecretId(NEW)).not.toBe(jwtSecretId(OLD));
  });

  it('are accepted, during a rotation, whether signed with the new secret or the previous one', () => {
    const before = new TenantTokenKeyring([OLD]).sign(claims, 60).token;
    const during = new TenantTokenKeyring([NEW, OLD]);
    expect(during.verify(before)).toEqual(claims);
    expect(during.verify(during.sign(claims, 60).token)).toEqual(claims);
    // Once the previous secret is dropped, its tokens are not.
    expect(codeOf(() => new TenantTokenKeyring([NEW]).verify(before))).toBe('401 INVALID_TOKEN');
  });

  /** A well-made token but for `options` (an option given as undefined is left out). */
  const sign = (payload: object, options: jwt.SignOptions = {}, secret = NEW) => {
    const all: jwt.SignOptions = { algorithm: 'HS256', keyid: jwtSecretId(NEW), expiresIn: 60, issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, ...options };
    return jwt.sign(payload, secret, Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)));
  };
  const good = { tenant_id: 'acme', key_id: KEY_ID };

  it.each([
    ['well made', 'no error', () => sign(good)],
    ['expired', '401 TOKEN_EXPIRED', () => sign({ ...good, exp: Math.floor(Date.now() / 1000) - 60 }, { expiresIn: undefined })],
    ['signed with another secret under a known kid', '401 INVALID_TOKEN', () => sign(good, {}, OLD)],
    ['without a kid', '401 INVALID_TOKEN', () => jwt.sign(good, NEW, { algorithm: 'HS256', expiresIn: 60, issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE })],
    ['of an unknown kid', '401 INVALID_TOKEN', () => sign(good, { keyid: 'ffffffffffffffff' })],
    ['of another issuer', '401 INVALID_TOKEN', () => sign(good, { issuer: 'someone-else' })],
    ['for another audience', '401 INVALID_TOKEN', () => sign(good, { audience: 'another-service' })],
    ['without an audience', '401 INVALID_TOKEN', () => jwt.sign(good, NEW, { algorithm: 'HS256', keyid: jwtSecretId(NEW), expiresIn: 60, issuer: TOKEN_ISSUER })],
    ['HS512', '401 INVALID_TOKEN', () => sign(good, { algorithm: 'HS512' })],
    ['without a tenant', '401 INVALID_TOKEN', () => sign({ key_id: KEY_ID })],
    ['without a key id', '401 INVALID_TOKEN', () => sign({ tenant_id: 'acme' })],
    ['with a key id that is not a UUID', '401 INVALID_TOKEN', () => sign({ ...good, key_id: "x' OR 1=1" })],
    ['without an expiry', '401 INVALID_TOKEN', () => sign(good, { expiresIn: undefined })],
    ['not a JWT', '401 INVALID_TOKEN', () => 'not.a.jwt'],
  ])('%s → %s', (_name, expected, token) => {
    expect(codeOf(() => new TenantTokenKeyring([NEW]).verify(token()))).toBe(expected);
  });

  it('refuses an empty keyring, an empty secret or one listed twice', () => {
    expect(() => new TenantTokenKeyring([])).toThrow();
    expect(() => new TenantTokenKeyring([NEW, ''])).toThrow();
    expect(() => new TenantTokenKeyring([NEW, NEW])).toThrow(/twice/);
  });
});

describe('the JWT keyring in the environment', () => {
  // As the gateway's schema declares them; auth-service declares JWT_SECRET alone.
  const schema = serviceConfigSchema(3000, { ...secrets('JWT_SECRET', 'JWT_PREVIOUS_SECRETS') });
  const base = { DATABASE_URL: 'postgres://bridge_app@localhost/db' };

  it('is JWT_SECRET, then JWT_PREVIOUS_SECRETS newest first', () => {
    expect(jwtSecrets(loadConfig(schema, { ...base, JWT_SECRET: NEW }))).toEqual([NEW]);
    expect(jwtSecrets(loadConfig(schema, { ...base, JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: ` ${OLD} , older-secret ` }))).toEqual([NEW, OLD, 'older-secret']);
    expect(jwtSecrets(loadConfig(schema, base))).toBeUndefined();
  });

  it('is JWT_SECRET alone for a service that does not declare JWT_PREVIOUS_SECRETS (it signs, never verifies)', () => {
    const signer = serviceConfigSchema(3003, { ...secrets('JWT_SECRET') });
    expect(jwtSecrets(loadConfig(signer, { ...base, JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: OLD }))).toEqual([NEW]);
  });

  it.each([
    ['previous secrets without JWT_SECRET', { JWT_PREVIOUS_SECRETS: OLD }, /JWT_PREVIOUS_SECRETS is set without JWT_SECRET/],
    ['an empty previous secret', { JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: `${OLD},,x` }, /JWT_PREVIOUS_SECRETS: secret 2 of 3 is empty/],
    ['JWT_SECRET again among the previous', { JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: NEW }, /secret 1 of 1 repeats JWT_SECRET/],
    ['a previous secret twice', { JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: `${OLD},${OLD}` }, /secret 2 of 2 repeats secret 1/],
  ])('refuses %s at start, naming the problem and no secret', (_name, env, message) => {
    let error: unknown;
    try {
      loadConfig(schema, { ...base, ...env });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(OLD);
    expect((error as Error).message).not.toContain(NEW);
  });
});
