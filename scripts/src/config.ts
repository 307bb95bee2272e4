/**
 * The scripts' own settings (`npm start`, `npm test`, `npm run demo|bench|soak`), parsed once at
 * start-up with `parseEnv` like a service's config: a common schema, extended per script (the
 * bench's in bench/config.ts). Nothing else in scripts/ reads `process.env`; what the scripts hand
 * on to the services they start, the services parse themselves (shared/src/config.ts).
 * Every key carries a one-line description, which README.md and bench/README.md mirror;
 * scripts/test/config.test.ts holds them to it.
 */
import { z } from 'zod';
import { flag as sharedFlag } from '@bridge/shared';

/** `true`/`1` or `false`/`0`; unset: false. */
export const flag = sharedFlag();

/** A whole number of at least `min`, `def` when unset. */
export const count = (min: number, def: number) => z.coerce.number().int().min(min).default(def);

/** What every script understands. */
export const scriptsConfigSchema = z.object({
  DATABASE_URL: z.string().min(1).optional().describe('PostgreSQL as its owner (a superuser); unset: an embedded PostgreSQL'),
  REDIS_URL: z.string().min(1).optional().describe('Redis for the platform the script starts; unset: in-process caches (npm test tries 127.0.0.1:6379)'),
  DB_APP_PASSWORD: z.string().min(1).optional().describe('Password of the application role bridge_app (cluster-wide); unset: generated'),
  ADMIN_API_KEY: z.string().min(1).optional().describe('npm start: the admin API key to use; unset: generated and kept in BRIDGE_DATA_DIR'),
  BRIDGE_DATA_DIR: z.string().min(1).default('.data').describe('npm start: folder of the embedded PostgreSQL and the generated secrets'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).optional().describe('npm start, npm run bench: port of the embedded PostgreSQL; unset: a free port'),
  REQUIRE_ALL_TESTS: flag.describe('npm test: fail instead of skipping the Redis-backed suites when no Redis answers, and the admin console browser test when /usr/bin/chromium is missing'),
});

export type ScriptsConfig = z.infer<typeof scriptsConfigSchema>;

/** A port `npm start` puts a service on; 0: any free port. */
const servicePort = (what: string) =>
  z.coerce.number().int().min(0).max(65535).optional().describe(`npm start: port of ${what} (0: any free port); unset: its usual one`);

/** `npm start`: where each service listens (scripts/src/system.ts names them `<SERVICE>_PORT`, `<SERVICE>_INTERNAL_PORT`). */
export const startConfigSchema = scriptsConfigSchema.extend({
  TENANT_SERVICE_PORT: servicePort('tenant-service'),
  AUTH_SERVICE_PORT: servicePort('auth-service'),
  STATE_MANAGER_PORT: servicePort('state-manager'),
  GENESYS_CONNECTOR_PORT: servicePort('genesys-connector'),
  WEBHOOK_SERVICE_PORT: servicePort('webhook-service'),
  GATEWAY_PORT: servicePort('gateway'),
  TENANT_SERVICE_INTERNAL_PORT: servicePort("tenant-service's internal routes"),
  AUTH_SERVICE_INTERNAL_PORT: servicePort("auth-service's internal routes"),
  GENESYS_CONNECTOR_INTERNAL_PORT: servicePort("genesys-connector's internal routes"),
});

export type StartConfig = z.infer<typeof startConfigSchema>;

/** `npm run soak`. */
export const soakConfigSchema = scriptsConfigSchema.extend({
  SOAK_SECONDS: count(1, 300).describe('Length of the soak run, seconds'),
  SOAK_TENANTS: count(1, 4).describe('Tenants in the soak'),
  SOAK_CONVERSATIONS: count(1, 5).describe('Conversations per soak tenant (a customer and an agent each)'),
  SOAK_REPLICAS: count(1, 1)
    .describe('Processes of every service in the soak (genesys-connector: at least 2), each replicated service behind a round-robin TCP front; `npm run soak -- --replicas N` sets it too'),
});

export type SoakConfig = z.infer<typeof soakConfigSchema>;

/**
 * The soak's command-line options (`npm run soak -- --replicas 2 --seconds 60`): each
 * `--<name> <value>` or `--<name>=<value>` is the setting `SOAK_<NAME>` (overriding the
 * environment), parsed by the same schema; anything else is refused, naming it.
 */
export function soakArgs(argv: string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  const known = Object.keys(soakConfigSchema.shape).filter((k) => k.startsWith('SOAK_'));
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const key = m && `SOAK_${m[1].toUpperCase().replace(/-/g, '_')}`;
    if (!m || !key || !known.includes(key)) {
      throw new Error(`unknown option ${argv[i]}: the soak takes ${known.map((k) => `--${k.slice(5).toLowerCase().replace(/_/g, '-')}`).join(', ')}`);
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    settings[key] = value;
  }
  return settings;
}
