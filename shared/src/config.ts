import { createHmac } from 'node:crypto';
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
/** A yes/no setting: `true`/`1` or `false`/`0`; unset: `fallback`. */
export const flag = (fallback = false) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/** tenant-service and genesys-connector: both check tenants' notification webhook URLs with it. */
export const notificationWebhookAllowLoopback = flag().describe(
  'tenant-service, genesys-connector: allow tenants\u2019 notification webhook URLs on a loopback address (http too), for local tests and the demo; private, link-local and metadata addresses are refused whatever this says',
);

const dbTimeout = (fallback: number, doc: string) => z.coerce.number().int().min(0).max(86_400_000).default(fallback).describe(doc);

/**
 * The services that call other services' routes, and the variable holding each one's own internal
 * token. A route names the callers it accepts, so one leaked token opens only what its holder
 * may call. A service that answers a route holds the tokens of the callers it accepts.
 */
export const INTERNAL_CALLERS = {
  gateway: 'GATEWAY_INTERNAL_TOKEN',
  'webhook-service': 'WEBHOOK_SERVICE_INTERNAL_TOKEN',
  'auth-service': 'AUTH_SERVICE_INTERNAL_TOKEN',
  'genesys-connector': 'GENESYS_CONNECTOR_INTERNAL_TOKEN',
} as const;

export type InternalCaller = keyof typeof INTERNAL_CALLERS;

/** The tokens a route accepts, by caller (each caller's list: see internalTokens). */
export type CallerTokens = Partial<Record<InternalCaller, readonly string[]>>;

const internalToken = (doc: string) =>
  secret(`${doc}. Comma-separated while being rotated, newest first: the caller sends the first, the services it calls accept each one`);

/**
 * Every secret a service may hold. A service's schema declares those it uses, with `secrets(...)`,
 * and nothing else: in production it requires exactly those (requiredInProduction), and a
 * secret it does not declare is dropped from its config if the environment has it.
 */
const SECRET_SHAPE = {
  ADMIN_API_KEY: secret('tenant-service: bearer token for the admin API on :3007'),
  JWT_SECRET: secret('HS256 secret for tenant JWTs: auth-service signs them, the gateway verifies them'),
  JWT_PREVIOUS_SECRETS: secret(
    'gateway: former JWT secrets it still accepts while tokens signed with them may be alive (comma-separated, newest first); see the README on rotating JWT_SECRET',
  ),
  CREDENTIALS_ENCRYPTION_KEY: secret('tenant-service: 32-byte key, base64, encrypting tenant credentials at rest (a keyring of one)'),
  CREDENTIALS_ENCRYPTION_KEYS: secret(
    'tenant-service: keyring, instead of CREDENTIALS_ENCRYPTION_KEY (set one of the two): 32-byte base64 keys, comma-separated, newest first, e.g. `<new>,<old>`; the newest encrypts, every key decrypts',
  ),
  MEDIA_SIGNING_SECRET: z
    .string()
    .min(16)
    .optional()
    .describe('Key of the signed media links: genesys-connector signs them, webhook-service verifies them (outside production: derived from INTERNAL_SERVICE_TOKEN when unset)'),
  GATEWAY_INTERNAL_TOKEN: internalToken("The gateway's token on the requests it forwards to state-manager and auth-service"),
  WEBHOOK_SERVICE_INTERNAL_TOKEN: internalToken("webhook-service's token on tenant-service's internal credentials route"),
  AUTH_SERVICE_INTERNAL_TOKEN: internalToken("auth-service's token on tenant-service's internal credentials route (Genesys credentials only)"),
  GENESYS_CONNECTOR_INTERNAL_TOKEN: internalToken(
    "genesys-connector's token on tenant-service's internal credentials route and auth-service's internal Genesys token route; also opens its own /internal/queue",
  ),
};

export type SecretName = keyof typeof SECRET_SHAPE;
type Secrets = { [K in SecretName]?: string };

/** The schema keys of the secrets a service uses, for its config: `serviceConfigSchema(3000, { ...secrets('JWT_SECRET'), ... })`. */
export function secrets<K extends SecretName>(...names: K[]): Pick<typeof SECRET_SHAPE, K> {
  return Object.fromEntries(names.map((name) => [name, SECRET_SHAPE[name]])) as Pick<typeof SECRET_SHAPE, K>;
}

/** Variables every service understands. Services extend this with their own keys and secrets. */
export const baseConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development').describe('Runtime mode; production enforces secrets'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  DATABASE_URL: z.string().min(1).describe('PostgreSQL connection string (services: the application role)'),
  DB_STATEMENT_TIMEOUT_MS: dbTimeout(DEFAULT_DB_TIMEOUTS.statementMs, 'Longest a statement of the services may run before the server cancels it (503 DATABASE_BUSY); 0: no limit'),
  DB_LOCK_TIMEOUT_MS: dbTimeout(DEFAULT_DB_TIMEOUTS.lockMs, 'Longest a statement of the services may wait for a lock (503 DATABASE_BUSY); 0: no limit'),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: dbTimeout(DEFAULT_DB_TIMEOUTS.idleInTransactionMs, 'Longest a transaction of the services may sit idle before the server ends its session; 0: no limit'),
  SHUTDOWN_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(10_000)
    .describe(
      'On SIGTERM: how long requests in flight may finish (new ones are refused) and the connector’s deliveries in flight may end before their leases are handed to another replica; keep it below the orchestrator’s kill deadline (Kubernetes: terminationGracePeriodSeconds, 30 s)',
    ),
  SHUTDOWN_DELAY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(0)
    .describe(
      'On SIGTERM: how long a service keeps accepting and serving requests while GET /ready already answers 503, so that a load balancer probing /ready stops sending it requests before its connections are refused; then SHUTDOWN_GRACE_MS applies. 0 behind Kubernetes, whose preStop wait does the same',
    ),
  DB_NAMED_STATEMENTS: flag(true).describe(
    'Send parameterized statements as named prepared statements (PostgreSQL parses each once per connection and may keep its plan; at most 256 distinct ones per connection); false behind a pooler in transaction mode that does not carry named statements across its server connections (PgBouncer before 1.21, or max_prepared_statements = 0)',
  ),
  REDIS_URL: z.string().min(1).optional().describe('Redis connection string; unset means in-process caches (one node only)'),
  INTERNAL_SERVICE_TOKEN: secret(
    'Outside production (npm start, where one process holds everything): the shared secret each unset internal token and the media signing key are derived from. Production ignores it',
  ),
  BASE_DOMAIN: z.string().min(1).optional().describe('Parent domain for subdomain tenant resolution'),
  META_GRAPH_URL: z.string().url().default('https://graph.facebook.com/v23.0').describe('Graph API base, version included'),
  GENESYS_API_URL: z.string().min(1).default('https://api.{region}').describe('Template for the Genesys API base'),
  GENESYS_LOGIN_URL: z.string().min(1).default('https://login.{region}').describe('Template for the Genesys login base'),
  TENANT_SERVICE_URL: z.string().url().default('http://127.0.0.1:3007').describe("Where tenant-service's admin API is"),
  TENANT_SERVICE_INTERNAL_URL: z.string().url().default('http://127.0.0.1:4007').describe("Where services reach tenant-service's internal routes"),
  STATE_MANAGER_URL: z.string().url().default('http://127.0.0.1:3002').describe('Where the gateway reaches state-manager'),
  AUTH_SERVICE_URL: z.string().url().default('http://127.0.0.1:3003').describe('Where the gateway reaches auth-service'),
  AUTH_SERVICE_INTERNAL_URL: z.string().url().default('http://127.0.0.1:4003').describe("Where services reach auth-service's internal routes"),
  WEBHOOK_SERVICE_URL: z.string().url().default('http://127.0.0.1:3001').describe('Where the gateway reaches webhook-service'),
  GENESYS_CONNECTOR_URL: z.string().url().default('http://127.0.0.1:3004').describe('Where internal services reach genesys-connector'),
  HOST: z.string().default('0.0.0.0').describe('Interface to listen on'),
  PUBLIC_BASE_URL: z.string().url().default('http://127.0.0.1:3000').describe('Public base URL of the gateway: media links handed to Genesys point here'),
  SECURITY_EVENT_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(60)
    .describe(
      'gateway, webhook-service, state-manager: security events of one kind, tenant and key (bad webhook signatures, revoked or expired keys used, ...) are counted over this window and written as one audit event with the count (seconds)',
    ),
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

/** The secrets production refuses to start without, when a service's schema declares them. */
const PRODUCTION_SECRETS: readonly SecretName[] = ['ADMIN_API_KEY', 'JWT_SECRET', 'CREDENTIALS_ENCRYPTION_KEY', 'MEDIA_SIGNING_SECRET', ...Object.values(INTERNAL_CALLERS)];

/** A required secret that another variable may stand in for. */
export const SECRET_ALTERNATIVES: Partial<Record<SecretName, SecretName>> = {
  CREDENTIALS_ENCRYPTION_KEY: 'CREDENTIALS_ENCRYPTION_KEYS',
};

/**
 * The secrets a service's config schema makes production require: each production secret the
 * schema declares (for the keyring, CREDENTIALS_ENCRYPTION_KEY, which SECRET_ALTERNATIVES lets
 * CREDENTIALS_ENCRYPTION_KEYS stand in for). test/deploy.test.ts holds docker-compose.yml to it.
 */
export function requiredInProduction(schema: z.ZodType): SecretName[] {
  const shape: object = schema instanceof z.ZodObject ? schema.shape : {};
  return PRODUCTION_SECRETS.filter((name) => name in shape);
}

const secretName = (key: SecretName) => (SECRET_ALTERNATIVES[key] ? `${key} (or ${SECRET_ALTERNATIVES[key]})` : key);

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
    METRICS_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('Port of GET /metrics (Prometheus), a listener of its own, never published; unset: PORT + 6400 (9400 … 9407), or any free port when PORT is 0 or above 59135'),
    ...extra,
  });
}

/**
 * `INTERNAL_PORT`, for a service with service-to-service routes (`/internal/...`): they listen on
 * this port of their own, which is never published, and not on PORT.
 */
export function internalPortSchema(defaultPort: number) {
  return z.coerce.number().int().min(0).max(65535).default(defaultPort).describe('Port of the service-to-service routes (/internal/...); never published');
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
 * secrets the schema declares (requiredInProduction, or their SECRET_ALTERNATIVES) must be
 * present. The credentials keyring, the internal tokens and the JWT keyring, when present, must
 * be well-formed (see credentialKeys, internalTokens, jwtSecrets).
 */
export function loadConfig<S extends z.ZodType<BaseConfig>>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const data = parseEnv(schema, env);
  const config = data as BaseConfig & Secrets;
  if (config.NODE_ENV === 'production') {
    const missing = requiredInProduction(schema).filter((k) => !config[k] && !(SECRET_ALTERNATIVES[k] && config[SECRET_ALTERNATIVES[k]!]));
    if (missing.length) throw new ConfigError(`Invalid environment: ${missing.map(secretName).join(', ')} required in production`);
  }
  credentialKeys(config);
  for (const variable of Object.values(INTERNAL_CALLERS)) if (config[variable]) tokenList(variable, config[variable]);
  jwtSecrets(config);
  return data;
}

/**
 * The tenant-token keyring the environment holds, newest first: JWT_SECRET (signs and verifies),
 * then each of JWT_PREVIOUS_SECRETS (verify only). Undefined when JWT_SECRET is unset. Throws a
 * ConfigError naming the variable and the position of a bad entry, never a secret.
 */
export function jwtSecrets(config: Pick<Secrets, 'JWT_SECRET' | 'JWT_PREVIOUS_SECRETS'>): string[] | undefined {
  const previous = config.JWT_PREVIOUS_SECRETS?.split(',').map((s) => s.trim()) ?? [];
  if (!config.JWT_SECRET) {
    if (previous.length) throw new ConfigError('Invalid environment: JWT_PREVIOUS_SECRETS is set without JWT_SECRET, which signs');
    return undefined;
  }
  const ring = [config.JWT_SECRET, ...previous];
  ring.forEach((s, i) => {
    if (i === 0) return;
    const where = `Invalid environment: JWT_PREVIOUS_SECRETS: secret ${i} of ${previous.length}`;
    if (!s) throw new ConfigError(`${where} is empty`);
    const earlier = ring.indexOf(s);
    if (earlier < i) throw new ConfigError(`${where} repeats ${earlier === 0 ? 'JWT_SECRET' : `secret ${earlier}`}`);
  });
  return ring;
}

/**
 * The credentials keyring the environment holds: 32-byte base64 keys, newest first (the newest
 * encrypts, every one decrypts). CREDENTIALS_ENCRYPTION_KEY is a keyring of one;
 * CREDENTIALS_ENCRYPTION_KEYS is `<newest>,<older>,...`. Undefined when neither is set. Throws
 * a ConfigError naming the variable and the position of a bad key, never the key itself.
 */
export function credentialKeys(config: Pick<Secrets, 'CREDENTIALS_ENCRYPTION_KEY' | 'CREDENTIALS_ENCRYPTION_KEYS'>): string[] | undefined {
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
export function requireCredentialKeys(config: Pick<Secrets, 'CREDENTIALS_ENCRYPTION_KEY' | 'CREDENTIALS_ENCRYPTION_KEYS'>): string[] {
  const keys = credentialKeys(config);
  if (!keys) throw new ConfigError('Invalid environment: CREDENTIALS_ENCRYPTION_KEY (or CREDENTIALS_ENCRYPTION_KEYS) is required by this service');
  return keys;
}

/** Returns the value of a secret the caller cannot work without (and its schema declares), naming it if absent. */
export function requireSecret<C extends Secrets, K extends keyof C & SecretName>(config: C, key: K): string {
  const value = config[key];
  if (!value) throw new ConfigError(`Invalid environment: ${key} is required by this service`);
  return value;
}

/** What the secrets derived outside production are derived from. */
type DerivationSource = Pick<BaseConfig, 'NODE_ENV' | 'INTERNAL_SERVICE_TOKEN'>;

/** The secrets that, outside production, INTERNAL_SERVICE_TOKEN stands in for. */
export type DerivedSecret = (typeof INTERNAL_CALLERS)[InternalCaller] | 'MEDIA_SIGNING_SECRET';

/**
 * What each secret INTERNAL_SERVICE_TOKEN stands in for is derived as, outside production:
 * HMAC-SHA256(INTERNAL_SERVICE_TOKEN, a label per secret), base64url. Each internal token differs
 * from the others, so a caller's token opens only its own routes under `npm start` too. The
 * scripts hand these to services they run in production mode (the bench, the soak).
 */
export function secretsDerivedFrom(internalServiceToken: string): Record<DerivedSecret, string> {
  const derive = (label: string) => createHmac('sha256', internalServiceToken).update(label).digest('base64url');
  const tokens = Object.entries(INTERNAL_CALLERS).map(([caller, variable]) => [variable, derive(`bridge-internal-token:${caller}`)]);
  // The media label predates the internal tokens: links signed before them stay valid.
  return { ...Object.fromEntries(tokens), MEDIA_SIGNING_SECRET: derive('bridge-media-links') } as Record<DerivedSecret, string>;
}

/** The value INTERNAL_SERVICE_TOKEN stands in for, outside production only; undefined otherwise. */
function derivedSecret(config: DerivationSource, name: DerivedSecret): string | undefined {
  if (config.NODE_ENV === 'production' || !config.INTERNAL_SERVICE_TOKEN) return undefined;
  return secretsDerivedFrom(config.INTERNAL_SERVICE_TOKEN)[name];
}

/** The tokens a `*_INTERNAL_TOKEN` variable lists, newest first; a ConfigError naming the variable and the position of a bad one, never a token. */
function tokenList(variable: string, value: string): string[] {
  const tokens = value.split(',').map((t) => t.trim());
  tokens.forEach((token, i) => {
    const problem = !token ? 'is empty' : token.length < 16 ? 'is shorter than 16 characters' : undefined;
    if (problem) throw new ConfigError(`Invalid environment: ${variable}: token ${i + 1} of ${tokens.length} ${problem}`);
  });
  return tokens;
}

/** The callers whose token variable the config `C` declares. */
export type DeclaredCaller<C> = { [K in InternalCaller]: (typeof INTERNAL_CALLERS)[K] extends keyof C ? K : never }[InternalCaller];

/**
 * A caller's internal tokens, newest first: the caller sends the first, the services it calls
 * accept each one (so a token can be rotated without downtime). From the caller's
 * `*_INTERNAL_TOKEN` (INTERNAL_CALLERS), or, outside production, derived from
 * INTERNAL_SERVICE_TOKEN (secretsDerivedFrom). A ConfigError naming the variable when neither is there.
 */
export function internalTokens<C extends Secrets & DerivationSource>(config: C, caller: DeclaredCaller<C>): string[] {
  const variable = INTERNAL_CALLERS[caller];
  const value = config[variable];
  if (value) return tokenList(variable, value);
  const derived = derivedSecret(config, variable);
  if (derived) return [derived];
  throw new ConfigError(`Invalid environment: ${variable} (or, outside production, INTERNAL_SERVICE_TOKEN) is required by this service`);
}

/** The tokens of several callers, by caller: what a service answering their routes checks. */
export function callerTokens<C extends Secrets & DerivationSource>(config: C, callers: Array<DeclaredCaller<C>>): CallerTokens {
  return Object.fromEntries(callers.map((caller) => [caller, internalTokens(config, caller)]));
}

/**
 * The media-link key: MEDIA_SIGNING_SECRET, or, outside production, one derived from
 * INTERNAL_SERVICE_TOKEN. A ConfigError naming the variable when neither is there.
 */
export function mediaSigningSecret(config: Pick<Secrets, 'MEDIA_SIGNING_SECRET'> & DerivationSource): string {
  const secret = config.MEDIA_SIGNING_SECRET ?? derivedSecret(config, 'MEDIA_SIGNING_SECRET');
  if (!secret) throw new ConfigError('Invalid environment: MEDIA_SIGNING_SECRET (or, outside production, INTERNAL_SERVICE_TOKEN) is required by this service');
  return secret;
}
