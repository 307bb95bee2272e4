import request from 'supertest';
import { Client } from 'pg';
import type { Express } from 'express';
import { Database, MemoryCache, createLogger, lanes, replaceCatalogue, type Template } from '@bridge/shared';
import { createStateManager } from '../src/app';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { testSecrets } from '../../test/support/env';
import { eventually } from '../../test/support/eventually';

/**
 * Proactive messages through the tenant API (`POST /messages`, `GET /messages/:id`): in-process,
 * behind the gateway's headers, against real PostgreSQL. What is checked before anything is
 * queued, what is queued (the message and its send in the customer's outbound lane, one
 * transaction), Idempotency-Key (also under concurrency), and who may read a message.
 */
const A = 'tenant-a';
const B = 'tenant-b';
/** No Meta credentials. */
const C = 'tenant-c';
const HOUR = 3_600_000;
const OPEN = '15550000001';
const CLOSED = '15550000002';
const NEVER = '15550000003';
/** Moved to OPEN (a number change): judged by OPEN's window. */
const MOVED = '15550000004';

let app: Express;
let tdb: TestDatabase;
let db: Database;
let cache: MemoryCache;
let touches = 0;

const template = (name: string, language: string, status: string, components: Template['components']): Template => ({
  name,
  language,
  templateId: null,
  category: 'UTILITY',
  status,
  components,
});
const CATALOGUE = [
  template('order_update', 'en_US', 'APPROVED', [{ type: 'BODY', text: 'Hi {{1}}, your order {{2}} has shipped.' }]),
  template('order_update', 'es', 'APPROVED', [{ type: 'BODY', text: 'Hola {{1}}, tu pedido {{2}} ya salió.' }]),
  template('thanks', 'en_US', 'APPROVED', [
    { type: 'HEADER', format: 'TEXT', text: 'Acme' },
    { type: 'BODY', text: 'Thanks for your order.' },
    { type: 'FOOTER', text: 'Reply STOP to opt out' },
  ]),
  template('spring_sale', 'en_US', 'PAUSED', [{ type: 'BODY', text: 'Spring sale!' }]),
];

beforeAll(async () => {
  [tdb, cache] = [await createTestDatabase(), new MemoryCache()];
  db = new Database({ connectionString: tdb.appUrl });
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1), ($2, $2), ($3, $3)', [A, B, C]);
  await ownerQuery(
    tdb,
    `INSERT INTO tenant_credentials (tenant_id, type, encrypted, phone_number_id) VALUES ($1, 'meta', '\\x00', '100001'), ($2, 'meta', '\\x00', '100002')`,
    [A, B],
  );
  await ownerQuery(tdb, `INSERT INTO tenant_credentials (tenant_id, type, encrypted) VALUES ($1, 'genesys', '\\x00')`, [C]);
  const now = Date.now();
  await ownerQuery(
    tdb,
    `INSERT INTO conversation_mappings (tenant_id, wa_id, last_message_at, last_inbound_at)
     VALUES ($1, $2, $4, $4), ($1, $3, $5, $5), ($1, $6, now(), NULL)`,
    [A, OPEN, CLOSED, new Date(now - HOUR), new Date(now - 25 * HOUR), NEVER],
  );
  await ownerQuery(tdb, 'INSERT INTO conversation_aliases (tenant_id, wa_id, moved_to) VALUES ($1, $2, $3)', [A, MOVED, OPEN]);
  await db.withTenant(A, (q) => replaceCatalogue(q, A, '900001', CATALOGUE));
  ({ app } = createStateManager({
    db,
    cache,
    logger: createLogger({ name: 'test', level: 'silent' }),
    gatewayTokens: [testSecrets.GATEWAY_INTERNAL_TOKEN],
    notifier: { touch: () => void touches++, close: () => undefined },
  }));
});
afterAll(async () => {
  await db.close();
  await cache.close();
  await tdb.drop();
});

const as = (tenant: string, req: request.Test) => req.set('x-internal-token', testSecrets.GATEWAY_INTERNAL_TOKEN).set('x-tenant-id', tenant);
const post = (body: unknown, options: { tenant?: string; key?: string } = {}) => {
  const req = as(options.tenant ?? A, request(app).post('/messages'));
  if (options.key !== undefined) req.set('Idempotency-Key', options.key);
  return typeof body === 'string' ? req.set('Content-Type', 'application/json').send(body) : req.send(body as object);
};
const get = (id: string, tenant = A) => as(tenant, request(app).get(`/messages/${id}`));
const owner = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<R>(tdb, sql, params);
const countMessages = async (tenant = A) => Number((await owner<{ n: string }>('SELECT count(*) AS n FROM message_tracking WHERE tenant_id = $1', [tenant]))[0].n);
const jobsFor = (id: string) =>
  owner<{ kind: string; lane: string }>(`SELECT kind, lane FROM outbox WHERE message_id = $1 ORDER BY id`, [id]);

const orderUpdate = (to = NEVER, parameters = ['Ana', '#4411']) => ({ to, template: { name: 'order_update', language: 'en_US', parameters } });

describe('POST /messages: a template', () => {
  it('is stored, queued in the customer’s outbound lane in the same transaction, and answered 202 with its id', async () => {
    const before = touches;
    const res = await post(orderUpdate());
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^\d+$/),
      to: NEVER,
      type: 'template',
      status: 'queued',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      template: { name: 'order_update', language: 'en_US', parameters: ['Ana', '#4411'] },
      rendered: 'Hi Ana, your order #4411 has shipped.',
    });
    expect(res.headers.location).toBe(`/messages/${res.body.id}`);
    expect(touches).toBe(before + 1);

    const [row] = await owner<Record<string, unknown>>(
      `SELECT direction, origin, wa_id, genesys_message_id, message_type, status, payload, provider_timestamp IS NOT NULL AS timed FROM message_tracking WHERE id = $1`,
      [res.body.id],
    );
    expect(row).toEqual({
      direction: 'outbound',
      origin: 'api',
      wa_id: NEVER,
      genesys_message_id: null,
      message_type: 'template',
      status: 'pending',
      payload: { to: NEVER, template: { name: 'order_update', language: 'en_US', parameters: ['Ana', '#4411'] }, rendered: 'Hi Ana, your order #4411 has shipped.' },
      timed: true,
    });
    expect(await jobsFor(res.body.id)).toEqual([{ kind: 'to_whatsapp_message', lane: lanes.outbound(NEVER) }]);
    // One audit event in the same transaction: what was sent and to whom, not the text.
    expect(await owner('SELECT actor, action, after FROM audit_events WHERE tenant_id = $1 AND target = $2', [A, `message:${res.body.id}`])).toEqual([
      { actor: 'tenant', action: 'message.sent', after: { to: NEVER, type: 'template', template: { name: 'order_update', language: 'en_US' } } },
    ]);
  });

  it('renders header, body and footer as the text shown; a template without parameters needs none; a leading + is dropped', async () => {
    const res = await post({ to: `+${CLOSED}`, template: { name: 'thanks', language: 'en_US' } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ to: CLOSED, rendered: 'Acme\n\nThanks for your order.\n\nReply STOP to opt out', template: { parameters: [] } });
  });

  it.each([
    ['an unknown name', { name: 'order_updates', language: 'en_US', parameters: [] }, 'TEMPLATE_NOT_FOUND', /No template named "order_updates"\. Approved templates: order_update \(en_US\): 2 parameter/],
    ['a language it does not have', { name: 'order_update', language: 'fr', parameters: ['a', 'b'] }, 'TEMPLATE_LANGUAGE_NOT_FOUND', /has no fr version; it exists in: en_US, es/],
    ['one that is not approved', { name: 'spring_sale', language: 'en_US', parameters: [] }, 'TEMPLATE_NOT_APPROVED', /spring_sale \(en_US\) is PAUSED/],
    ['the wrong number of parameters', { name: 'order_update', language: 'en_US', parameters: ['Ana'] }, 'TEMPLATE_PARAMETER_MISMATCH', /takes 2 parameter\(s\) \(2 in the body\); 1 given/],
    ['an empty parameter', { name: 'order_update', language: 'en_US', parameters: ['Ana', ' '] }, 'TEMPLATE_PARAMETER_MISMATCH', /Parameter 2 .* is empty/],
  ])('%s → 422 with the problem and its reason, nothing queued', async (_name, tpl, code, reason) => {
    const before = await countMessages();
    const res = await post({ to: OPEN, template: tpl });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(reason);
    expect(await countMessages()).toBe(before);
  });
});

describe('POST /messages: free text', () => {
  it('is queued while the customer’s window is open', async () => {
    const res = await post({ to: OPEN, text: 'Your parcel is at the door.' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ to: OPEN, type: 'text', status: 'queued', text: 'Your parcel is at the door.', rendered: 'Your parcel is at the door.' });
    expect(await jobsFor(res.body.id)).toEqual([{ kind: 'to_whatsapp_message', lane: lanes.outbound(OPEN) }]);
  });

  it('to a number that moved: judged by the window of the number it moved to', async () => {
    expect((await post({ to: MOVED, text: 'Still there?' })).status).toBe(202);
  });

  it('after the window closed → 422 WINDOW_CLOSED saying when, and to send a template', async () => {
    const before = await countMessages();
    const res = await post({ to: CLOSED, text: 'Hello again' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('WINDOW_CLOSED');
    const [m] = await owner<{ last_inbound_at: Date }>('SELECT last_inbound_at FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2', [A, CLOSED]);
    expect(res.body.error.message).toContain(`closed at ${new Date(m.last_inbound_at.getTime() + 24 * HOUR).toISOString()}`);
    expect(res.body.error.message).toContain('send a template');
    expect(await countMessages()).toBe(before);
  });

  it.each([
    ['a customer who never wrote', NEVER],
    ['a number the tenant never saw', '15559999999'],
  ])('to %s → 422 WINDOW_CLOSED', async (_name, to) => {
    const res = await post({ to, text: 'Hi' });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'WINDOW_CLOSED', message: expect.stringContaining('has not written') });
  });
});

describe('POST /messages: refused before anything is looked up', () => {
  it('a tenant without Meta credentials → 409 META_NOT_CONFIGURED', async () => {
    const res = await post(orderUpdate(), { tenant: C });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('META_NOT_CONFIGURED');
    expect(await countMessages(C)).toBe(0);
  });

  it.each([
    ['no recipient', { text: 'hi' }, 'to'],
    ['a recipient that is not a number', { to: 'abc', text: 'hi' }, 'to'],
    ['a recipient too short', { to: '123', text: 'hi' }, 'to'],
    ['neither text nor template', { to: OPEN }, 'template'],
    ['both text and template', { ...orderUpdate(OPEN), text: 'hi' }, 'text'],
    ['an empty text', { to: OPEN, text: '  ' }, 'text'],
    ['a text over 4096 characters', { to: OPEN, text: 'x'.repeat(4097) }, 'text'],
    ['a text that is not a string', { to: OPEN, text: 5 }, 'text'],
    ['a template name Meta would not have', { to: OPEN, template: { name: 'Order Update', language: 'en_US' } }, 'template.name'],
    ['a language code of the wrong form', { to: OPEN, template: { name: 'order_update', language: 'english' } }, 'template.language'],
    ['parameters that are not strings', { to: OPEN, template: { name: 'order_update', language: 'en_US', parameters: [1, 2] } }, 'template.parameters.0'],
    ['an unknown field in the template', { to: OPEN, template: { name: 'order_update', language: 'en_US', components: [] } }, 'template'],
    ['an unknown field', { to: OPEN, text: 'hi', priority: 'high' }, 'body'],
    ['no JSON object', '[1,2]', 'body'],
  ])('%s → 400 naming the field', async (_name, body, field) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.message.startsWith(`${field}: `)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(256)],
    ['with a character that is not printable ASCII', 'cl\u00e9'],
  ])('an Idempotency-Key %s → 400 naming it', async (_name, key) => {
    const res = await post(orderUpdate(), { key });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^Idempotency-Key: /);
  });

  it('an unrecognised body (not JSON) → 400', async () => {
    const res = await as(A, request(app).post('/messages')).set('Content-Type', 'text/plain').send('to=1555');
    expect(res.status).toBe(400);
  });
});

describe('Idempotency-Key', () => {
  it('the same key and body again → the same message, answered 202 again, nothing more queued', async () => {
    const first = await post(orderUpdate(OPEN), { key: 'order-4411' });
    expect(first.status).toBe(202);
    const messages = await countMessages();
    const before = touches;
    // The same request, keys in another order: the same canonical body.
    const again = await post({ template: { parameters: ['Ana', '#4411'], language: 'en_US', name: 'order_update' }, to: OPEN }, { key: 'order-4411' });
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await countMessages()).toBe(messages);
    expect(await jobsFor(first.body.id)).toHaveLength(1);
    expect(touches).toBe(before);
    // The replay changed nothing: one audit event, the first send's.
    expect(await owner('SELECT count(*)::int AS n FROM audit_events WHERE target = $1', [`message:${first.body.id}`])).toEqual([{ n: 1 }]);
  });

  it('the same key with another body → 409 IDEMPOTENCY_KEY_REUSED', async () => {
    await post(orderUpdate(OPEN), { key: 'reused' });
    const res = await post(orderUpdate(OPEN, ['Ana', '#4412']), { key: 'reused' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('is answered from the key even when the request would now be refused (the window closed since)', async () => {
    const first = await post({ to: OPEN, text: 'on our way' }, { key: 'window-then' });
    await owner(`UPDATE conversation_mappings SET last_inbound_at = now() - interval '25 hours' WHERE tenant_id = $1 AND wa_id = $2`, [A, OPEN]);
    try {
      const again = await post({ to: OPEN, text: 'on our way' }, { key: 'window-then' });
      expect(again.status).toBe(202);
      expect(again.body.id).toBe(first.body.id);
    } finally {
      await owner(`UPDATE conversation_mappings SET last_inbound_at = now() - interval '1 hour' WHERE tenant_id = $1 AND wa_id = $2`, [A, OPEN]);
    }
  });

  it('five simultaneous requests with one key, all binding it at once → one message, every answer naming it', async () => {
    const before = await countMessages();
    // Every request stores its message and gets as far as binding the key (or waits for one that
    // did) before the first may bind it.
    const gate = new Client({ connectionString: tdb.ownerUrl });
    await gate.connect();
    let answers: request.Response[];
    try {
      await gate.query('BEGIN');
      await gate.query('LOCK TABLE api_idempotency_keys IN SHARE ROW EXCLUSIVE MODE');
      const all = Promise.all(Array.from({ length: 5 }, () => post(orderUpdate(NEVER, ['Bo', '#77']), { key: 'burst' })));
      // Each waits for the gate, or for one that does (the daily usage counter's row).
      await eventually(async () => {
        // Not on `gate`: a transaction sees pg_stat_activity as it was when it first looked.
        const rows = await owner<{ binding: number; waiting: number }>(
          `SELECT count(*) FILTER (WHERE query LIKE 'INSERT INTO api_idempotency_keys%')::int AS binding, count(*)::int AS waiting
             FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return rows[0].waiting === 5 && rows[0].binding >= 2;
      }, 10_000, 'five requests waiting, two or more binding the key');
      await gate.query('COMMIT');
      answers = await all;
    } finally {
      await gate.end();
    }
    expect(answers.map((r) => r.status)).toEqual(Array(5).fill(202));
    expect(new Set(answers.map((r) => r.body.id)).size).toBe(1);
    expect(await countMessages()).toBe(before + 1);
    expect(await jobsFor(answers[0].body.id)).toHaveLength(1);
    const [key] = await owner<{ message_id: string }>(`SELECT message_id::text FROM api_idempotency_keys WHERE tenant_id = $1 AND key = 'burst'`, [A]);
    expect(key.message_id).toBe(answers[0].body.id);
  });

  it('a key older than 24 hours is forgotten: the request makes a new message', async () => {
    const first = await post(orderUpdate(OPEN), { key: 'yesterday' });
    await owner(`UPDATE api_idempotency_keys SET created_at = now() - interval '24 hours 1 minute' WHERE tenant_id = $1 AND key = 'yesterday'`, [A]);
    const later = await post(orderUpdate(OPEN, ['Ana', '#9']), { key: 'yesterday' });
    expect(later.status).toBe(202);
    expect(later.body.id).not.toBe(first.body.id);
    const again = await post(orderUpdate(OPEN, ['Ana', '#9']), { key: 'yesterday' });
    expect(again.body.id).toBe(later.body.id);
  });

  it('a key whose message is gone is forgotten too', async () => {
    const first = await post(orderUpdate(OPEN), { key: 'gone' });
    await owner('DELETE FROM outbox WHERE message_id = $1', [first.body.id]);
    await owner('DELETE FROM message_tracking WHERE id = $1', [first.body.id]);
    const later = await post(orderUpdate(OPEN), { key: 'gone' });
    expect(later.status).toBe(202);
    expect(later.body.id).not.toBe(first.body.id);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
  });

  it('keys are per tenant', async () => {
    const a = await post(orderUpdate(OPEN), { key: 'shared-key' });
    await db.withTenant(B, (q) => replaceCatalogue(q, B, null, CATALOGUE));
    const b = await post(orderUpdate(OPEN), { key: 'shared-key', tenant: B });
    expect(b.status).toBe(202);
    expect(b.body.id).not.toBe(a.body.id);
  });
});

describe('GET /messages/:id', () => {
  it('shows the message as it moves: sent with its wamid, failed with the reason', async () => {
    const { body } = await post(orderUpdate(OPEN));
    expect((await get(body.id)).body).toEqual(body);

    await owner(`UPDATE message_tracking SET status = 'delivered', wamid = 'wamid.X1' WHERE id = $1`, [body.id]);
    expect((await get(body.id)).body).toMatchObject({ status: 'delivered', wamid: 'wamid.X1' });

    await owner(`INSERT INTO agentless_echoes (tenant_id, message_id, wa_id, text_hash, genesys_message_ids) VALUES ($1, $2, $3, repeat('a', 64), '{g-1}')`, [A, body.id, OPEN]);
    expect((await get(body.id)).body.genesysCopy).toEqual({ status: 'posted', genesysMessageId: 'g-1' });

    await owner(`UPDATE message_tracking SET status = 'dead', error_code = '131026', error_message = 'Message undeliverable' WHERE id = $1`, [body.id]);
    const dead = await get(body.id);
    expect(dead.body).toMatchObject({ status: 'failed', reason: { code: '131026', message: 'Message undeliverable' } });
  });

  it('another tenant’s message, an agent’s reply or an id that cannot exist → 404 MESSAGE_NOT_FOUND', async () => {
    const { body } = await post(orderUpdate(OPEN));
    const [agent] = await owner<{ id: string }>(
      `INSERT INTO message_tracking (tenant_id, direction, wa_id, genesys_message_id, message_type) VALUES ($1, 'outbound', $2, 'g-agent', 'Text') RETURNING id::text`,
      [A, OPEN],
    );
    for (const [id, tenant] of [
      [body.id, B],
      [agent.id, A],
      ['abc', A],
      ['12345678901234567890', A],
      ['-1', A],
    ]) {
      const res = await get(id, tenant);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('MESSAGE_NOT_FOUND');
    }
  });
});

/** What a hostile or careless client sends (issue #11, attack pass): always a 4xx naming the field, nothing stored. */
describe('POST /messages: hostile bodies', () => {
  it.each([
    ['a text holding U+0000', '{"to":"15550000001","text":"a\\u0000b"}', 'text'],
    ['a text holding half a surrogate pair', '{"to":"15550000001","text":"cut \\ud83d"}', 'text'],
    ['a parameter holding U+0000', '{"to":"15550000001","template":{"name":"order_update","language":"en_US","parameters":["Ana\\u0000","#1"]}}', 'template.parameters.0'],
    ['a parameter holding half a surrogate pair', '{"to":"15550000001","template":{"name":"order_update","language":"en_US","parameters":["Ana","\\udc00"]}}', 'template.parameters.1'],
    ['a parameter holding a line break', { to: OPEN, template: { name: 'order_update', language: 'en_US', parameters: ['Ana', '#1\n#2'] } }, 'template.parameters.1'],
    ['a parameter holding a tab', { to: OPEN, template: { name: 'order_update', language: 'en_US', parameters: ['A\tna', '#1'] } }, 'template.parameters.0'],
    ['a parameter with five spaces in a row', { to: OPEN, template: { name: 'order_update', language: 'en_US', parameters: ['Ana', '#1     #2'] } }, 'template.parameters.1'],
  ])('%s → 400 naming the field, nothing stored', async (_name, body, field) => {
    const before = await countMessages();
    const res = await post(body);
    expect({ status: res.status, code: res.body.error?.code, field: res.body.error?.message.split(': ')[0] }).toEqual({ status: 400, code: 'VALIDATION_ERROR', field });
    expect(await countMessages()).toBe(before);
  });

  it('the same Idempotency-Key after its message failed: that failed message again, nothing sent again', async () => {
    const first = await post(orderUpdate(OPEN, ['Ana', '#9']), { key: 'after-failure' });
    await owner(`UPDATE message_tracking SET status = 'failed', error_code = 'TEMPLATE_NOT_APPROVED', error_message = 'paused' WHERE id = $1`, [first.body.id]);
    await owner(`DELETE FROM outbox WHERE message_id = $1`, [first.body.id]);
    const before = await countMessages();
    const again = await post(orderUpdate(OPEN, ['Ana', '#9']), { key: 'after-failure' });
    expect({ status: again.status, replayed: again.headers['idempotent-replayed'] }).toEqual({ status: 202, replayed: 'true' });
    expect(again.body).toMatchObject({ id: first.body.id, status: 'failed', reason: { code: 'TEMPLATE_NOT_APPROVED', message: 'paused' } });
    expect(await countMessages()).toBe(before);
    expect(await jobsFor(first.body.id)).toEqual([]);
  });

  it('an Idempotency-Key of 255 characters works, and one of 256 is refused before anything is stored', async () => {
    const long = 'k'.repeat(255);
    expect((await post(orderUpdate(OPEN), { key: long })).status).toBe(202);
    expect((await post(orderUpdate(OPEN), { key: long })).headers['idempotent-replayed']).toBe('true');
    const before = await countMessages();
    expect((await post(orderUpdate(OPEN), { key: `${long}k` })).status).toBe(400);
    expect(await countMessages()).toBe(before);
  });

  it('four spaces in a row and text outside the Basic Multilingual Plane are fine', async () => {
    const res = await post({ to: OPEN, template: { name: 'order_update', language: 'en_US', parameters: ['Ana 😀', '#1    #2'] } });
    expect(res.status).toBe(202);
    expect(res.body.rendered).toBe('Hi Ana 😀, your order #1    #2 has shipped.');
  });
});
