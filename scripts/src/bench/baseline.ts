/**
 * The bare baseline: the least a webhook receiver must do, as a `node:http` + `pg` server in its
 * own process (forked from the bench, so that its CPU is measured apart, like a service's), run
 * alternately with the bridge in phases 1, 2 and 8. NOT part of the product.
 *
 *   POST /webhook/meta/<anything>  read the raw body; parse it; the app secret of the body's first
 *                                  `metadata.phone_number_id` from an in-memory map loaded at start
 *                                  (no lookup per request); `X-Hub-Signature-256` = HMAC-SHA256 of
 *                                  the raw bytes (timing-safe compare), else 401; every message of
 *                                  the body in ONE durable autocommit statement
 *                                  `INSERT … SELECT unnest(…) ON CONFLICT (wamid) DO NOTHING`
 *                                  into bench_baseline_messages (wamid, body jsonb); 200.
 *   GET /state/stats               `X-API-Key`: its SHA-256 looked up in an in-memory map (loaded at
 *                                  start) → tenant; the same indexed count as state-manager's
 *                                  GET /state/stats (state-manager/src/repository.ts `STATS`), one
 *                                  statement, no transaction; 200 with the four counts.
 *
 * Its own pg.Pool of 10 connections (the services' default) as the database's owner (row-level
 * security does not apply: no tenant scope to set). The parent sends the maps over the IPC
 * channel (secrets never go through the environment, a file or a log).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Pool } from 'pg';
import { ownerExec, type BenchTenant } from './seed';

interface BaselineConfig {
  databaseUrl: string;
  /** [phone_number_id, app secret] */
  numbers: Array<[string, string]>;
  /** [SHA-256 hex of the API key, tenant id] */
  keys: Array<[string, string]>;
}

/** state-manager's `STATS` statement, word for word. */
export const BASELINE_STATS_SQL = `SELECT
       (SELECT count(*) FROM conversation_mappings WHERE tenant_id = $1) AS total_mappings,
       (SELECT count(*) FROM conversation_mappings WHERE tenant_id = $1 AND last_message_at > now() - interval '24 hours') AS active_conversations,
       (SELECT COALESCE(sum(inbound + outbound), 0) FROM tenant_usage_daily WHERE tenant_id = $1) AS total_messages,
       (SELECT COALESCE(sum(inbound + outbound), 0) FROM tenant_usage_daily
         WHERE tenant_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date) AS today_messages`;

const INSERT_SQL = `INSERT INTO bench_baseline_messages (wamid, body)
  SELECT * FROM unnest($1::text[], $2::jsonb[]) ON CONFLICT (wamid) DO NOTHING`;

interface MetaBody {
  entry?: Array<{ changes?: Array<{ value?: { metadata?: { phone_number_id?: string }; messages?: Array<{ id: string }> } }> }>;
}

function serve(cfg: BaselineConfig): Promise<number> {
  const pool = new Pool({ connectionString: cfg.databaseUrl, max: 10, application_name: 'bench-baseline' });
  const secrets = new Map(cfg.numbers);
  const keys = new Map(cfg.keys);
  const reply = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/state/stats') {
      const key = req.headers['x-api-key'];
      const tenantId = typeof key === 'string' ? keys.get(createHash('sha256').update(key).digest('hex')) : undefined;
      if (!tenantId) return reply(res, 401, '{"error":"unauthorized"}');
      pool.query({ name: 'stats', text: BASELINE_STATS_SQL, values: [tenantId] }).then(
        ({ rows: [r] }) =>
          reply(res, 200, JSON.stringify({ tenantId, totalMappings: Number(r.total_mappings), totalMessages: Number(r.total_messages), activeConversations: Number(r.active_conversations), todayMessages: Number(r.today_messages) })),
        () => reply(res, 503, '{"error":"database"}'),
      );
      return;
    }
    if (req.method !== 'POST' || !req.url?.startsWith('/webhook/meta/')) return reply(res, 404, '{"error":"not found"}');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: MetaBody;
      try {
        body = JSON.parse(raw.toString('utf8')) as MetaBody;
      } catch {
        return reply(res, 400, '{"error":"bad json"}');
      }
      const values = (body.entry ?? []).flatMap((e) => (e.changes ?? []).map((c) => c.value ?? {}));
      const secret = secrets.get(values[0]?.metadata?.phone_number_id ?? '');
      const header = req.headers['x-hub-signature-256'];
      const given = typeof header === 'string' && header.startsWith('sha256=') ? Buffer.from(header.slice(7), 'hex') : undefined;
      const expected = secret ? createHmac('sha256', secret).update(raw).digest() : undefined;
      if (!expected || !given || given.length !== expected.length || !timingSafeEqual(given, expected)) return reply(res, 401, '{"error":"signature"}');
      const messages = values.flatMap((v) => v.messages ?? []);
      if (!messages.length) return reply(res, 200, '{"ok":true}');
      pool
        .query({ name: 'insert', text: INSERT_SQL, values: [messages.map((m) => m.id), messages.map((m) => JSON.stringify(m))] })
        .then(
          () => reply(res, 200, '{"ok":true}'),
          () => reply(res, 500, '{"error":"database"}'),
        );
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

if (require.main === module) {
  process.once('message', (cfg: BaselineConfig) => {
    serve(cfg).then((port) => process.send!({ port }));
  });
}

export interface Baseline {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Creates bench_baseline_messages as the owner and forks the baseline server with the maps of
 * `tenants` (their Meta numbers' app secrets, their API keys' hashes); resolves when it listens.
 */
export async function startBaseline(ownerUrl: string, tenants: BenchTenant[]): Promise<Baseline> {
  await ownerExec(ownerUrl, 'CREATE TABLE IF NOT EXISTS bench_baseline_messages (wamid text PRIMARY KEY, body jsonb NOT NULL)');
  // The built server (under ts-jest this module is the .ts source, which node cannot run).
  const script = __filename.endsWith('.ts') ? path.resolve(__dirname, '..', '..', 'dist', 'bench', 'baseline.js') : __filename;
  const child: ChildProcess = fork(script, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const cfg: BaselineConfig = {
    databaseUrl: ownerUrl,
    numbers: tenants.map((t) => [t.phoneNumberId, t.appSecret]),
    keys: tenants.flatMap((t) => t.keys.map((k): [string, string] => [createHash('sha256').update(k).digest('hex'), t.id])),
  };
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`the baseline server exited (${code}): ${stderr}`)));
    child.send(cfg);
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
