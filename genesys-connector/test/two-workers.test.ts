import { Writable } from 'node:stream';
import { Database, createLogger, createOutbox, lanes, type Job, type MetaCredentials, type Outbox } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { createDeliveries } from '../src/deliveries';
import type { GenesysInboundMessage, MetaSendBody } from '../src/mapping';
import { DeliveryWorker } from '../src/worker';

/**
 * Two connector replicas on one queue, one of them stalled past its lease in the middle of a
 * send (a GC pause, a partition: its lease renewals stop too) while the other claims the job
 * again. The stale worker's late writes are fenced out: it cannot remove the job from under the
 * worker that now holds it (letting the next message of the lane overtake it), nor overwrite its
 * progress so that parts go out twice. Real PostgreSQL, the providers faked.
 */
let tdb: TestDatabase;
const T = 'tenant-a';
const WA = '16505550101';
const LEASE_MS = 1_000;
const credentials = { appSecret: 's', verifyToken: 'v', accessToken: 'EAAG-token', phoneNumberId: '106540352242922' } as MetaCredentials;

beforeAll(async () => {
  tdb = await createTestDatabase();
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [T]);
  // The customer has written: the agent's replies go inside their 24-hour window.
  await ownerQuery(tdb, 'INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at) VALUES ($1, $2, now())', [T, WA]);
});
afterAll(() => tdb.drop());
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((r) => r.stop()));
  await ownerQuery(tdb, 'DELETE FROM outbox');
  await ownerQuery(tdb, 'DELETE FROM message_tracking');
});

const owner = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<R>(tdb, sql, params);

/** A promise to open later. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What reached the providers, in order of arrival, and from which replica. */
let arrivals: Array<{ label: string; by: string }> = [];
const arrived = (label: string) => arrivals.filter((a) => a.label === label).length;

/**
 * A replica's first send is held: `before` it reaches the provider (the request is stuck on its
 * way), or `after` (the provider accepted it, the answer is stuck), until `release` opens.
 */
interface Stall {
  at: 'before' | 'after';
  started: ReturnType<typeof gate>;
  release: ReturnType<typeof gate>;
}

interface Replica {
  name: string;
  /** Every attempt this replica ended (the worker recorded its outcome, or found it could not). */
  ended: Array<{ jobId: string; attempts: number }>;
  logs: Array<{ msg: string; attempt?: number; operation?: string }>;
  stop(): Promise<void>;
}
const replicas: Replica[] = [];

/**
 * `paused`: the whole replica stalls with its held send (a GC pause): it neither renews its leases
 * nor claims until the stall is released, so its lease runs out and another replica claims the job.
 * `renewals: 'failing'`: the replica runs, but cannot renew its leases (a database blip).
 */
function startReplica(name: string, opts: { stall?: Stall; paused?: boolean; renewals?: 'failing' } = {}): Replica {
  const db = new Database({ connectionString: tdb.appUrl });
  const real = createOutbox(db);
  let stalled = false;
  void opts.stall?.started.opened.then(() => (stalled = true));
  const thawed = async () => {
    if (opts.paused && stalled) await opts.stall!.release.opened;
  };
  const outbox: Outbox = {
    ...real,
    claim: async (...args) => (await thawed(), real.claim(...args)),
    renewLeases: async (jobs, leaseMs) => {
      if (opts.renewals === 'failing') throw new Error('Connection terminated unexpectedly');
      await thawed();
      return real.renewLeases(jobs, leaseMs);
    },
  };
  let first = true;
  const send = async <R>(label: string, answer: R): Promise<R> => {
    const stall = first ? opts.stall : undefined;
    first = false;
    if (stall) stall.started.open();
    if (stall?.at === 'before') await stall.release.opened;
    arrivals.push({ label, by: name });
    if (stall?.at === 'after') await stall.release.opened;
    return answer;
  };
  let sent = 0;
  const deliveries = createDeliveries({
    db,
    outbox,
    notifier: { touch: () => undefined },
    genesys: {
      send: <R>(_tenantId: string, _endpoint: string, body: unknown) => send((body as GenesysInboundMessage).text!, { id: `gmsg-${name}-${++sent}`, conversationId: 'conv-1' } as R),
      agentless: async () => undefined,
    },
    meta: { send: (_c: MetaCredentials, body: MetaSendBody) => send(body.type === 'text' ? body.text.body.slice(0, 4) : body.type, `wamid.${name}.${++sent}`) },
    credentials: { meta: async () => credentials },
    mediaUrl: (tenantId, media) => `https://bridge.example.com/media/${tenantId}/${media.mediaId}`,
  });
  const ended: Replica['ended'] = [];
  const logs: Replica['logs'] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const worker = new DeliveryWorker({
    outbox,
    deliveries: { ...deliveries, deliver: (job: Job) => deliveries.deliver(job).finally(() => ended.push({ jobId: job.id, attempts: job.attempts })) },
    logger: createLogger({ name, level: 'warn', destination }),
    listenUrl: tdb.appUrl,
    concurrency: 4,
    tenantConcurrency: 4,
    leaseMs: LEASE_MS,
    pollMs: 50,
    retry: { baseMs: 50, maxMs: 200, budgetMs: 60_000 },
  });
  const replica: Replica = {
    name,
    ended,
    logs,
    stop: async () => {
      await worker.stop();
      await db.close();
    },
  };
  replicas.push(replica);
  void worker.start();
  return replica;
}

async function queue(direction: 'inbound' | 'outbound', second: number, text: string): Promise<{ messageId: string; jobId: string }> {
  const genesysId = `gmsg-agent-${second}`;
  const wamid = `wamid.IN.${second}`;
  const payload =
    direction === 'inbound'
      ? { message: { from: WA, id: wamid, timestamp: '1735732800', type: 'text', text: { body: text } }, contact: { profile: { name: 'Sheena' }, wa_id: WA } }
      : { id: genesysId, type: 'Text', text };
  const [{ id: messageId }] = await owner<{ id: string }>(
    `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, genesys_message_id, message_type, payload)
     VALUES ($1, $2, $3, $4, $5, 'text', $6) RETURNING id::text`,
    [T, direction, WA, direction === 'inbound' ? wamid : null, direction === 'outbound' ? genesysId : null, JSON.stringify(payload)],
  );
  const ordering = new Date(Date.UTC(2025, 0, 1, 12, 0, second));
  const [{ id: jobId }] = await owner<{ id: string }>(
    `INSERT INTO outbox (tenant_id, kind, lane, ordering, message_id) VALUES ($1, $2, $3, $4, $5) RETURNING id::text`,
    [T, direction === 'inbound' ? 'to_genesys_message' : 'to_whatsapp_message', direction === 'inbound' ? lanes.inbound(WA) : lanes.outbound(WA), ordering, messageId],
  );
  return { messageId, jobId };
}

const message = (id: string) =>
  owner<{ status: string; genesys_message_id: string | null; wamid: string | null; payload: Record<string, unknown>; uncertain_attempts: number }>(
    'SELECT status, genesys_message_id, wamid, payload, uncertain_attempts FROM message_tracking WHERE id = $1',
    [id],
  ).then((r) => r[0]);
const jobGone = async (id: string) => (await owner('SELECT 1 FROM outbox WHERE id = $1', [id])).length === 0;
const leaseLostLogs = (r: Replica) => r.logs.filter((l) => /lease lost/.test(l.msg));

beforeEach(() => {
  arrivals = [];
});

describe('two workers on one queue, one stalled past its lease mid-send', () => {
  it('keeps the lane in order: the stale worker cannot remove the job the other now delivers', async () => {
    const first = await queue('inbound', 1, 'first');
    const second = await queue('inbound', 2, 'second');
    const stallA: Stall = { at: 'before', started: gate(), release: gate() };
    const stallB: Stall = { at: 'before', started: gate(), release: gate() };

    const a = startReplica('A', { stall: stallA, paused: true });
    await stallA.started.opened; // A holds the first message, stuck on its way to Genesys
    const b = startReplica('B', { stall: stallB });
    await stallB.started.opened; // A's lease ran out: B claimed it again and is sending it too

    stallA.release.open(); // A wakes up: its send arrives, its outcome must record nothing
    await until('A ends its attempt', () => a.ended.some((e) => e.jobId === first.jobId));
    await sleep(500); // time for the second message to overtake, were the first one's job gone
    expect(arrivals.map((x) => x.label)).toEqual(['first']);
    expect(await jobGone(first.jobId)).toBe(false);

    stallB.release.open();
    await until('the second message arrives', () => arrived('second') === 1);
    await until('the lane is drained', () => jobGone(second.jobId));
    expect(arrivals).toEqual([
      { label: 'first', by: 'A' },
      { label: 'first', by: 'B' }, // the lease ran out with no outcome: the retry is counted as uncertain
      { label: 'second', by: expect.any(String) },
    ]);
    expect(await message(first.messageId)).toMatchObject({ status: 'delivered', genesys_message_id: 'gmsg-B-1', uncertain_attempts: 1 });
    expect(leaseLostLogs(a)).toContainEqual(expect.objectContaining({ attempt: 1, operation: 'complete' }));
  });

  it('sends nothing twice because of the stale worker: its late progress writes nothing, and it stops', async () => {
    // Three text parts (split at the line breaks), then a second reply in the same lane.
    const reply = await queue('outbound', 1, `${'A'.repeat(4_000)}\n${'B'.repeat(4_000)}\n${'C'.repeat(100)}`);
    const next = await queue('outbound', 2, 'NEXT');
    const stallA: Stall = { at: 'after', started: gate(), release: gate() };

    const a = startReplica('A', { stall: stallA, paused: true });
    await stallA.started.opened; // Meta accepted A's first part; the answer is stuck
    startReplica('B');
    // A's lease runs out; B claims the reply again, sends it whole, then the next reply.
    await until('B has sent both replies', async () => arrived('NEXT') === 1 && (await jobGone(next.jobId)));

    stallA.release.open();
    await until('A ends its attempt', () => a.ended.some((e) => e.jobId === reply.jobId));
    await sleep(300);
    expect(arrivals).toEqual([
      { label: 'AAAA', by: 'A' },
      { label: 'AAAA', by: 'B' }, // A's first part had no recorded outcome when its lease ran out
      { label: 'BBBB', by: 'B' },
      { label: 'CCCC', by: 'B' },
      { label: 'NEXT', by: 'B' },
    ]);
    expect(await message(reply.messageId)).toMatchObject({
      status: 'sent',
      uncertain_attempts: 1,
      payload: expect.objectContaining({ wamids: ['wamid.B.1', 'wamid.B.2', 'wamid.B.3'] }),
    });
    expect(leaseLostLogs(a)).toContainEqual(expect.objectContaining({ attempt: 1, operation: 'progress' }));
  });

  it('records only the holding claim’s parts: a part the stale worker sent is not taken for the reply’s', async () => {
    const reply = await queue('outbound', 1, `${'A'.repeat(4_000)}\n${'B'.repeat(100)}`);
    const stallA: Stall = { at: 'after', started: gate(), release: gate() };
    const stallB: Stall = { at: 'before', started: gate(), release: gate() };

    const a = startReplica('A', { stall: stallA, paused: true });
    await stallA.started.opened; // Meta accepted A's first part; the answer is stuck
    startReplica('B', { stall: stallB });
    await stallB.started.opened; // A's lease ran out: B claimed the reply again, its first part on its way
    stallA.release.open(); // A's answer arrives first: its progress (and its part) must record nothing
    await until('A ends its attempt', () => a.ended.some((e) => e.jobId === reply.jobId));
    stallB.release.open();
    await until('the reply is sent', () => jobGone(reply.jobId));

    // Statuses find the reply by these wamids: B's, the ones its receipts follow.
    const parts = await owner<{ wamid: string }>('SELECT wamid FROM message_parts WHERE message_id = $1 ORDER BY part', [reply.messageId]);
    expect(parts.map((p) => p.wamid)).toEqual(['wamid.B.1', 'wamid.B.2']);
    expect(leaseLostLogs(a)).toContainEqual(expect.objectContaining({ attempt: 1, operation: 'progress' }));
  });

  it('lets a worker that claims its own slow attempt again (its renewals failed) record that attempt’s outcome', async () => {
    const only = await queue('inbound', 1, 'only');
    const stall: Stall = { at: 'before', started: gate(), release: gate() };
    const a = startReplica('A', { stall, renewals: 'failing' });
    await stall.started.opened;
    await until('A claims its own job again', async () => (await owner<{ attempts: number }>('SELECT attempts FROM outbox WHERE id = $1', [only.jobId]))[0].attempts === 2);

    stall.release.open();
    await until('the job is done', () => jobGone(only.jobId));
    expect(arrivals).toEqual([{ label: 'only', by: 'A' }]);
    expect(await message(only.messageId)).toMatchObject({ status: 'delivered', genesys_message_id: 'gmsg-A-1' });
    expect(leaseLostLogs(a)).toEqual([]);
  });
});
