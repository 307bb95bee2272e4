import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * The short soak (about a minute): `npm run soak` with SOAK_SECONDS=40 on this run's PostgreSQL
 * (it creates and drops a database of its own). The ledger's verdict is the assertion.
 */
it('loses, duplicates, reorders and misroutes nothing through kills, restarts and outages', async () => {
  const owner = process.env.TEST_OWNER_URL;
  if (!owner) throw new Error('run with npm test');
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      process.execPath,
      [path.join(__dirname, '..', 'scripts', 'dist', 'soak.js')],
      { env: { PATH: process.env.PATH, DATABASE_URL: owner, DB_APP_PASSWORD: process.env.DB_APP_PASSWORD, REDIS_URL: process.env.TEST_REDIS_URL || undefined, SOAK_SECONDS: '40' }, timeout: 280_000, maxBuffer: 10_000_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
    );
  });
  if (code !== 0) throw new Error(`soak failed (${code}):\n${output.slice(-4_000)}`);
  for (const line of ['lost           0', 'duplicated     0', 'reordered      0', 'cross-tenant   0']) expect(output).toContain(line);
  expect(output).toMatch(/customer messages acknowledged\s+[1-9]\d*/);
  expect(output).toMatch(/agent replies acknowledged\s+[1-9]\d*/);
  // Two connector processes on the one queue, each killed in turn while the other keeps working,
  // once for longer than the lease so the survivor takes over the dead one's claimed jobs.
  expect(output).toMatch(/^Soak: .*, 2 connector processes, /m);
  expect(output).toContain('chaos: SIGKILL a genesys-connector, restart');
  expect(output).toMatch(/chaos: SIGKILL a genesys-connector, the other takes over its leases/);
  expect(output).toMatch(/genesys-connector killed \(pid \d+\); still running: genesys-connector-2/);
  expect(output).toMatch(/genesys-connector-2 killed \(pid \d+\); still running: genesys-connector\n/);
  expect(output).toContain('chaos: SIGKILL webhook-service, restart');
  // Redis down for longer than Genesys's webhook retries, once (the soak runs a Redis of its own when it can).
  if (spawnSync('redis-server', ['--version']).status === 0) expect(output).toMatch(/chaos: Redis down \d+ s/);
  expect(output).toContain('SOAK PASSED');
}, 300_000);
