import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { appRoleUrl, generateEncryptionKey, secretsDerivedFrom, type RunningService } from '@bridge/shared';
import { migrate } from '@bridge/migrations';
import { start as startTenantService } from '@bridge/tenant-service';
import { start as startAuthService } from '@bridge/auth-service';
import { start as startStateManager } from '@bridge/state-manager';
import { start as startWebhookService } from '@bridge/webhook-service';
import { start as startGenesysConnector } from '@bridge/genesys-connector';
import { start as startGateway } from '@bridge/gateway';
import { startEmbeddedPostgres, withDatabase, type PostgresHandle } from './postgres';

interface ServiceEntry {
  name: string;
  /** The contract port. */
  port: number;
  urlVar?: string;
  /** Services with internal routes (/internal/...): the default INTERNAL_PORT, and where the others find it. */
  internal?: { port: number; urlVar?: string };
  start: (env: NodeJS.ProcessEnv) => Promise<RunningService>;
}

/** The services in start order (dependencies first), with their contract ports and internal ports. */
export const SERVICES = [
  { name: 'tenant-service', port: 3007, urlVar: 'TENANT_SERVICE_URL', internal: { port: 4007, urlVar: 'TENANT_SERVICE_INTERNAL_URL' }, start: startTenantService },
  { name: 'auth-service', port: 3003, urlVar: 'AUTH_SERVICE_URL', internal: { port: 4003, urlVar: 'AUTH_SERVICE_INTERNAL_URL' }, start: startAuthService },
  { name: 'state-manager', port: 3002, urlVar: 'STATE_MANAGER_URL', start: startStateManager },
  { name: 'genesys-connector', port: 3004, urlVar: 'GENESYS_CONNECTOR_URL', internal: { port: 4004 }, start: startGenesysConnector },
  { name: 'webhook-service', port: 3001, urlVar: 'WEBHOOK_SERVICE_URL', start: startWebhookService },
  { name: 'gateway', port: 3000, start: startGateway },
] as const satisfies readonly ServiceEntry[];

export type ServiceName = (typeof SERVICES)[number]['name'];

/** The services' entries, each as the general shape (optional fields readable on every one). */
export const serviceEntries: readonly (ServiceEntry & { name: ServiceName })[] = SERVICES;

/** `GATEWAY_PORT`, `TENANT_SERVICE_PORT`, ...: where startSystem puts a service it is given no port for. */
export function portVariable(name: ServiceName): string {
  return `${name.toUpperCase().replace(/-/g, '_')}_PORT`;
}

/** `TENANT_SERVICE_INTERNAL_PORT`, ...: where startSystem puts a service's internal routes. */
export function internalPortVariable(name: ServiceName): string {
  return `${name.toUpperCase().replace(/-/g, '_')}_INTERNAL_PORT`;
}

/** A service that did not start, named, with what to do when one of its ports is taken. */
function serviceFailed(name: ServiceName, port: number, internalPort: number | undefined, err: unknown): Error {
  const errno = err as NodeJS.ErrnoException & { port?: number };
  const internal = internalPort !== undefined && errno?.port === internalPort && errno.port !== port;
  // Its metrics listener: PORT + 6400 (metricsPort), so moving the service moves it too.
  const metrics = errno?.port !== undefined && errno.port !== port && !internal;
  const reason =
    errno?.code === 'EADDRINUSE'
      ? metrics
        ? `port ${errno.port} (its metrics: its port + 6400) is in use (by another npm start still running, or another program). Stop that, or move ${name} with ${portVariable(name)} (its metrics follow; 0: any free port)`
        : `port ${internal ? internalPort : port} is in use (by another npm start still running, or another program). Stop that, or move ${name} with ${internal ? internalPortVariable(name) : portVariable(name)} (0: any free port)`
      : err instanceof Error
        ? err.message
        : String(err);
  return new Error(`${name} did not start: ${reason}`, { cause: err });
}

const SECRET_NAMES = ['ADMIN_API_KEY', 'JWT_SECRET', 'CREDENTIALS_ENCRYPTION_KEY', 'INTERNAL_SERVICE_TOKEN', 'DB_APP_PASSWORD', 'EMBEDDED_PG_PASSWORD'] as const;
type Secrets = Record<(typeof SECRET_NAMES)[number], string>;

function generateSecret(name: (typeof SECRET_NAMES)[number]): string {
  if (name === 'CREDENTIALS_ENCRYPTION_KEY') return generateEncryptionKey();
  if (name === 'ADMIN_API_KEY') return `adm_${randomBytes(24).toString('base64url')}`;
  return randomBytes(32).toString('base64url');
}

/**
 * Secrets from the environment, else from `<dataDir>/secrets.json`, else generated and saved
 * there (mode 0600) so that a restart can still decrypt the credentials it stored.
 */
export function loadOrCreateSecrets(env: NodeJS.ProcessEnv, dataDir: string): Secrets {
  const file = path.join(dataDir, 'secrets.json');
  const saved: Partial<Secrets> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const secrets = {} as Secrets;
  let changed = false;
  for (const name of SECRET_NAMES) {
    const value = env[name] || saved[name];
    if (value) secrets[name] = value;
    else {
      secrets[name] = generateSecret(name);
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true });
    const toSave = Object.fromEntries(SECRET_NAMES.filter((n) => !env[n]).map((n) => [n, secrets[n]]));
    writeFileSync(file, JSON.stringify(toSave, null, 2), { mode: 0o600 });
  }
  return secrets;
}

export interface SystemOptions {
  /** The services' environment (DATABASE_URL as the owner, secrets, LOG_LEVEL…). */
  env: NodeJS.ProcessEnv;
  /** Where the embedded PostgreSQL and generated secrets live (when DATABASE_URL is unset). */
  dataDir: string;
  /** Port of the embedded PostgreSQL; default: a free one. */
  embeddedPostgresPort?: number;
  /** Port for each service; default: the contract's. 0 picks a free port. */
  ports?: Partial<Record<ServiceName, number>>;
  /** Internal port for each service that has one; default: its INTERNAL_PORT default. 0 picks a free port. */
  internalPorts?: Partial<Record<ServiceName, number>>;
  /** Only these services (default: all). */
  only?: ServiceName[];
  log?: (line: string) => void;
}

export interface RunningSystem {
  urls: Record<ServiceName, string>;
  /** The internal listeners (/internal/...) of the services that have one. */
  internalUrls: Partial<Record<ServiceName, string>>;
  /** Each service's metrics listener (GET /metrics; METRICS_PORT, by default its port + 6400, or a free port when its port is 0). */
  metricsUrls: Partial<Record<ServiceName, string>>;
  adminApiKey: string;
  secrets: Secrets;
  /** The services' environment (application-role DATABASE_URL, secrets, service URLs). */
  serviceEnv: NodeJS.ProcessEnv;
  ownerDatabaseUrl: string;
  embeddedPostgres: boolean;
  /** The embedded PostgreSQL's and the generated secrets' folder (absolute). */
  dataDir: string;
  services: Partial<Record<ServiceName, RunningService>>;
  stop(): Promise<void>;
}

async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

export interface PreparedDatabase {
  ownerUrl: string;
  secrets: Secrets;
  /** The services' environment: application-role DATABASE_URL, secrets, and `env`'s other variables. */
  serviceEnv: NodeJS.ProcessEnv;
  embedded: boolean;
  stopPostgres(): Promise<void>;
}

/**
 * PostgreSQL (`env.DATABASE_URL`, or an embedded one under `dataDir`, on `embeddedPort` or a free
 * port), migrated as the owner, and the environment services need to connect as the application role.
 */
export async function prepareDatabase(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  options: { log?: (line: string) => void; embeddedPort?: number } = {},
): Promise<PreparedDatabase> {
  const log = options.log ?? (() => undefined);
  const secrets = loadOrCreateSecrets(env, dataDir);
  let pg: PostgresHandle | undefined;
  if (!env.DATABASE_URL) {
    log(`DATABASE_URL is unset: starting an embedded PostgreSQL in ${path.join(dataDir, 'postgres')}`);
    pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), persistent: true, password: secrets.EMBEDDED_PG_PASSWORD, port: options.embeddedPort, log });
  }
  let ownerUrl: string;
  try {
    if (pg) await ensureDatabase(pg.url, 'bridge');
    ownerUrl = pg ? withDatabase(pg.url, 'bridge') : env.DATABASE_URL!;
    const applied = await migrate({ databaseUrl: ownerUrl, appRolePassword: secrets.DB_APP_PASSWORD });
    log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database is up to date');
  } catch (err) {
    await pg?.stop().catch(() => undefined);
    throw err;
  }
  return {
    ownerUrl,
    secrets,
    embedded: !!pg,
    serviceEnv: {
      ...env,
      DATABASE_URL: appRoleUrl(ownerUrl, secrets.DB_APP_PASSWORD),
      ADMIN_API_KEY: secrets.ADMIN_API_KEY,
      JWT_SECRET: secrets.JWT_SECRET,
      // A keyring in the environment stands instead of the single key (the services refuse both).
      CREDENTIALS_ENCRYPTION_KEY: env.CREDENTIALS_ENCRYPTION_KEYS ? undefined : secrets.CREDENTIALS_ENCRYPTION_KEY,
      INTERNAL_SERVICE_TOKEN: secrets.INTERNAL_SERVICE_TOKEN,
      // Each caller's own internal token and the media key, from INTERNAL_SERVICE_TOKEN as the
      // services would derive them, unless the environment has them: written out, because
      // production (the soak and bench run services so) does not derive.
      ...Object.fromEntries(Object.entries(secretsDerivedFrom(secrets.INTERNAL_SERVICE_TOKEN)).filter(([name]) => !env[name])),
    },
    stopPostgres: async () => {
      await pg?.stop().catch(() => undefined);
    },
  };
}

/**
 * Brings the whole platform up in this process: PostgreSQL (DATABASE_URL, or an embedded one),
 * migrations as the owner, then every service as the application role on its port.
 */
export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const env = options.env;
  const dataDir = path.resolve(options.dataDir);
  const chosen = serviceEntries.filter((s) => !options.only || options.only.includes(s.name));
  const ports = Object.fromEntries(chosen.map((s) => [s.name, options.ports?.[s.name] ?? s.port])) as Record<ServiceName, number>;
  const internalPorts: Partial<Record<ServiceName, number>> = Object.fromEntries(
    chosen.filter((s) => s.internal).map((s) => [s.name, options.internalPorts?.[s.name] ?? s.internal!.port]),
  );
  const db = await prepareDatabase(env, dataDir, { log: options.log, embeddedPort: options.embeddedPostgresPort });

  const serviceEnv = db.serviceEnv;
  const services: Partial<Record<ServiceName, RunningService>> = {};
  const urls = {} as Record<ServiceName, string>;
  const internalUrls: Partial<Record<ServiceName, string>> = {};
  const metricsUrls: Partial<Record<ServiceName, string>> = {};
  const stop = async () => {
    for (const s of [...chosen].reverse()) await services[s.name]?.close().catch(() => undefined);
    await db.stopPostgres();
  };
  try {
    for (const s of chosen) {
      const internalPort = internalPorts[s.name];
      // METRICS_PORT unset: each service's own default (its port + 6400; a free one when its port is 0).
      const ownPorts = { PORT: String(ports[s.name]), METRICS_PORT: undefined, ...(internalPort !== undefined ? { INTERNAL_PORT: String(internalPort) } : {}) };
      const running = await s.start({ ...serviceEnv, ...ownPorts }).catch((err: unknown) => {
        throw serviceFailed(s.name, ports[s.name], internalPort, err);
      });
      services[s.name] = running;
      urls[s.name] = `http://127.0.0.1:${running.port}`;
      if (running.internalPort !== undefined) internalUrls[s.name] = `http://127.0.0.1:${running.internalPort}`;
      if (running.metricsPort !== undefined) metricsUrls[s.name] = `http://127.0.0.1:${running.metricsPort}`;
      // Later services find earlier ones at the ports they actually got.
      if (s.urlVar) serviceEnv[s.urlVar] = urls[s.name];
      if (s.internal?.urlVar && internalUrls[s.name]) serviceEnv[s.internal.urlVar] = internalUrls[s.name];
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls, internalUrls, metricsUrls, adminApiKey: db.secrets.ADMIN_API_KEY, secrets: db.secrets, serviceEnv, ownerDatabaseUrl: db.ownerUrl, embeddedPostgres: db.embedded, dataDir, services, stop };
}
