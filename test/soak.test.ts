import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * The short soak (about a minute and a half): `npm run soak -- --replicas 2` with SOAK_SECONDS=40
 * on this run's PostgreSQL (it creates and drops a database of its own): two processes of every
 * service, behind round-robin TCP fronts. The ledger's verdict is the assertion. Nothing here is
 * timed: the soak stretches its traffic until every kind of chaos event and every check has
 * happened, and waits for conditions (deliveries, restarts) with generous deadlines, so a loaded
 * machine makes it slower, not red.
 */
it('loses, duplicates, reorders and misroutes nothing through kills of any replica, restarts and outages; revocation and rate limits hold across gateways', async () => {
  const owner = process.env.TEST_OWNER_URL;
  if (!owner) throw new Error('run with npm test');
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      process.execPath,
      [path.join(__dirname, '..', 'scripts', 'dist', 'soak.js'), '--replicas', '2'],
      { env: { PATH: process.env.PATH, DATABASE_URL: owner, DB_APP_PASSWORD: process.env.DB_APP_PASSWORD, REDIS_URL: process.env.TEST_REDIS_URL || undefined, SOAK_SECONDS: '40' }, timeout: 840_000, maxBuffer: 10_000_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
    );
  });
  if (code !== 0) throw new Error(`soak failed (${code}):\n${output.slice(-4_000)}`);
  for (const line of [
    'lost           0',
    'duplicated     0',
    'reordered      0',
    'cross-tenant   0',
    'revoked key accepted late (across gateways)   0',
    'accepted beyond the rate limit (across gateways)   0',
  ]) {
    expect(output).toContain(line);
  }
  expect(output).toMatch(/customer messages acknowledged\s+[1-9]\d*/);
  expect(output).toMatch(/agent replies acknowledged\s+[1-9]\d*/);
  // Two processes of every service; the two connectors on the one queue both delivered, each
  // killed in turn while the other kept working, once for longer than the lease so the survivor
  // took over the dead one's claimed jobs (and per-conversation order held across them: "reordered 0").
  expect(output).toMatch(/^Soak: .*, 2 connector processes, 2 of every other service, /m);
  expect(output).toMatch(/API requests by connector\s+genesys-connector [1-9]\d* to Genesys, [1-9]\d* to Meta; genesys-connector-2 [1-9]\d* to Genesys, [1-9]\d* to Meta/);
  expect(output).toMatch(/delivered into by more than one connector\s+[1-9]\d* of/);
  expect(output).toContain('chaos: SIGKILL a genesys-connector, restart');
  expect(output).toMatch(/chaos: SIGKILL a genesys-connector, the other takes over its leases/);
  expect(output).toMatch(/genesys-connector killed \(pid \d+\); still running: genesys-connector-2/);
  expect(output).toMatch(/genesys-connector-2 killed \(pid \d+\); still running: genesys-connector\n/);
  // A webhook-service replica SIGKILLed and a gateway replica SIGTERMed while the other served.
  expect(output).toMatch(/webhook-service(-2)? killed \(pid \d+\); still running: webhook-service(-2)?\n/);
  expect(output).toMatch(/gateway(-2)? sent SIGTERM \(pid \d+\); still running: gateway(-2)?\n/);
  expect(output).toMatch(/gateway(-2)? (exited \d+ ms after SIGTERM|had not exited \d+ s after SIGTERM: SIGKILLed)/);
  expect(output).toMatch(/connections per replica \(fronts\)\s+.*gateway [1-9]\d*\/[1-9]\d*/);
  // A key revoked mid-run was refused by both gateways, within the bound.
  expect(output).toMatch(/revocation across gateways\s+[1-9]\d* checks .*unverified: 0/);
  const redisServer = spawnSync('redis-server', ['--version']).status === 0;
  if (redisServer || process.env.TEST_REDIS_URL) {
    // Counted in the shared Redis: the tenant's limit over both gateways, not twice it.
    expect(output).toMatch(/rate limit across gateways\s+([1-9]|1\d|20) of (6\d|[7-9]\d|\d{3}) requests accepted at 20\/min over 2 gateways/);
  }
  // Redis down for longer than Genesys's webhook retries, once (the soak runs a Redis of its own
  // when it can), with a revocation made during it.
  if (redisServer) {
    expect(output).toMatch(/chaos: Redis down \d+ s/);
    expect(output).toMatch(/revocation across gateways\s+\d+ checks \(1 during the Redis outage\)/);
  }
  expect(output).toContain('SOAK PASSED');
}, 900_000);
