import { z } from 'zod';
import { DEFAULT_MEDIA_DOWNLOAD_HOSTS, parseHostAllowlist } from './url-allowlist';

/**
 * Configuration is parsed once, at start-up, from the environment. Nothing else reads
 * `process.env`. Every key carries a one-line description (`.describe`) which the README's
 * configuration table mirrors.
 */

const secret = (doc: string) => z.string().min(1).optional().describe(doc);

/** Variables every service understands. Services extend this with their own keys. */
export const baseConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development').describe('Runtime mode; production enforces secrets'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  DATABASE_URL: z.string().min(1).describe('PostgreSQL connection string (services: the application role)'),
  REDIS_URL: z.string().min(1).optional().describe('Redis connection string; unset means in-process caches (one node only)'),
  ADMIN_API_KEY: secret('Bearer token for the admin API on :3007'),
  JWT_SECRET: secret('HS256 secret for tenant JWTs'),
  CREDENTIALS_ENCRYPTION_KEY: secret('32-byte key, base64, encrypting tenant credentials at rest'),
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

/** The secrets that production refuses to start without. */
export const REQUIRED_IN_PRODUCTION = ['ADMIN_API_KEY', 'JWT_SECRET', 'CREDENTIALS_ENCRYPTION_KEY', 'INTERNAL_SERVICE_TOKEN'] as const;

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
 * Parses `env` with `schema`; throws a ConfigError naming every bad variable. In production the
 * secrets in REQUIRED_IN_PRODUCTION must be present. CREDENTIALS_ENCRYPTION_KEY, when present,
 * must decode to exactly 32 bytes.
 */
export function loadConfig<S extends z.ZodType<BaseConfig>>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // `VAR=` (as compose writes for an unset pass-through) means unset, not an empty value.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`Invalid environment: ${problems.join('; ')}`);
  }
  const config = parsed.data as BaseConfig;
  if (config.NODE_ENV === 'production') {
    const missing = REQUIRED_IN_PRODUCTION.filter((k) => !config[k]);
    if (missing.length) throw new ConfigError(`Invalid environment: ${missing.join(', ')} required in production`);
  }
  if (config.CREDENTIALS_ENCRYPTION_KEY && Buffer.from(config.CREDENTIALS_ENCRYPTION_KEY, 'base64').length !== 32) {
    throw new ConfigError('Invalid environment: CREDENTIALS_ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  }
  return parsed.data;
}

/** Returns the value of a secret the caller cannot work without, naming it if absent. */
export function requireSecret<K extends (typeof REQUIRED_IN_PRODUCTION)[number]>(config: BaseConfig, key: K): string {
  const value = config[key];
  if (!value) throw new ConfigError(`Invalid environment: ${key} is required by this service`);
  return value;
}
