/**
 * `npm start`: the whole platform in one process. PostgreSQL from DATABASE_URL, or an embedded
 * one under .data/ when it is unset; Redis from REDIS_URL, or in-process caches when it is unset
 * (which is why every service runs in this one process: they share those caches). Ctrl-C stops
 * everything cleanly.
 */
import path from 'node:path';
import { parseEnv } from '@bridge/shared';
import { startConfigSchema, type StartConfig } from './config';
import { internalPortVariable, portVariable, serviceEntries, startSystem } from './system';

async function main() {
  const config = parseEnv(startConfigSchema);
  const portOf = (variable: string) => config[variable as keyof StartConfig] as number | undefined;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const system = await startSystem({
    log: out,
    // The services' own environment: they parse it themselves.
    env: { LOG_LEVEL: 'warn', ...process.env },
    dataDir: config.BRIDGE_DATA_DIR,
    embeddedPostgresPort: config.EMBEDDED_PG_PORT,
    ports: Object.fromEntries(serviceEntries.map((s) => [s.name, portOf(portVariable(s.name))])),
    internalPorts: Object.fromEntries(serviceEntries.filter((s) => s.internal).map((s) => [s.name, portOf(internalPortVariable(s.name))])),
  });
  out('');
  out('WhatsApp ⇄ Genesys bridge is up:');
  for (const [name, url] of Object.entries(system.urls)) out(`  ${name.padEnd(18)} ${url}`);
  const internal = Object.entries(system.internalUrls).map(([name, url]) => `${name} ${url}`);
  out(`  Internal routes (/internal/..., never publish these): ${internal.join(', ')}`);
  const metrics = Object.entries(system.metricsUrls).map(([name, url]) => `${name} ${url}/metrics`);
  out(`  Metrics (Prometheus, never publish these): ${metrics.join(', ')}`);
  out('');
  const dataDir = path.relative(process.cwd(), system.dataDir) || '.';
  out(`  PostgreSQL: ${system.embeddedPostgres ? `embedded (${path.join(dataDir, 'postgres')})` : 'DATABASE_URL'}; cache: ${config.REDIS_URL ? 'Redis (REDIS_URL)' : 'in-process'}`);
  out(`  Admin API key (Authorization: Bearer ...): ${system.adminApiKey}`);
  if (!config.ADMIN_API_KEY) out(`  (generated and kept in ${path.join(dataDir, 'secrets.json')}; set ADMIN_API_KEY to choose your own)`);
  out('');
  out(`  Try: curl -s -H "Authorization: Bearer ${system.adminApiKey}" ${system.urls['tenant-service']}/tenants`);
  out(`  Admin console (sign in with the admin key): ${system.urls['tenant-service']}/console/`);
  out('  Ctrl-C stops everything.');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    out(`\n${signal}: stopping…`);
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    system.stop().then(
      () => {
        out('Stopped.');
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** PostgreSQL errors (pg's codes) that mean DATABASE_URL points at nothing usable. */
const UNUSABLE_DATABASE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', '28P01', '28000', '3D000']);

/** What failed, and what to do when the reason alone does not say. */
function failure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (process.env.DATABASE_URL && code && UNUSABLE_DATABASE.has(code)) {
    return `${message}\n  The PostgreSQL at DATABASE_URL cannot be used: check that it runs and that DATABASE_URL is right, or unset DATABASE_URL to use an embedded PostgreSQL.`;
  }
  return message;
}

main().catch((err: unknown) => {
  process.stderr.write(`Failed to start: ${failure(err)}\n`);
  process.exit(1);
});
