import { ConfigError, loadConfig, serviceConfigSchema, generateEncryptionKey } from '../src';

const schema = serviceConfigSchema(3007, {});
const base = { DATABASE_URL: 'postgres://bridge_app@localhost/db' };
const secrets = {
  ADMIN_API_KEY: 'a'.repeat(32),
  JWT_SECRET: 'j'.repeat(32),
  CREDENTIALS_ENCRYPTION_KEY: generateEncryptionKey(),
  INTERNAL_SERVICE_TOKEN: 'i'.repeat(32),
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

  it.each(['ADMIN_API_KEY', 'JWT_SECRET', 'CREDENTIALS_ENCRYPTION_KEY', 'INTERNAL_SERVICE_TOKEN'])('refuses production without %s, naming it', (name) => {
    const env = { ...base, ...secrets, NODE_ENV: 'production', [name]: undefined };
    expect(() => loadConfig(schema, env)).toThrow(ConfigError);
    expect(() => loadConfig(schema, env)).toThrow(new RegExp(name));
  });

  it('starts in production with every secret', () => {
    expect(loadConfig(schema, { ...base, ...secrets, NODE_ENV: 'production' }).NODE_ENV).toBe('production');
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
