import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isRunning } from '../src/postgres';

/**
 * `npm start` with its embedded PostgreSQL, run as a user runs it (`node scripts/dist/start.js`,
 * its own process group as in a terminal), on free ports and a temporary data directory.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const FREE_PORTS = {
  TENANT_SERVICE_PORT: '0',
  AUTH_SERVICE_PORT: '0',
  STATE_MANAGER_PORT: '0',
  GENESYS_CONNECTOR_PORT: '0',
  WEBHOOK_SERVICE_PORT: '0',
  GATEWAY_PORT: '0',
  TENANT_SERVICE_INTERNAL_PORT: '0',
  AUTH_SERVICE_INTERNAL_PORT: '0',
  GENESYS_CONNECTOR_INTERNAL_PORT: '0',
};

interface Run {
  proc: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the platform says it is up; rejects if the command exits first. */
  up: Promise<{ urls: Record<string, string>; adminKey: string }>;
}

const runs: Run[] = [];
const dataDirs: string[] = [];

function newDataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bridge-start-'));
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data folder.
  chmodSync(dir, 0o755);
  dataDirs.push(dir);
  return dir;
}

function npmStart(dataDir: string, env: Record<string, string> = {}): Run {
  const proc = spawn(process.execPath, [path.join(ROOT, 'scripts', 'dist', 'start.js')], {
    cwd: ROOT,
    // No DATABASE_URL or REDIS_URL: the embedded PostgreSQL and in-process caches. API key use is
    // written only on shutdown, so the Ctrl-C test sees whether that last write happens.
    env: { PATH: process.env.PATH, BRIDGE_DATA_DIR: dataDir, LAST_USED_FLUSH_MS: '600000', ...FREE_PORTS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const up = new Promise<{ urls: Record<string, string>; adminKey: string }>((resolve, reject) => {
    const check = () => {
      if (!output.includes('Ctrl-C stops everything.')) return;
      proc.stdout!.off('data', check);
      const urls = Object.fromEntries([...output.matchAll(/^ {2}([a-z-]+)\s+(http:\/\/127\.0\.0\.1:\d+)$/gm)].map((m) => [m[1], m[2]]));
      resolve({ urls, adminKey: /Admin API key .*: (\S+)$/m.exec(output)![1] });
    };
    proc.stdout!.on('data', check);
    void exited.then(({ code, signal }) => reject(new Error(`npm start exited (${signal ?? code}) before it was up:\n${output}`)));
  });
  up.catch(() => undefined);
  const run = { proc, pid: proc.pid!, output: () => output, exited, up };
  runs.push(run);
  return run;
}

/** `npm start` on a new data directory, once it is up. */
async function startOnNewDataDir() {
  const dataDir = newDataDir();
  const first = npmStart(dataDir);
  return { dataDir, first, up: await first.up };
}

/** The postmaster's pid, from the lock file PostgreSQL keeps in its data directory. */
function postmasterPid(dataDir: string): number | undefined {
  const file = path.join(dataDir, 'postgres', 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

/** A process's parent (Linux). */
function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function waitUntil(condition: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!condition()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

/** Ctrl-C in the terminal: SIGINT to the whole foreground process group. */
async function ctrlC(run: Run): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  process.kill(-run.pid, 'SIGINT');
  return within(run.exited, 20_000, 'exit after Ctrl-C');
}

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  return (await fetch(url, { headers })).status;
}

async function createTenant(up: { urls: Record<string, string>; adminKey: string }): Promise<{ tenantId: string; apiKey: string }> {
  const tenantId = `start-${Date.now().toString(36)}`;
  const res = await fetch(`${up.urls['tenant-service']}/tenants`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${up.adminKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ tenantId, name: 'Start test' }),
  });
  expect(res.status).toBe(201);
  return { tenantId, apiKey: ((await res.json()) as { apiKey: string }).apiKey };
}

afterAll(async () => {
  for (const run of runs) {
    if (run.proc.exitCode === null && run.proc.signalCode === null) {
      process.kill(-run.pid, 'SIGINT');
      await within(run.exited, 20_000, 'exit').catch(() => process.kill(-run.pid, 'SIGKILL'));
    }
  }
  for (const dir of dataDirs) {
    const pid = postmasterPid(dir);
    if (pid && isRunning(pid)) {
      process.kill(pid, 'SIGINT');
      await waitUntil(() => !isRunning(pid), 15_000).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

it('after a kill -9, the embedded PostgreSQL stops within seconds, and the next start comes up on the same data', async () => {
  const { dataDir, first, up } = await startOnNewDataDir();
  const tenant = await createTenant(up);
  const postmaster = postmasterPid(dataDir)!;
  expect(isRunning(postmaster)).toBe(true);

  process.kill(first.pid, 'SIGKILL');
  await first.exited;
  const outlived = await waitUntil(() => !isRunning(postmaster), 10_000).catch(() => -1);
  expect(outlived).toBeGreaterThanOrEqual(0);

  const second = npmStart(dataDir);
  const again = await second.up;
  expect(await status(`${again.urls.gateway}/ready`)).toBe(200);
  expect(await status(`${again.urls['tenant-service']}/tenants/${tenant.tenantId}`, { Authorization: `Bearer ${again.adminKey}` })).toBe(200);
  expect(second.output()).not.toMatch(/TypeError/);
  expect((await ctrlC(second)).code).toBe(0);
}, 120_000);

it('stops the embedded PostgreSQL that a dead run left running (its watchdog killed too), then comes up', async () => {
  const { dataDir, first } = await startOnNewDataDir();
  const postmaster = postmasterPid(dataDir)!;
  const keeper = parentPid(postmaster);
  // Everything but PostgreSQL itself dies at once (kill -9 of both, an out-of-memory kill, ...).
  process.kill(first.pid, 'SIGKILL');
  if (keeper !== first.pid) process.kill(keeper, 'SIGKILL');
  await first.exited;
  await new Promise((r) => setTimeout(r, 500));
  expect(isRunning(postmaster)).toBe(true);

  const second = npmStart(dataDir);
  const up = await second.up;
  expect(isRunning(postmaster)).toBe(false);
  expect(await status(`${up.urls.gateway}/ready`)).toBe(200);
  expect(second.output()).toContain(`left running`);
  expect(second.output()).not.toMatch(/TypeError/);
  expect((await ctrlC(second)).code).toBe(0);
}, 120_000);

it('Ctrl-C stops the services before PostgreSQL: the pending API key use is written, no error logged, exit 0', async () => {
  const { dataDir, first, up } = await startOnNewDataDir();
  const tenant = await createTenant(up);
  expect(await status(`${up.urls.gateway}/state/stats`, { 'X-API-Key': tenant.apiKey })).toBe(200);
  const postmaster = postmasterPid(dataDir)!;

  const exit = await ctrlC(first);
  expect(first.output()).not.toContain('could not record');
  expect(first.output()).toContain('Stopped.');
  expect(exit).toEqual({ code: 0, signal: null });
  expect(isRunning(postmaster)).toBe(false);

  const second = npmStart(dataDir);
  const again = await second.up;
  const keys = await fetch(`${again.urls['tenant-service']}/tenants/${tenant.tenantId}/api-keys`, { headers: { Authorization: `Bearer ${again.adminKey}` } });
  expect(((await keys.json()) as Array<{ lastUsedAt: string | null }>)[0].lastUsedAt).not.toBeNull();
  expect((await ctrlC(second)).code).toBe(0);
}, 120_000);

it('refuses a data directory a running npm start is using: says which process, and leaves that one running', async () => {
  const { dataDir, first, up } = await startOnNewDataDir();

  const second = npmStart(dataDir);
  const { code } = await within(second.exited, 60_000, 'second start');
  expect(code).toBe(1);
  expect(second.output()).toContain('Failed to start');
  expect(second.output()).toContain(`pid ${first.pid}`);
  expect(second.output()).not.toMatch(/TypeError/);
  expect(await status(`${up.urls.gateway}/ready`)).toBe(200);
  expect((await ctrlC(first)).code).toBe(0);
}, 120_000);

it.each([
  ['gateway', 'GATEWAY_PORT'],
  ['tenant-service', 'TENANT_SERVICE_INTERNAL_PORT'],
])('a port taken (%s, %s): names the service and the variable that moves it, exits 1, and leaves no PostgreSQL running', async (service, variable) => {
  const dataDir = newDataDir();
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '0.0.0.0', resolve));
  const { port } = squatter.address() as net.AddressInfo;
  try {
    const run = npmStart(dataDir, { [variable]: String(port) });
    const { code } = await within(run.exited, 60_000, 'start');
    expect(code).toBe(1);
    expect(run.output()).toMatch(new RegExp(`Failed to start: ${service}.*${port}`));
    expect(run.output()).toContain(variable);
    expect(run.output()).not.toMatch(/TypeError/);
    const postmaster = postmasterPid(dataDir);
    expect(postmaster === undefined || !isRunning(postmaster)).toBe(true);
  } finally {
    squatter.close();
  }
}, 120_000);
