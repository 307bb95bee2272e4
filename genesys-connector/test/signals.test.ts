import {
  Database,
  SIGNAL_RETRIES,
  createOutbox,
  queueAgentActivitySignal,
  type Job,
  type MetaCredentials,
  type Outbox,
} from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { createDeliveries } from '../src/deliveries';
import { metaSendError } from '../src/meta-client';
import { createSignalDelivery } from '../src/signals';
import { fromNetworkError } from '../src/errors';

/**
 * Delivering read marks and typing indicators (`to_whatsapp_signal`) against a real PostgreSQL,
 * Meta faked: each is checked again before the call (the tenant's setting, the window, its age, a
 * later mark), tried a few times within a minute on transient failures, and otherwise dropped —
 * removed from the queue, never a dead letter.
 */
let tdb: TestDatabase;
let db: Database;
let outbox: Outbox;
const T = 'tenant-signals';
const credentials = { appSecret: 's', verifyToken: 'v', accessToken: 'EAAG-token', phoneNumberId: '106540352242922' } as MetaCredentials;
let calls: Array<{ wamid: string; typing: boolean }> = [];
let failures: Error[] = [];
let hasCredentials = true;
let clock = 0;
const logged: Array<{ msg: string; reason?: string }> = [];
let n = 0;

const deliver = () =>
  createSignalDelivery({
    db,
    outbox,
    meta: {
      markRead: async (_c, signal) => {
        const failure = failures.shift();
        if (failure) throw failure;
        calls.push(signal);
      },
    },
    credentials: { meta: async () => (hasCredentials ? credentials : undefined) },
    logger: {
      debug: ((o: { reason?: string }, msg: string) => void logged.push({ msg, reason: o.reason })) as never,
      info: ((o: { reason?: string }, msg: string) => void logged.push({ msg, reason: o.reason })) as never,
    },
    now: () => Date.now() + clock,
  });

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  outbox = createOutbox(db);
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [T]);
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});
beforeEach(async () => {
  calls = [];
  failures = [];
  hasCredentials = true;
  clock = 0;
  logged.length = 0;
  await ownerQuery(tdb, 'DELETE FROM outbox');
  await ownerQuery(tdb, "UPDATE tenants SET mark_read = 'on-agent-activity'");
});

const owner = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<R>(tdb, sql, params);

/** A customer who just wrote; returns their number and message's wamid. */
async function customer(): Promise<{ waId: string; wamid: string }> {
  const waId = `1650555${String(2000 + ++n)}`;
  const wamid = `wamid.${waId}`;
  await owner(`INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type, status) VALUES ($1, 'inbound', $2, $3, 'text', 'delivered')`, [T, waId, wamid]);
  await owner('INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at) VALUES ($1, $2, now())', [T, waId]);
  return { waId, wamid };
}

/** The agent types (or replies) to `waId`, and the worker claims the signal it queued. */
async function claimedSignal(waId: string, activity: 'typing' | 'reply' = 'typing'): Promise<Job> {
  expect(await db.withTenant(T, (q) => queueAgentActivitySignal(q, T, waId, activity))).toBeDefined();
  const [job] = await outbox.claim(1, 60_000, []);
  expect(job.kind).toBe('to_whatsapp_signal');
  return job;
}

/** Claims the job again, as the worker does for a retry (attempts + 1). */
async function reclaimed(): Promise<Job> {
  await owner('UPDATE outbox SET locked_until = NULL, next_attempt_at = now()');
  const [job] = await outbox.claim(1, 60_000, []);
  return job;
}

const queued = () => owner<{ kind: string; state: string }>('SELECT kind, state FROM outbox');

describe('a typing indicator', () => {
  it('is sent on its message with the typing indicator, and its job removed', async () => {
    const c = await customer();
    await deliver()(await claimedSignal(c.waId));
    expect(calls).toEqual([{ wamid: c.wamid, typing: true }]);
    expect(await queued()).toEqual([]);
  });

  it('is dropped unsent once the customer’s window closed, or once older than its interval', async () => {
    const closed = await customer();
    const job = await claimedSignal(closed.waId);
    await owner(`UPDATE conversation_mappings SET last_inbound_at = now() - interval '24 hours 1 second' WHERE wa_id = $1`, [closed.waId]);
    await deliver()(job);

    const late = await customer();
    const lateJob = await claimedSignal(late.waId);
    clock = SIGNAL_RETRIES.typingFreshMs + 1000;
    await deliver()(lateJob);

    expect(calls).toEqual([]);
    expect(await queued()).toEqual([]);
    expect(logged.map((l) => l.reason)).toEqual(["the customer's 24-hour window is closed", 'the agent typed 21 s ago']);
  });
});

describe('a read mark', () => {
  it('is sent without the typing indicator', async () => {
    const c = await customer();
    await deliver()(await claimedSignal(c.waId, 'reply'));
    expect(calls).toEqual([{ wamid: c.wamid, typing: false }]);
  });

  it('is dropped when a later one covers it, when the tenant now says never, or without Meta credentials', async () => {
    const covered = await customer();
    const job = await claimedSignal(covered.waId, 'reply');
    await owner('UPDATE conversation_mappings SET read_through = read_through + 1000 WHERE wa_id = $1', [covered.waId]);
    await deliver()(job);

    const never = await customer();
    const neverJob = await claimedSignal(never.waId, 'reply');
    await owner("UPDATE tenants SET mark_read = 'never'");
    await deliver()(neverJob);
    await owner("UPDATE tenants SET mark_read = 'on-agent-activity'");

    const bare = await customer();
    const bareJob = await claimedSignal(bare.waId, 'reply');
    hasCredentials = false;
    await deliver()(bareJob);

    expect(calls).toEqual([]);
    expect(await queued()).toEqual([]);
    expect(logged.map((l) => l.reason)).toEqual(['a later read mark covers it', 'the tenant no longer marks messages read', 'the tenant has no Meta credentials']);
  });
});

describe('a failing signal', () => {
  it('is retried on a transient failure up to its attempts, then dropped, never dead-lettered', async () => {
    const c = await customer();
    failures = [metaSendError(500, { code: 131000, message: 'Something went wrong' }), fromNetworkError({ code: 'ECONNRESET' }, 'Meta'), metaSendError(503, { code: 131016 })];
    const first = await claimedSignal(c.waId);
    await expect(deliver()(first)).rejects.toMatchObject({ kind: 'transient', metaCode: 131000 });
    await expect(deliver()(await reclaimed())).rejects.toMatchObject({ kind: 'transient', code: 'NETWORK_ERROR' });
    const third = await reclaimed();
    expect(third.attempts).toBe(SIGNAL_RETRIES.maxAttempts);
    await deliver()(third);
    expect(calls).toEqual([]);
    expect(await queued()).toEqual([]);
    expect(logged.map((l) => l.msg)).toEqual(['read mark or typing indicator dropped']);
  });

  it('is dropped at once on a permanent failure (an unknown wamid: 131009) or past its budget', async () => {
    const c = await customer();
    failures = [metaSendError(400, { code: 131009, message: '(#131009) Parameter value is not valid' })];
    await deliver()(await claimedSignal(c.waId, 'reply'));
    expect(await queued()).toEqual([]);

    const d = await customer();
    const job = await claimedSignal(d.waId, 'reply');
    clock = SIGNAL_RETRIES.budgetMs + 1000;
    await deliver()(job);
    expect(calls).toEqual([]);
    expect(await queued()).toEqual([]);
    expect(logged.map((l) => l.reason)).toEqual([expect.stringContaining('Parameter value is not valid'), 'queued 61 s ago']);
  });
});

describe('a signal Meta asks to wait', () => {
  it('longer than its budget (Retry-After: an hour) is dropped at once, so it holds no later signal of the customer behind it', async () => {
    const c = await customer();
    failures = [metaSendError(429, { code: 130429, message: 'Rate limit hit' }, '3600')];
    await deliver()(await claimedSignal(c.waId));
    expect(await queued()).toEqual([]);
    expect(logged.map((l) => l.msg)).toEqual(['read mark or typing indicator dropped']);
    // Its lane is free: the agent's next activity (after the typing interval) is sent at once.
    await owner('UPDATE conversation_mappings SET typing_until = NULL WHERE tenant_id = $1 AND wa_id = $2', [T, c.waId]);
    await deliver()(await claimedSignal(c.waId));
    expect(calls).toEqual([{ wamid: c.wamid, typing: true }]);
  });

  it('within its budget (Retry-After: 5 s) is retried as usual', async () => {
    const c = await customer();
    failures = [metaSendError(429, { code: 130429, message: 'Rate limit hit' }, '5')];
    await expect(deliver()(await claimedSignal(c.waId))).rejects.toMatchObject({ kind: 'transient', retryAfterMs: 5000 });
  });
});

describe('the deliveries', () => {
  it('hand signal jobs to the signal delivery, and without one drop them unsent', async () => {
    const c = await customer();
    const job = await claimedSignal(c.waId);
    const deliveries = createDeliveries({
      db,
      outbox,
      notifier: { touch: () => undefined },
      genesys: { send: async () => ({}) as never, agentless: async () => undefined as never },
      meta: { send: async () => 'wamid.x' },
      credentials: { meta: async () => credentials },
      mediaUrl: () => '',
    });
    await deliveries.deliver(job);
    expect(await queued()).toEqual([]);
    expect(calls).toEqual([]);
  });
});
