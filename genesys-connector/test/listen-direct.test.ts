/**
 * DATABASE_DIRECT_URL: behind a pooler in transaction mode (PgBouncer), a LISTEN sent through the
 * pooler is lost as soon as its server connection goes back to the pool, so the delivery worker
 * would be woken only by its poll. The connector's LISTEN connection goes to DATABASE_DIRECT_URL
 * (PostgreSQL itself) when it is set, and to DATABASE_URL otherwise; everything else stays on
 * DATABASE_URL. The two are told apart here by the application_name each URL carries.
 */
import { Client } from 'pg';
import type { RunningService } from '@bridge/shared';
import { start } from '../src/server';
import { createTestDatabase, type TestDatabase } from '../../test/support/db';
import { serviceEnv } from '../../test/support/env';

let db: TestDatabase;
const started: RunningService[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const s of started) await s.close().catch(() => undefined);
  await db?.drop();
});

function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

/** The sessions of this database, by application_name, with their last statement. */
async function sessions(): Promise<Array<{ application_name: string; query: string }>> {
  const owner = new Client({ connectionString: db.ownerUrl });
  await owner.connect();
  try {
    const { rows } = await owner.query<{ application_name: string; query: string }>(
      'SELECT application_name, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return rows;
  } finally {
    await owner.end();
  }
}

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const listens = (s: { query: string }) => /^LISTEN\b/i.test(s.query);

it('LISTENs on DATABASE_DIRECT_URL when it is set, and works through DATABASE_URL for the rest', async () => {
  const service = await start(
    serviceEnv(withApplicationName(db.appUrl, 'via-pooler'), {
      PORT: '0',
      INTERNAL_PORT: '0',
      REDIS_URL: undefined,
      DATABASE_DIRECT_URL: withApplicationName(db.appUrl, 'direct'),
    }),
  );
  started.push(service);
  const rows = await eventually(sessions, (r) => r.some(listens), 'a LISTEN session');
  expect(rows.filter(listens).map((s) => s.application_name)).toEqual(['direct']);
  // The pool (claims, the readiness check) is on DATABASE_URL.
  const ready = await fetch(`http://127.0.0.1:${service.port}/ready`);
  expect(ready.status).toBe(200);
  expect((await sessions()).filter((s) => !listens(s)).map((s) => s.application_name)).toContain('via-pooler');
  expect((await sessions()).filter((s) => !listens(s) && s.application_name === 'direct')).toEqual([]);
  await service.close();
});

it('LISTENs on DATABASE_URL when DATABASE_DIRECT_URL is unset', async () => {
  const service = await start(serviceEnv(withApplicationName(db.appUrl, 'only-url'), { PORT: '0', INTERNAL_PORT: '0', REDIS_URL: undefined }));
  started.push(service);
  // (The previous test's sessions may take a moment to go.)
  const rows = await eventually(sessions, (r) => r.filter(listens).length === 1 && r.some((s) => listens(s) && s.application_name === 'only-url'), 'one LISTEN session');
  expect(rows.filter(listens).map((s) => s.application_name)).toEqual(['only-url']);
  await service.close();
});
