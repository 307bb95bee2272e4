import { Database, createOutbox, enqueue, lanes, type Job, type NewJob, type Outbox } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../../test/support/db';

/** A job's row as the table holds it (read as the owner, whatever the tenant). */
export interface OutboxRow {
  tenant_id: string;
  id: string;
  kind: string;
  lane: string;
  ordering: Date;
  message_id: string | null;
  event_id: string | null;
  payload: Record<string, unknown>;
  state: string;
  attempts: number;
  paced: number;
  next_attempt_at: Date;
  locked_until: Date | null;
  last_error: string | null;
  created_at: Date;
}

export const TENANTS = ['tenant-a', 'tenant-b'] as const;

/**
 * A migrated database of the test file's own, used as the unprivileged application role, with
 * two tenants; `reset()` empties the queue and the messages between tests (the claim sees every tenant's jobs).
 */
export interface Queue {
  tdb: TestDatabase;
  db: Database;
  outbox: Outbox;
  /** Queues a job the way the services do (in a tenant's transaction); defaults: tenant-a, a message to Genesys. */
  add(job?: Partial<NewJob>): Promise<string>;
  /** An inbound message row; returns its id. */
  message(tenantId?: string): Promise<string>;
  row(id: string): Promise<OutboxRow>;
  messageRow(id: string): Promise<{ uncertain_attempts: number; status: string }>;
  /** Runs SQL as the owner (to move time, e.g. make a job due or old). */
  owner<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function openQueue(): Promise<Queue> {
  const tdb = await createTestDatabase();
  const db = new Database({ connectionString: tdb.appUrl });
  for (const t of TENANTS) await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [t]);
  const owner = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<T>(tdb, sql, params);
  return {
    tdb,
    db,
    outbox: createOutbox(db),
    owner,
    add: (job = {}) => {
      const full: NewJob = { tenantId: 'tenant-a', kind: 'to_genesys_message', lane: lanes.inbound('15550000001'), ...job };
      return db.withTenant(full.tenantId, (q) => enqueue(q, full));
    },
    message: (tenantId = 'tenant-a') =>
      db.withTenant(tenantId, async (q) => {
        const { rows } = await q.query<{ id: string }>(
          `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type) VALUES ($1, 'inbound', '15550000001', gen_random_uuid()::text, 'text') RETURNING id::text`,
          [tenantId],
        );
        return rows[0].id;
      }),
    row: async (id) => (await owner<OutboxRow>('SELECT *, id::text, message_id::text, event_id::text FROM outbox WHERE id = $1', [id]))[0],
    messageRow: async (id) => (await owner<{ uncertain_attempts: number; status: string }>('SELECT uncertain_attempts, status FROM message_tracking WHERE id = $1', [id]))[0],
    reset: async () => {
      await owner('DELETE FROM outbox');
      await owner('DELETE FROM message_tracking');
    },
    close: async () => {
      await db.close();
      await tdb.drop();
    },
  };
}

/**
 * Registers the test file's hooks: a queue of its own, opened before all, emptied before each
 * test, closed after all. Use at the top level of the file.
 */
export function useQueue(): Queue {
  let queue: Queue | undefined;
  beforeAll(async () => {
    queue = await openQueue();
  });
  afterAll(() => queue?.close());
  beforeEach(() => queue!.reset());
  return new Proxy({} as Queue, { get: (_target, key) => queue![key as keyof Queue] });
}

/** Milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A long lease: the job stays in flight for the whole test. */
export const LEASE = 60_000;

/** Sender times, in order. */
export const at = (second: number) => new Date(Date.UTC(2025, 0, 1, 12, 0, second));

/**
 * Claims the next due job twice, as two workers do when the first stalls past its lease (a GC
 * pause, a partition): `stale` is the first claim, whose lease ran out; `current` is the claim
 * that took the job since.
 */
export async function claimedTwice(queue: Queue): Promise<{ stale: Job; current: Job }> {
  const [stale] = await queue.outbox.claim(1, LEASE, []);
  await queue.owner(`UPDATE outbox SET locked_until = now() - interval '1 second' WHERE id = $1`, [stale.id]);
  const [current] = await queue.outbox.claim(1, LEASE, []);
  expect(current).toMatchObject({ id: stale.id, attempts: stale.attempts + 1 });
  return { stale, current };
}

/** Lets a claim's lease run out with no other claim taking the job (the worker was only slow). */
export const lapse = (queue: Queue, job: Job) => queue.owner(`UPDATE outbox SET locked_until = now() - interval '1 second' WHERE id = $1`, [job.id]);
