import { z } from 'zod';
import { decodeEncryptionKey } from './crypto';
import { DEFAULT_DB_TIMEOUTS, type DatabaseTimeouts } from './db';
import { DEFAULT_MEDIA_DOWNLOAD_HOSTS, parseHostAllowlist } from './url-allowlist';

/**
 * Configuration is parsed once, at start-up, from the environment. Nothing else reads
 * `process.env`. Every key carries a one-line description (`.describe`) which the README's
 * configuration table mirrors.
 */

const secret = (doc: string) => z.string().min(1).optional().describe(doc);
/** Milliseconds, 0 meaning "no limit" (a day at most: a longer limit is no limit in practice). */
const dbTimeout = (fallback: number, doc: string) => z.coerce.number().int().min(0).max(86_400_000).default(fallback).describe(doc);

/** Variables every service understands. Services extend this with their own keys. */
export const baseConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development').describe('Runtime mode; production enforces secrets'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  DATABASE_URL: z.string().min(1).describe('PostgreSQL connection string (services: the application role)'),
  DB_STATEMENT_TIMEOUT_MS: dbTimeout(DEFAULT_DB_TIMEOUTS.statementMs, 'Longest a statement of the services may run before the server cancels it (503 DATABASE_BUSY); 0: no limit'),
  DB_LOCK_TIMEOUT_MS: dbTimeout(DEFAULT_DB_TIMEOUTS.lockMs, 'Longest a statement of the services may wait for a lock (503 DATABASE_BUSY); 0: no limit'),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: dbTimeout(DEFAULT_DB_TIMEOUTS.idleInTransactionMs, 'Longest a transaction of the services may sit idle before the server ends its session; 0: no limit'),
  REDIS_URL: z.string().min(1).optional().describe('Redis connection string; unset means in-process caches (one node only)'),
  ADMIN_API_KEY: secret('Bearer token for the admin API on :3007'),
  JWT_SECRET: secret('HS256 secret for tenant JWTs'),
  CREDENTIALS_ENCRYPTION_KEY: secret('32-byte key, base64, encrypting tenant credentials at rest (a keyring of one)'),
  CREDENTIALS_ENCRYPTION_KEYS: secret(
    'Keyring, instead of CREDENTIALS_ENCRYPTION_KEY (set one of the two): 32-byte base64 keys, comma-separated, newest first, e.g. `<new>,<old>`; the newest encrypts, every key decrypts',
  ),
  INTERNAL_SERVICE_TOKEN: secret('Shared secret on service-to-service calls'),
  BASE_DOMAIN: z.string().min(1).optional().describe('Parent domain for subdomain tenant resolution'),
  META_GRAPH_URL: z.string().url().default('https://graph.facebook.com/v23.0').describe('Graph API base, version included'),
  GENESYS_API_URL: z.string().min(1).default('https://api.{region}').describe('Template for the Genesys API base'),
  GENESYS_LOGIN_URL: z.string().min(1).default('https://login.{region}').describe('Template for the Genesys login base'),
  TENANT_SERVICE_URL: z.string().url().default('http://127.0.0.1:3007').describe('Where internal services reach tenant-service'),
  STATE_MANAGER_URL: z.string().url().default('http://127.0.0.1:3002').describe('Where the gateway reaches state-manager'),
  AUTH_SERVICE_URL: z.string().url().default('http://127.0.0.1:3003').describe('Where the gateway reaches auth-service'),
  WEBHOOK_SERVICE_URL: z.string().url().default('http://127.0.0.1:3001').describe('Where the gateway reaches webhook-service'),
  GENESYS_CONNECTOR_URL: z.string().url().default('http://127.0.0.1:3004').describe('Where internal services reach genesys-connector'),
  HOST: z.string().default('0.0.0.0').describe('Interface to listen on'),
  PUBLIC_BASE_URL: z.string().url().default('http://127.0.0.1:3000').describe('Public base URL of the gateway: media links handed to Genesys point here'),
  MEDIA_SIGNING_SECRET: z.string().min(16).optional().describe('Key for signed media links (default: derived from INTERNAL_SERVICE_TOKEN)'),
  MEDIA_DOWNLOAD_HOSTS: z
    .string()
    .default(DEFAULT_MEDIA_DOWNLOAD_HOSTS)
    .transform((value, ctx) => {
      try {
        return parseHostAllowlist(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .describe("Hosts (comma-separated; *.domain allowed) that Meta's media download URLs may point at; https only, http only for loopback hosts named here"),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;

/** The database timeouts the environment sets (DB_*_TIMEOUT_MS), for `new Database({ timeouts })`. */
export function dbTimeouts(config: Pick<BaseConfig, 'DB_STATEMENT_TIMEOUT_MS' | 'DB_LOCK_TIMEOUT_MS' | 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS'>): DatabaseTimeouts {
  return { statementMs: config.DB_STATEMENT_TIMEOUT_MS, lockMs: config.DB_LOCK_TIMEOUT_MS, idleInTransactionMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS };
}

/** The secrets that production refuses to start without. */
export const REQUIRED_IN_PRODUCTION = ['ADMIN_API_KEY', 'JWT_SECRET', 'CREDENTIALS_ENCRYPTION_KEY', 'INTERNAL_SERVICE_TOKEN'] as const;

/** A required secret that another variable may stand in for. */
export const SECRET_ALTERNATIVES: Partial<Record<(typeof REQUIRED_IN_PRODUCTION)[number], keyof BaseConfig>> = {
  CREDENTIALS_ENCRYPTION_KEY: 'CREDENTIALS_ENCRYPTION_KEYS',
};

const secretName = (key: (typeof REQUIRED_IN_PRODUCTION)[number]) => (SECRET_ALTERNATIVES[key] ? `${key} (or ${SECRET_ALTERNATIVES[key]})` : key);

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Adds a port with the contract's default to the base schema. */
export function serviceConfigSchema<T extends z.ZodRawShape>(defaultPort: number, extra: T) {
  return baseConfigSchema.extend({
    PORT: z.coerce.number().int().min(0).max(65535).default(defaultPort).describe('Port to listen on'),
    ...extra,
  });
}

/**
 * Parses `env` with any schema of environment variables (the services' below, the scripts' own);
 * an empty variable counts as unset. Throws a ConfigError naming every bad variable.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // `VAR=` (as compose writes for an unset pass-through) means unset, not an empty value.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`Invalid environment: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/**
 * Parses `env` with `schema`; throws a ConfigError naming every bad variable. In production the
 * secrets in REQUIRED_IN_PRODUCTION (or their SECRET_ALTERNATIVES) must be present. The
 * credentials keyring, when present, must be well-formed (see credentialKeys).
 */
export function loadConfig<S extends z.ZodType<BaseConfig>>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const data = parseEnv(schema, env);
  const config = data as BaseConfig;
  if (config.NODE_ENV === 'production') {
    const missing = REQUIRED_IN_PRODUCTION.filter((k) => !config[k] && !(SECRET_ALTERNATIVES[k] && config[SECRET_ALTERNATIVES[k]!]));
    if (missing.length) throw new ConfigError(`Invalid environment: ${missing.map(secretName).join(', ')} required in production`);
  }
  credentialKeys(config);
  return data;
}

/**
 * The credentials keyring the environment holds: 32-byte base64 keys, newest first (the newest
 * encrypts, every one decrypts). CREDENTIALS_ENCRYPTION_KEY is a keyring of one;
 * CREDENTIALS_ENCRYPTION_KEYS is `<newest>,<older>,...`. Undefined when neither is set. Throws
 * a ConfigError naming the variable and the position of a bad key, never the key itself.
 */
export function credentialKeys(config: Pick<BaseConfig, 'CREDENTIALS_ENCRYPTION_KEY' | 'CREDENTIALS_ENCRYPTION_KEYS'>): string[] | undefined {
  const single = config.CREDENTIALS_ENCRYPTION_KEY?.trim();
  const ring = config.CREDENTIALS_ENCRYPTION_KEYS;
  if (single && ring) throw new ConfigError('Invalid environment: set CREDENTIALS_ENCRYPTION_KEY or CREDENTIALS_ENCRYPTION_KEYS, not both');
  if (single) {
    if (!decodeEncryptionKey(single)) throw new ConfigError('Invalid environment: CREDENTIALS_ENCRYPTION_KEY must be 32 bytes, base64-encoded');
    return [single];
  }
  if (!ring) return undefined;
  const keys = ring.split(',').map((k) => k.trim());
  const seen: string[] = [];
  keys.forEach((key, i) => {
    const where = `Invalid environment: CREDENTIALS_ENCRYPTION_KEYS: key ${i + 1} of ${keys.length}`;
    if (!key) throw new ConfigError(`${where} is empty`);
    const bytes = decodeEncryptionKey(key);
    // `id:key` is a common keyring format elsewhere; here a key's id is derived from the key.
    if (!bytes) throw new ConfigError(`${where} is not 32 bytes, base64-encoded${key.includes(':') ? ' (write the key alone: its id is derived from it)' : ''}`);
    const earlier = seen.indexOf(bytes.toString('hex'));
    if (earlier >= 0) throw new ConfigError(`${where} repeats key ${earlier + 1}`);
    seen.push(bytes.toString('hex'));
  });
  return keys;
}

/** The credentials keyring, for a service that cannot work without it; a ConfigError naming both variables when absent. */
export function requireCredentialKeys(config: Pick<BaseConfig, 'CREDENTIALS_ENCRYPTION_KEY' | 'CREDENTIALS_ENCRYPTION_KEYS'>): string[] {
  const keys = credentialKeys(config);
  if (!keys) throw new ConfigError('Invalid environment: CREDENTIALS_ENCRYPTION_KEY (or CREDENTIALS_ENCRYPTION_KEYS) is required by this service');
  return keys;
}

/** Returns the value of a secret the caller cannot work without, naming it if absent. */
export function requireSecret<K extends (typeof REQUIRED_IN_PRODUCTION)[number]>(config: BaseConfig, key: K): string {
  const value = config[key];
  if (!value) throw new ConfigError(`Invalid environment: ${key} is required by this service`);
  return value;
}
