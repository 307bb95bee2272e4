/**
 * `npm test`: prepares the databases and runs Jest.
 *
 * - PostgreSQL: DATABASE_URL (an owner/superuser connection) when set, otherwise an embedded
 *   PostgreSQL started for the run. A template database is migrated once; each test file clones
 *   it and connects as the unprivileged application role.
 * - Redis: REDIS_URL when set, otherwise 127.0.0.1:6379 if something answers there. Without one,
 *   the Redis-backed suites are skipped and the run says so; with REQUIRE_ALL_TESTS=1 (set by
 *   .ci/run) a missing Redis fails the run instead.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { migrate } from '@bridge/migrations';
import { parseEnv } from '@bridge/shared';
import { scriptsConfigSchema } from './config';
import { startEmbeddedPostgres, withDatabase, type PostgresHandle } from './postgres';
import { redisAnswers } from './redis-ping';

const ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<number> {
  const config = parseEnv(scriptsConfigSchema);
  const strict = config.REQUIRE_ALL_TESTS;
  const jestArgs = process.argv.slice(2);
  let embedded: PostgresHandle | undefined;
  let dataDir: string | undefined;
  let ownerUrl = config.DATABASE_URL;
  if (!ownerUrl) {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'bridge-test-pg-'));
    process.stdout.write('DATABASE_URL is unset: starting an embedded PostgreSQL for the tests\n');
    embedded = await startEmbeddedPostgres({ dataDir, persistent: false });
    ownerUrl = embedded.url;
  }

  const redisUrl = config.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const haveRedis = await redisAnswers(redisUrl);
  if (!haveRedis) {
    const msg = `No Redis answers at ${redisUrl}: the Redis-backed suites will be SKIPPED (in-process cache suites still run)`;
    if (strict) {
      process.stderr.write(`${msg}, and REQUIRE_ALL_TESTS=1 forbids skipping. Failing.\n`);
      await embedded?.stop();
      return 1;
    }
    process.stdout.write(`\n*** ${msg} ***\n\n`);
  }

  const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const template = `bridge_tpl_${run}`;
  const appPassword = randomBytes(18).toString('base64url');
  const admin = new Client({ connectionString: ownerUrl });
  await admin.connect();
  let code = 1;
  try {
    await admin.query(`CREATE DATABASE ${template}`);
    await migrate({ databaseUrl: withDatabase(ownerUrl, template), appRolePassword: appPassword });
    // Clones need the template to have no sessions; mark it a template so nobody else uses it.
    await admin.query(`ALTER DATABASE ${template} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);

    code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [require.resolve('jest/bin/jest'), ...jestArgs], {
        cwd: ROOT,
        stdio: 'inherit',
        // Jest's environment: this one (the tests read what they need), plus the run's databases.
        env: {
          ...process.env,
          NODE_ENV: 'test',
          TEST_OWNER_URL: ownerUrl,
          TEST_TEMPLATE_DB: template,
          TEST_RUN_ID: run,
          DB_APP_PASSWORD: appPassword,
          TEST_REDIS_URL: haveRedis ? redisUrl : '',
        },
      });
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
  } finally {
    const leftovers = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`bridge_%${run}%`]);
    for (const { datname } of leftovers.rows) {
      await admin.query(`ALTER DATABASE ${datname} WITH IS_TEMPLATE false`).catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => undefined);
    }
    await admin.end();
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
  if (!haveRedis) process.stdout.write(`\n*** Reminder: Redis-backed suites were SKIPPED (no Redis at ${redisUrl}) ***\n`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`Test run failed to start: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
