import { randomBytes } from 'node:crypto';
import {
  Database,
  agentlessTextHash,
  createOutbox,
  lanes,
  replaceCatalogue,
  type Job,
  type MetaCredentials,
  type Outbox,
  type Template,
} from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { createDeliveries, type Deliveries } from '../src/deliveries';
import { DeliveryError, permanent } from '../src/errors';
import type { MetaSendBody, MetaStatus } from '../src/mapping';

/**
 * Proactive messages (origin 'api', queued by POST /messages) in the connector, against a real
 * PostgreSQL with the providers faked: sent from their payload (a template checked against the
 * catalogue again), given up without a Genesys receipt, their statuses recorded although they have
 * no Genesys message, and their agentless copy posted to Genesys once sent.
 */
let tdb: TestDatabase;
let db: Database;
let outbox: Outbox;
let deliveries: Deliveries;
const T = 'tenant-a';
const credentials = { appSecret: 's', verifyToken: 'v', accessToken: 'EAAG-token', phoneNumberId: '106540352242922' } as MetaCredentials;

const metaSends: MetaSendBody[] = [];
const genesysCalls: Array<{ endpoint: string; body: unknown }> = [];
const agentlessCalls: Array<{ toAddress: string; textBody: string; postsBefore: number }> = [];
/** What the fake agentless API does: answer (default a new id), act as if the tenant had no Genesys credentials, or fail. */
let agentless: 'answer' | 'no-credentials' | (() => Error) = 'answer';
let touches = 0;
let run = '';
let waCounter = 0;
/** A new customer per test. */
let wa = '';

const template = (name: string, status: string, body: string): Template => ({ name, language: 'en_US', templateId: null, category: 'UTILITY', status, components: [{ type: 'BODY', text: body }] });

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  outbox = createOutbox(db);
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [T]);
  deliveries = createDeliveries({
    db,
    outbox,
    notifier: { touch: () => void touches++ },
    genesys: {
      send: async <R>(_tenantId: string, endpoint: string, body: unknown) => {
        genesysCalls.push({ endpoint, body });
        return {} as R;
      },
      agentless: async (_tenantId, message, options) => {
        if (agentless === 'no-credentials') return undefined;
        await options?.beforePost?.();
        const [echo] = await ownerQuery<{ posts: number }>(tdb, 'SELECT posts FROM agentless_echoes WHERE wa_id = $1', [message.toAddress]);
        agentlessCalls.push({ ...message, postsBefore: echo.posts });
        if (typeof agentless === 'function') throw agentless();
        return { id: `gcopy-${run}-${agentlessCalls.length}`, conversationId: 'conv-9' };
      },
    },
    meta: {
      send: async (_c: MetaCredentials, body: MetaSendBody) => {
        metaSends.push(body);
        return `wamid.api.${run}.${metaSends.length}`;
      },
    },
    credentials: { meta: async () => credentials },
    mediaUrl: () => 'https://bridge.example.com/media',
  });
  await db.withTenant(T, (q) =>
    replaceCatalogue(q, T, '900001', [
      template('order_update', 'APPROVED', 'Hi {{1}}, your order {{2}} has shipped.'),
      template('spring_sale', 'APPROVED', 'Spring sale, {{1}}!'),
      template('long_one', 'APPROVED', '{{1}}'),
    ]),
  );
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});
beforeEach(async () => {
  metaSends.length = 0;
  genesysCalls.length = 0;
  agentlessCalls.length = 0;
  agentless = 'answer';
  touches = 0;
  run = randomBytes(4).toString('hex');
  wa = `1650555${String(++waCounter).padStart(4, '0')}`;
  await ownerQuery(tdb, 'DELETE FROM outbox');
});

const owner = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<R>(tdb, sql, params);

/** A proactive message as state-manager stores it. */
async function apiMessage(request: { template?: { name: string; language: string; parameters: string[] }; text?: string }, rendered: string) {
  const [row] = await owner<{ id: string }>(
    `INSERT INTO message_tracking (tenant_id, direction, origin, wa_id, message_type, payload, provider_timestamp)
     VALUES ($1, 'outbound', 'api', $2, $3, $4, now()) RETURNING id::text`,
    [T, wa, request.template ? 'template' : 'text', JSON.stringify({ to: wa, ...request, rendered })],
  );
  return row.id;
}

async function claimed(job: { kind: Job['kind']; lane: string; messageId?: string; eventId?: string }): Promise<Job> {
  await db.withTenant(T, (q) => outbox.enqueue(q, { tenantId: T, ...job }));
  const [claimedJob] = await outbox.claim(1, 60_000, []);
  return claimedJob;
}

/** The next claimable job (already queued). */
async function next(): Promise<Job> {
  const [job] = await outbox.claim(1, 60_000, []);
  return job;
}

const messageRow = (id: string) =>
  owner<{ status: string; wamid: string | null; genesys_message_id: string | null; error_code: string | null; error_message: string | null; payload: Record<string, unknown> }>(
    'SELECT status, wamid, genesys_message_id, error_code, error_message, payload FROM message_tracking WHERE id = $1',
    [id],
  ).then((r) => r[0]);
const echoRow = (id: string) =>
  owner<{ wa_id: string; text_hash: string; posts: number; echoes: number; genesys_message_ids: string[]; posted: boolean }>(
    'SELECT wa_id, text_hash, posts, echoes, genesys_message_ids, posted_at IS NOT NULL AS posted FROM agentless_echoes WHERE message_id = $1',
    [id],
  ).then((r) => r[0]);
const outboxRows = () => owner<{ kind: string; lane: string; state: string; message_id: string | null }>('SELECT kind, lane, state, message_id::text FROM outbox ORDER BY id');

const orderUpdate = { template: { name: 'order_update', language: 'en_US', parameters: ['Ana', '#4411'] } };
const ORDER_TEXT = 'Hi Ana, your order #4411 has shipped.';

describe('a proactive template', () => {
  it('is sent as the catalogue’s template with its parameters, recorded sent, and its agentless copy awaited and queued', async () => {
    const id = await apiMessage(orderUpdate, ORDER_TEXT);
    await deliveries.deliver(await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(wa), messageId: id }));

    expect(metaSends).toEqual([
      {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: wa,
        type: 'template',
        template: { name: 'order_update', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }, { type: 'text', text: '#4411' }] }] },
      },
    ]);
    expect(await messageRow(id)).toMatchObject({ status: 'sent', wamid: `wamid.api.${run}.1`, genesys_message_id: null });
    expect(await echoRow(id)).toEqual({ wa_id: wa, text_hash: agentlessTextHash(ORDER_TEXT), posts: 0, echoes: 0, genesys_message_ids: [], posted: false });
    expect(await outboxRows()).toEqual([{ kind: 'to_genesys_agentless', lane: lanes.agentless(id), state: 'pending', message_id: id }]);
    expect(touches).toBe(1);
  });

  it('that was paused since it was queued is refused before Meta is called; giving it up posts no Genesys receipt', async () => {
    const id = await apiMessage({ template: { name: 'spring_sale', language: 'en_US', parameters: ['Ana'] } }, 'Spring sale, Ana!');
    await owner(`UPDATE message_templates SET status = 'PAUSED' WHERE tenant_id = $1 AND name = 'spring_sale'`, [T]);
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(wa), messageId: id });
    let err: DeliveryError | undefined;
    try {
      await deliveries.deliver(job);
    } catch (e) {
      err = e as DeliveryError;
    }
    expect(err).toMatchObject({ kind: 'permanent', code: 'TEMPLATE_NOT_APPROVED', message: expect.stringContaining('is PAUSED') });
    expect(metaSends).toEqual([]);

    await deliveries.giveUp(job, err!, 'failed');
    expect(await messageRow(id)).toMatchObject({ status: 'failed', error_code: 'TEMPLATE_NOT_APPROVED', error_message: expect.stringContaining('PAUSED') });
    expect((await outboxRows()).filter((j) => j.kind === 'to_genesys_receipt')).toEqual([]);
    expect(touches).toBe(0);
    await owner(`UPDATE message_templates SET status = 'APPROVED' WHERE tenant_id = $1 AND name = 'spring_sale'`, [T]);
  });

  it('refused by Meta for good: failed with Meta’s code, no receipt queued', async () => {
    const id = await apiMessage(orderUpdate, ORDER_TEXT);
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(wa), messageId: id });
    await deliveries.giveUp(job, permanent('META_REJECTED', 'Template name does not exist in the translation (Meta #132001)', 132001), 'failed');
    expect(await messageRow(id)).toMatchObject({ status: 'failed', error_code: '132001' });
    expect(await outboxRows()).toEqual([expect.objectContaining({ kind: 'to_whatsapp_message', state: 'failed' })]);
  });
});

describe('a proactive text', () => {
  it('is sent as text to the number the customer moved to', async () => {
    const moved = `${wa}9`;
    await owner('INSERT INTO conversation_aliases (tenant_id, wa_id, moved_to) VALUES ($1, $2, $3)', [T, wa, moved]);
    const id = await apiMessage({ text: 'See https://example.com/track' }, 'See https://example.com/track');
    await deliveries.deliver(await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(wa), messageId: id }));
    expect(metaSends).toEqual([
      { messaging_product: 'whatsapp', recipient_type: 'individual', to: moved, type: 'text', text: { body: 'See https://example.com/track', preview_url: true } },
    ]);
  });
});

/** A Meta status of `wamid`, stored (as webhook-service does) and claimed in `lane`. */
async function statusJob(wamid: string, status: string, lane: string): Promise<Job> {
  const payload: MetaStatus = { id: wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: wa };
  const [event] = await owner<{ id: string }>(
    `INSERT INTO message_events (tenant_id, source, kind, provider_key, wamid, payload) VALUES ($1, 'meta', $2, $3, $4, $5) RETURNING id::text`,
    [T, status, `${wamid}:${status}`, wamid, JSON.stringify(payload)],
  );
  return claimed({ kind: 'to_genesys_receipt', lane, eventId: event.id });
}

describe('the statuses of a proactive message', () => {
  it('move it forward while it has no Genesys message, posting nothing to Genesys; once its copy has an id, receipts go to Genesys', async () => {
    const id = await apiMessage(orderUpdate, ORDER_TEXT);
    await deliveries.deliver(await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(wa), messageId: id }));
    const copy = await next();
    const wamid = `wamid.api.${run}.1`;

    await deliveries.deliver(await statusJob(wamid, 'delivered', lanes.receipts(wamid)));
    expect(await messageRow(id)).toMatchObject({ status: 'delivered', genesys_message_id: null });
    expect(genesysCalls).toEqual([]);

    // The agentless copy is posted: the message gets its Genesys id.
    await deliveries.deliver(copy);
    expect(await messageRow(id)).toMatchObject({ genesys_message_id: `gcopy-${run}-1` });

    // A status still in the wamid's lane moves to the receipts lane of that id; then Genesys hears of it.
    const read = await statusJob(wamid, 'read', lanes.receipts(wamid));
    await deliveries.deliver(read);
    expect(genesysCalls).toEqual([]);
    await deliveries.deliver(await next());
    expect(await messageRow(id)).toMatchObject({ status: 'read' });
    expect(genesysCalls).toEqual([{ endpoint: 'receipt', body: expect.objectContaining({ id: `gcopy-${run}-1`, status: 'Delivered', isFinalReceipt: true }) }]);
  });

  it('a failure is recorded with Meta’s reason, and posts nothing to Genesys', async () => {
    const id = await apiMessage(orderUpdate, ORDER_TEXT);
    await deliveries.deliver(await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(wa), messageId: id }));
    await owner('DELETE FROM outbox');
    const wamid = `wamid.api.${run}.1`;
    const payload = { id: wamid, status: 'failed', timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: wa, errors: [{ code: 131026, title: 'Message undeliverable' }] };
    const [event] = await owner<{ id: string }>(
      `INSERT INTO message_events (tenant_id, source, kind, provider_key, wamid, payload) VALUES ($1, 'meta', 'failed', $2, $3, $4) RETURNING id::text`,
      [T, `${wamid}:failed`, wamid, JSON.stringify(payload)],
    );
    await deliveries.deliver(await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts(wamid), eventId: event.id }));
    expect(await messageRow(id)).toMatchObject({ status: 'failed', error_code: 'InvalidDestination', error_message: expect.stringContaining('131026') });
    expect(genesysCalls).toEqual([]);
  });
});

describe('the agentless copy', () => {
  async function sent(request: Parameters<typeof apiMessage>[0], rendered: string) {
    const id = await apiMessage(request, rendered);
    await deliveries.deliver(await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(wa), messageId: id }));
    return { id, job: await next() };
  }

  it('is posted to the customer as Genesys knows them, counted before the call, and its id recorded', async () => {
    await owner('INSERT INTO conversation_mappings (tenant_id, wa_id, genesys_id) VALUES ($1, $2, $3)', [T, wa, '16505550000']);
    const { id, job } = await sent(orderUpdate, ORDER_TEXT);
    expect((await echoRow(id)).wa_id).toBe('16505550000');
    await deliveries.deliver(job);
    expect(agentlessCalls).toEqual([{ toAddress: '16505550000', textBody: ORDER_TEXT, postsBefore: 1 }]);
    expect(await echoRow(id)).toMatchObject({ posts: 1, echoes: 0, genesys_message_ids: [`gcopy-${run}-1`], posted: true });
    expect(await messageRow(id)).toMatchObject({ genesys_message_id: `gcopy-${run}-1` });
    expect(await outboxRows()).toEqual([]);
  });

  it('of a text longer than Genesys takes is cut to 2,000 characters with an ellipsis, and hashed as posted', async () => {
    const long = 'y'.repeat(2500);
    const { id, job } = await sent({ template: { name: 'long_one', language: 'en_US', parameters: [long.slice(0, 1000)] } }, long);
    await deliveries.deliver(job);
    expect(agentlessCalls[0].textBody).toBe(`${'y'.repeat(1999)}…`);
    expect((await echoRow(id)).text_hash).toBe(agentlessTextHash(`${'y'.repeat(1999)}…`));
  });

  it('of a tenant without Genesys credentials is skipped, noted on the message, not retried, and not counted', async () => {
    const { id, job } = await sent(orderUpdate, ORDER_TEXT);
    agentless = 'no-credentials';
    await deliveries.deliver(job);
    expect(await messageRow(id)).toMatchObject({ payload: expect.objectContaining({ agentless: { status: 'skipped', reason: expect.stringContaining('no Genesys credentials') } }) });
    expect(await echoRow(id)).toMatchObject({ posts: 0, posted: false });
    expect(await outboxRows()).toEqual([]);
  });

  it('that Genesys refused is uncounted (no copy will come back), and giving it up notes why', async () => {
    const { id, job } = await sent(orderUpdate, ORDER_TEXT);
    agentless = () => permanent('GENESYS_REJECTED', 'textBody is required (Genesys bad.request, HTTP 400)');
    const err = await deliveries.deliver(job).then(
      () => undefined,
      (e: DeliveryError) => e,
    );
    expect(err).toMatchObject({ code: 'GENESYS_REJECTED' });
    expect(await echoRow(id)).toMatchObject({ posts: 0 });
    await deliveries.giveUp(job, err!, 'failed');
    expect(await messageRow(id)).toMatchObject({
      status: 'sent',
      payload: expect.objectContaining({ agentless: { status: 'failed', reason: 'GENESYS_REJECTED: textBody is required (Genesys bad.request, HTTP 400)' } }),
    });
    expect((await outboxRows()).filter((j) => j.kind === 'to_genesys_receipt')).toEqual([]);
  });

  it('whose call had an unknown outcome (a timeout) stays counted: Genesys may deliver that copy', async () => {
    const { id, job } = await sent(orderUpdate, ORDER_TEXT);
    agentless = () => new DeliveryError('transient', 'NETWORK_ERROR', 'Genesys: ETIMEDOUT', undefined, undefined, true);
    await expect(deliveries.deliver(job)).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
    expect(await echoRow(id)).toMatchObject({ posts: 1 });
    agentless = 'answer';
    await deliveries.deliver(job);
    expect(await echoRow(id)).toMatchObject({ posts: 2, genesys_message_ids: [`gcopy-${run}-2`] });
  });
});
