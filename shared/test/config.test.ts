import {
  ConfigError,
  callerTokens,
  credentialKeys,
  internalTokens,
  loadConfig,
  mediaSigningSecret,
  requiredInProduction,
  secrets as declare,
  secretsDerivedFrom,
  serviceConfigSchema,
  generateEncryptionKey,
  requireCredentialKeys,
} from '../src';

/** A service that holds the admin key, the JWT secret, the keyring and the gateway's token. */
const schema = serviceConfigSchema(3007, {
  ...declare('ADMIN_API_KEY', 'JWT_SECRET', 'CREDENTIALS_ENCRYPTION_KEY', 'CREDENTIALS_ENCRYPTION_KEYS', 'GATEWAY_INTERNAL_TOKEN'),
});
const base = { DATABASE_URL: 'postgres://bridge_app@localhost/db' };
const secrets = {
  ADMIN_API_KEY: 'a'.repeat(32),
  JWT_SECRET: 'j'.repeat(32),
  CREDENTIALS_ENCRYPTION_KEY: generateEncryptionKey(),
  GATEWAY_INTERNAL_TOKEN: 'g'.repeat(32),
};

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig(schema, base);
    expect(config).toMatchObject({ PORT: 3007, LOG_LEVEL: 'info', META_GRAPH_URL: 'https://graph.facebook.com/v23.0', GENESYS_API_URL: 'https://api.{region}' });
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('names the variable that is missing or malformed', () => {
    expect(() => loadConfig(schema, {})).toThrow(/DATABASE_URL/);
    expect(() => loadConfig(schema, { ...base, PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig(schema, { ...base, LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig(schema, { ...base, META_GRAPH_URL: 'not a url' })).toThrow(/META_GRAPH_URL/);
  });

  it.each(['ADMIN_API_KEY', 'JWT_SECRET', 'CREDENTIALS_ENCRYPTION_KEY', 'GATEWAY_INTERNAL_TOKEN'])('refuses production without %s, naming it', (name) => {
    const env = { ...base, ...secrets, NODE_ENV: 'production', [name]: undefined };
    expect(() => loadConfig(schema, env)).toThrow(ConfigError);
    expect(() => loadConfig(schema, env)).toThrow(new RegExp(name));
  });

  it('starts in production with every secret', () => {
    expect(loadConfig(schema, { ...base, ...secrets, NODE_ENV: 'production' }).NODE_ENV).toBe('production');
  });

  it('requires in production exactly the secrets the schema declares, and keeps no other', () => {
    const jwtOnly = serviceConfigSchema(3000, declare('JWT_SECRET'));
    expect(requiredInProduction(jwtOnly)).toEqual(['JWT_SECRET']);
    expect(requiredInProduction(schema)).toEqual(['ADMIN_API_KEY', 'JWT_SECRET', 'CREDENTIALS_ENCRYPTION_KEY', 'GATEWAY_INTERNAL_TOKEN']);
    expect(requiredInProduction(serviceConfigSchema(3002, {}))).toEqual([]);
    const config = loadConfig(jwtOnly, { ...base, NODE_ENV: 'production', JWT_SECRET: 'j'.repeat(32), ADMIN_API_KEY: 'a'.repeat(32), MEDIA_SIGNING_SECRET: 'm'.repeat(32) });
    expect(config.JWT_SECRET).toBe('j'.repeat(32));
    // What the environment has beyond the schema never reaches the service.
    expect(Object.keys(config)).not.toEqual(expect.arrayContaining(['ADMIN_API_KEY']));
    expect(Object.keys(config)).not.toEqual(expect.arrayContaining(['MEDIA_SIGNING_SECRET']));
  });

  it('does not let INTERNAL_SERVICE_TOKEN stand in for an internal token in production', () => {
    const { GATEWAY_INTERNAL_TOKEN: _gateway, ...others } = secrets;
    expect(() => loadConfig(schema, { ...base, ...others, NODE_ENV: 'production', INTERNAL_SERVICE_TOKEN: 'i'.repeat(32) })).toThrow(
      /GATEWAY_INTERNAL_TOKEN required in production/,
    );
  });

  it('treats an empty variable as unset', () => {
    const config = loadConfig(schema, { ...base, BASE_DOMAIN: '', REDIS_URL: '', GENESYS_API_URL: '' });
    expect(config.BASE_DOMAIN).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.GENESYS_API_URL).toBe('https://api.{region}');
    expect(() => loadConfig(schema, { ...base, ...secrets, NODE_ENV: 'production', JWT_SECRET: '' })).toThrow(/JWT_SECRET/);
  });

  it('rejects an encryption key that is not 32 bytes', () => {
    expect(() => loadConfig(schema, { ...base, CREDENTIALS_ENCRYPTION_KEY: Buffer.alloc(16).toString('base64') })).toThrow(/CREDENTIALS_ENCRYPTION_KEY/);
  });
});

describe('the credentials keyring in the environment', () => {
  const A = generateEncryptionKey();
  const B = generateEncryptionKey();

  it('is CREDENTIALS_ENCRYPTION_KEY alone, or CREDENTIALS_ENCRYPTION_KEYS newest first', () => {
    expect(credentialKeys(loadConfig(schema, { ...base, CREDENTIALS_ENCRYPTION_KEY: A }))).toEqual([A]);
    expect(credentialKeys(loadConfig(schema, { ...base, CREDENTIALS_ENCRYPTION_KEYS: `${B},${A}` }))).toEqual([B, A]);
    expect(credentialKeys(loadConfig(schema, { ...base, CREDENTIALS_ENCRYPTION_KEYS: ` ${B} ,\n${A}\n` }))).toEqual([B, A]);
    expect(credentialKeys(loadConfig(schema, base))).toBeUndefined();
    expect(() => requireCredentialKeys(loadConfig(schema, base))).toThrow(/CREDENTIALS_ENCRYPTION_KEY \(or CREDENTIALS_ENCRYPTION_KEYS\) is required/);
  });

  it('satisfies production with either variable', () => {
    const { CREDENTIALS_ENCRYPTION_KEY: _single, ...others } = secrets;
    expect(loadConfig(schema, { ...base, ...others, NODE_ENV: 'production', CREDENTIALS_ENCRYPTION_KEYS: `${B},${A}` }).NODE_ENV).toBe('production');
    expect(() => loadConfig(schema, { ...base, ...others, NODE_ENV: 'production' })).toThrow(/CREDENTIALS_ENCRYPTION_KEY \(or CREDENTIALS_ENCRYPTION_KEYS\) required in production/);
  });

  it.each([
    ['a key of the wrong size', () => `${B},${Buffer.alloc(16).toString('base64')}`, /CREDENTIALS_ENCRYPTION_KEYS: key 2 of 2 is not 32 bytes, base64-encoded/],
    ['an `id:key` entry', () => `k2:${B},k1:${A}`, /CREDENTIALS_ENCRYPTION_KEYS: key 1 of 2 is not 32 bytes.*its id is derived from it/],
    ['an empty entry', () => `${B},,${A}`, /CREDENTIALS_ENCRYPTION_KEYS: key 2 of 3 is empty/],
    ['a trailing comma', () => `${B},`, /CREDENTIALS_ENCRYPTION_KEYS: key 2 of 2 is empty/],
    ['a repeated key', () => `${B},${A},${B}`, /CREDENTIALS_ENCRYPTION_KEYS: key 3 of 3 repeats key 1/],
    ['garbage', () => 'not-a-key', /CREDENTIALS_ENCRYPTION_KEYS: key 1 of 1 is not 32 bytes/],
  ])('refuses %s, naming the variable and the position but never a key', (_what, value, message) => {
    const keys = value();
    const attempt = () => loadConfig(schema, { ...base, CREDENTIALS_ENCRYPTION_KEYS: keys });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
    let text = '';
    try {
      attempt();
    } catch (err) {
      text = (err as Error).message;
    }
    for (const key of [A, B]) expect(text).not.toContain(key.slice(0, 12));
  });

  it('refuses both variables at once rather than guess which one is meant', () => {
    expect(() => loadConfig(schema, { ...base, CREDENTIALS_ENCRYPTION_KEY: A, CREDENTIALS_ENCRYPTION_KEYS: `${B},${A}` })).toThrow(
      /set CREDENTIALS_ENCRYPTION_KEY or CREDENTIALS_ENCRYPTION_KEYS, not both/,
    );
  });
});

describe('internal tokens and the media key', () => {
  const withTokens = serviceConfigSchema(3003, declare('GATEWAY_INTERNAL_TOKEN', 'AUTH_SERVICE_INTERNAL_TOKEN', 'MEDIA_SIGNING_SECRET'));
  const ROOT = 'root-secret-0123456789abcdef';

  it('outside production, derives a distinct token per caller, and the media key, from INTERNAL_SERVICE_TOKEN', () => {
    const config = loadConfig(withTokens, { ...base, INTERNAL_SERVICE_TOKEN: ROOT });
    const [gateway] = internalTokens(config, 'gateway');
    const [auth] = internalTokens(config, 'auth-service');
    expect(gateway).toMatch(/^[\w-]{43}$/);
    expect(new Set([gateway, auth, ROOT, mediaSigningSecret(config)]).size).toBe(4);
    const derived = secretsDerivedFrom(ROOT);
    expect({ gateway, auth, media: mediaSigningSecret(config) }).toEqual({
      gateway: derived.GATEWAY_INTERNAL_TOKEN,
      auth: derived.AUTH_SERVICE_INTERNAL_TOKEN,
      media: derived.MEDIA_SIGNING_SECRET,
    });
    // Another root, other tokens.
    expect(secretsDerivedFrom(`${ROOT}x`).GATEWAY_INTERNAL_TOKEN).not.toBe(gateway);
  });

  it('takes a caller\'s own variable over the derivation, as a list newest first', () => {
    const config = loadConfig(withTokens, { ...base, INTERNAL_SERVICE_TOKEN: ROOT, GATEWAY_INTERNAL_TOKEN: ` ${'n'.repeat(20)} , ${'o'.repeat(20)} ` });
    expect(internalTokens(config, 'gateway')).toEqual(['n'.repeat(20), 'o'.repeat(20)]);
    expect(callerTokens(config, ['gateway'])).toEqual({ gateway: ['n'.repeat(20), 'o'.repeat(20)] });
  });

  it('names the variable when there is neither the token nor, outside production, INTERNAL_SERVICE_TOKEN', () => {
    const config = loadConfig(withTokens, base);
    expect(() => internalTokens(config, 'gateway')).toThrow(/GATEWAY_INTERNAL_TOKEN \(or, outside production, INTERNAL_SERVICE_TOKEN\) is required/);
    expect(() => mediaSigningSecret(config)).toThrow(/MEDIA_SIGNING_SECRET \(or, outside production, INTERNAL_SERVICE_TOKEN\) is required/);
  });

  it('requires the media key of its own in production', () => {
    const env = { ...base, NODE_ENV: 'production', INTERNAL_SERVICE_TOKEN: ROOT, GATEWAY_INTERNAL_TOKEN: 'g'.repeat(20), AUTH_SERVICE_INTERNAL_TOKEN: 'a'.repeat(20) };
    expect(() => loadConfig(withTokens, env)).toThrow(/MEDIA_SIGNING_SECRET required in production/);
    expect(mediaSigningSecret(loadConfig(withTokens, { ...env, MEDIA_SIGNING_SECRET: 'm'.repeat(32) }))).toBe('m'.repeat(32));
  });

  it.each([
    ['an empty entry', `${'n'.repeat(20)},,${'o'.repeat(20)}`, /GATEWAY_INTERNAL_TOKEN: token 2 of 3 is empty/],
    ['a short token', `${'n'.repeat(20)},short-one`, /GATEWAY_INTERNAL_TOKEN: token 2 of 2 is shorter than 16 characters/],
  ])('refuses %s at start-up, naming the variable and position but not the token', (_what, value, message) => {
    expect(() => loadConfig(withTokens, { ...base, GATEWAY_INTERNAL_TOKEN: value })).toThrow(message);
    expect(() => loadConfig(withTokens, { ...base, GATEWAY_INTERNAL_TOKEN: value })).not.toThrow(/nnnn|short-one/);
  });
});
