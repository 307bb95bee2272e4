import { randomBytes } from 'node:crypto';
import { Database, createOutbox, lanes, replaceCatalogue, requeueMessage, type Job, type MetaCredentials, type Outbox, type Template } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { createDeliveries, type Deliveries } from '../src/deliveries';
import { permanent, transient, type DeliveryError } from '../src/errors';
import { metaSendError } from '../src/meta-client';
import type { MetaSendBody } from '../src/mapping';

/**
 * The deliveries against a real PostgreSQL with the providers faked: each loads its message,
 * maps it, sends it and records the outcome with the removal of its job; giving up an agent's
 * reply reports it to Genesys with a Failed receipt.
 */
let tdb: TestDatabase;
let db: Database;
let outbox: Outbox;
let deliveries: Deliveries;
const T = 'tenant-a';
const WA = '16505550101';
const credentials: MetaCredentials = { appSecret: 's', verifyToken: 'v', accessToken: 'EAAG-token', phoneNumberId: '106540352242922' } as MetaCredentials;

const genesysCalls: Array<{ endpoint: string; body: unknown }> = [];
let genesysAnswer: Record<string, unknown> = {};
/** The Genesys call (0-based, counted over the test) that fails with a 503, once. */
let genesysFailsAt: number | undefined;
const metaSends: MetaSendBody[] = [];
/** The Meta send (0-based) that fails, once, with `metaFailure` (default a 503). */
let metaFailsAt: number | undefined;
let metaFailure: (() => Error) | undefined;
let touches = 0;
/** Per test, so that provider ids never collide with an earlier test's rows. */
let run = '';
const sentWamid = (n: number) => `wamid.sent.${run}.${n}`;
const inboundId = (n: number) => `gmsg-in-${run}-${n}`;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  outbox = createOutbox(db);
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [T]);
  // The customer has written (agent replies go inside their 24-hour window unless a test says otherwise).
  await ownerQuery(tdb, 'INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at) VALUES ($1, $2, now())', [T, WA]);
  deliveries = createDeliveries({
    db,
    outbox,
    notifier: { touch: () => void touches++ },
    genesys: {
      send: async <R>(_tenantId: string, endpoint: string, body: unknown) => {
        if (genesysCalls.length === genesysFailsAt) {
          genesysFailsAt = undefined;
          throw transient('GENESYS_UNAVAILABLE', 'Genesys answered HTTP 503');
        }
        genesysCalls.push({ endpoint, body });
        return { ...(endpoint === 'message' ? { id: inboundId(genesysCalls.length) } : {}), ...genesysAnswer } as R;
      },
      agentless: async () => undefined,
    },
    meta: {
      send: async (_c: MetaCredentials, body: MetaSendBody) => {
        if (metaSends.length === metaFailsAt) {
          metaFailsAt = undefined;
          throw metaFailure?.() ?? transient('META_UNAVAILABLE', 'Meta 503');
        }
        metaSends.push(body);
        return sentWamid(metaSends.length);
      },
    },
    credentials: { meta: async () => credentials },
    mediaUrl: (tenantId, media) => `https://bridge.example.com/media/${tenantId}/${media.mediaId}`,
  });
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});
beforeEach(async () => {
  genesysCalls.length = 0;
  metaSends.length = 0;
  genesysAnswer = {};
  genesysFailsAt = undefined;
  metaFailsAt = undefined;
  metaFailure = undefined;
  touches = 0;
  run = randomBytes(4).toString('hex');
  await ownerQuery(tdb, 'DELETE FROM outbox');
});

const owner = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<R>(tdb, sql, params);

async function insertMessage(
  direction: 'inbound' | 'outbound',
  fields: { wamid?: string; genesysMessageId?: string; payload: object; status?: string; waId?: string; receiptPosted?: string },
) {
  const [row] = await owner<{ id: string }>(
    `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, genesys_message_id, message_type, payload, status, receipt_posted)
     VALUES ($1, $2, $3, $4, $5, 'text', $6, $7, $8) RETURNING id::text`,
    [T, direction, fields.waId ?? WA, fields.wamid ?? null, fields.genesysMessageId ?? null, JSON.stringify(fields.payload), fields.status ?? 'pending', fields.receiptPosted ?? null],
  );
  return row.id;
}

/** An agent message already sent, in parts (`kind`, `wamid`, `status` each). */
async function sentReply(genesysMessageId: string, parts: Array<{ kind: string; wamid: string; status: string }>, receiptPosted?: string) {
  const id = await insertMessage('outbound', { genesysMessageId, wamid: parts[0].wamid, payload: {}, status: 'sent', receiptPosted });
  for (const [i, p] of parts.entries()) {
    await owner(
      'INSERT INTO message_parts (tenant_id, message_id, part, part_count, kind, wamid, status) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [T, id, i + 1, parts.length, p.kind, p.wamid, p.status],
    );
  }
  return id;
}

/** Queues a job and claims it, as the worker would. */
async function claimed(job: { kind: Job['kind']; lane: string; messageId?: string; eventId?: string }): Promise<Job> {
  await db.withTenant(T, (q) => outbox.enqueue(q, { tenantId: T, ...job }));
  const [claimedJob] = await outbox.claim(1, 60_000, []);
  return claimedJob;
}

const message = (id: string) =>
  owner<{ status: string; error_code: string | null; error_message: string | null; genesys_conversation_id: string | null; wamid: string | null; payload: Record<string, unknown> }>(
    'SELECT status, error_code, error_message, genesys_conversation_id, wamid, payload FROM message_tracking WHERE id = $1',
    [id],
  ).then((r) => r[0]);
const outboxRows = () => owner<{ kind: string; lane: string; state: string; payload: Record<string, unknown>; last_error: string | null }>('SELECT kind, lane, state, payload, last_error FROM outbox ORDER BY id');

describe('a customer message to Genesys', () => {
  it('is sent mapped, recorded delivered with the conversation it joined, and its job removed', async () => {
    await owner('INSERT INTO conversation_mappings (tenant_id, wa_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [T, WA]);
    const wamid = 'wamid.IN1';
    const id = await insertMessage('inbound', {
      wamid,
      payload: { message: { from: WA, id: wamid, timestamp: '1735732800', type: 'text', text: { body: 'Hello' } }, contact: { profile: { name: 'Sheena' }, wa_id: WA } },
    });
    genesysAnswer = { id: 'gmsg-in-1', conversationId: 'conv-1' };
    await deliveries.deliver(await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id }));

    expect(genesysCalls).toEqual([{ endpoint: 'message', body: expect.objectContaining({ text: 'Hello', channel: expect.objectContaining({ messageId: wamid }) }) }]);
    expect(await message(id)).toMatchObject({ status: 'delivered', genesys_conversation_id: 'conv-1' });
    const [mapping] = await owner<{ conversation_id: string }>('SELECT conversation_id FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2', [T, WA]);
    expect(mapping.conversation_id).toBe('conv-1');
    expect(await outboxRows()).toEqual([]);
  });

  it('is not sent again once it is no longer pending', async () => {
    const id = await insertMessage('inbound', { wamid: 'wamid.IN2', payload: {}, status: 'delivered' });
    await deliveries.deliver(await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id }));
    expect(genesysCalls).toEqual([]);
    expect(await outboxRows()).toEqual([]);
  });

  it('whose own timestamp is not usable is sent at the time it was stored with (the webhook made it plausible)', async () => {
    const wamid = 'wamid.IN.badtime';
    const id = await insertMessage('inbound', {
      wamid,
      payload: { message: { from: WA, id: wamid, timestamp: 'yesterday', type: 'text', text: { body: 'Hi' } }, contact: { wa_id: WA } },
    });
    await owner("UPDATE message_tracking SET provider_timestamp = '2025-01-01T12:00:00Z' WHERE id = $1", [id]);
    await deliveries.deliver(await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id }));
    expect(genesysCalls).toEqual([{ endpoint: 'message', body: expect.objectContaining({ text: 'Hi', channel: expect.objectContaining({ time: '2025-01-01T12:00:00.000Z' }) }) }]);
    expect((await message(id)).status).toBe('delivered');
  });

  it('that cannot be mapped fails permanently', async () => {
    const id = await insertMessage('inbound', { wamid: 'wamid.IN3', payload: { message: { from: WA, type: 'text', text: { body: 'no id' } } } });
    await expect(deliveries.deliver(await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id }))).rejects.toMatchObject({
      kind: 'permanent',
      code: 'UNMAPPABLE_MESSAGE',
    });
  });
});

const partsOf = (id: string) =>
  owner<{ part: number; part_count: number; kind: string; wamid: string | null; genesys_message_id: string | null; status: string; error_code: string | null }>(
    'SELECT part, part_count, kind, wamid, genesys_message_id, status, error_code FROM message_parts WHERE message_id = $1 ORDER BY part',
    [id],
  );

describe('a customer message longer than one Genesys message', () => {
  const unit = 'שלום! مرحبا 👋🏽 family 👨‍👩‍👧‍👦 🇮🇱 ';
  const longText = () => {
    let text = '';
    while (text.length + unit.length <= 4096) text += unit;
    return text + 'x'.repeat(4096 - text.length);
  };

  it('goes as ordered parts, each its own Genesys message, resuming after the part that failed', async () => {
    const wamid = 'wamid.LONG';
    const body = longText();
    const id = await insertMessage('inbound', {
      wamid,
      payload: { message: { from: WA, id: wamid, timestamp: '1735732800', type: 'text', text: { body } }, contact: { profile: { name: 'Sheena' }, wa_id: WA } },
    });
    const job = await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id });
    genesysFailsAt = 1;
    await expect(deliveries.deliver(job)).rejects.toMatchObject({ code: 'GENESYS_UNAVAILABLE', part: { part: 2, partCount: 2, kind: 'text' } });
    expect(genesysCalls).toHaveLength(1);
    expect((await outboxRows())[0].payload).toEqual({ genesysParts: [{ id: inboundId(1) }] });

    await deliveries.deliver(job); // the retry: the first part is not sent again
    const sent = genesysCalls.map((c) => c.body as { text: string; channel: { messageId: string } });
    expect(sent.map((b) => b.channel.messageId)).toEqual([wamid, `${wamid}#2`]);
    expect(sent.map((b) => b.text).join(' ')).toBe(body.trimEnd());
    for (const b of sent) expect(b.text.length).toBeLessThanOrEqual(4000);
    expect(await message(id)).toMatchObject({ status: 'delivered' });
    expect(await partsOf(id)).toEqual([
      { part: 1, part_count: 2, kind: 'text', wamid: null, genesys_message_id: inboundId(1), status: 'delivered', error_code: null },
      { part: 2, part_count: 2, kind: 'text', wamid: null, genesys_message_id: inboundId(2), status: 'delivered', error_code: null },
    ]);
    expect(await outboxRows()).toEqual([]);
  });
});

describe('an agent reply to WhatsApp', () => {
  it('resumes a multi-part send after the part that failed, and records every part with its wamid', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-1', payload: { id: 'gmsg-out-1', type: 'Text', text: 'x'.repeat(5_000) } });
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), messageId: id });
    metaFailsAt = 1;
    await expect(deliveries.deliver(job)).rejects.toMatchObject({ code: 'META_UNAVAILABLE' });
    expect(metaSends).toHaveLength(1);
    expect((await outboxRows())[0].payload).toEqual({ wamids: [sentWamid(1)] });
    // Recorded as soon as Meta accepted it, so that its statuses find the message.
    expect(await partsOf(id)).toEqual([{ part: 1, part_count: 2, kind: 'text', wamid: sentWamid(1), genesys_message_id: null, status: 'sent', error_code: null }]);

    await deliveries.deliver(job); // the retry
    expect(metaSends).toHaveLength(2);
    expect(await message(id)).toMatchObject({ status: 'sent', wamid: sentWamid(1), payload: expect.objectContaining({ wamids: [sentWamid(1), sentWamid(2)] }) });
    expect((await partsOf(id)).map((p) => [p.part, p.wamid])).toEqual([
      [1, sentWamid(1)],
      [2, sentWamid(2)],
    ]);
    expect(await outboxRows()).toEqual([]);
  });

  it('goes to the number a customer moved to, although Genesys addresses the one it knows', async () => {
    const oldWa = '16505550888';
    await owner('INSERT INTO conversation_aliases (tenant_id, wa_id, moved_to) VALUES ($1, $2, $3)', [T, oldWa, '16505550999']);
    await owner('INSERT INTO conversation_mappings (tenant_id, wa_id, genesys_id, last_inbound_at) VALUES ($1, $2, $3, now())', [T, '16505550999', oldWa]);
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-moved', waId: oldWa, payload: { id: 'gmsg-out-moved', type: 'Text', text: 'hi' } });
    await deliveries.deliver(await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(oldWa), messageId: id }));
    expect(metaSends.map((m) => m.to)).toEqual(['16505550999']);
  });
});

describe('an agent reply and the customer’s 24-hour window', () => {
  const body = (text: string) => [{ type: 'BODY', text }];
  const catalogue: Template[] = [
    {
      name: 'order_update',
      language: 'en_US',
      templateId: '1001',
      category: 'UTILITY',
      status: 'APPROVED',
      components: [
        { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
        { type: 'BODY', text: 'Hi {{1}}, your order has shipped.' },
        { type: 'FOOTER', text: 'Acme' },
        { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Track', url: 'https://shop.example.com/track/{{1}}' }] },
      ],
    },
    { name: 'order_update', language: 'es', templateId: '1002', category: 'UTILITY', status: 'APPROVED', components: body('Hola {{1}}, tu pedido ha salido.') },
    { name: 'promo', language: 'en_US', templateId: '1003', category: 'MARKETING', status: 'PAUSED', components: body('Sale: {{1}}') },
    { name: 'reopen', language: 'en_US', templateId: '1004', category: 'UTILITY', status: 'APPROVED', components: body('{{1}}') },
    { name: 'brochure', language: 'en_US', templateId: '1005', category: 'MARKETING', status: 'APPROVED', components: [{ type: 'HEADER', format: 'IMAGE' }, ...body('Our new brochure')] },
  ];
  const approved = 'Approved templates: brochure (en_US): 0 parameter(s); order_update (en_US): 3 parameter(s); order_update (es): 1 parameter(s); reopen (en_US): 1 parameter(s).';
  const howTo = `write "/template <name> <language>" on the first line, then one parameter per line. ${approved}`;
  const image = { contentType: 'Attachment', attachment: { mediaType: 'Image', url: 'https://cdn.example.com/catalogue.png', mime: 'image/png' } };

  beforeAll(() => db.withTenant(T, (q) => replaceCatalogue(q, T, null, catalogue)));
  afterEach(() => owner("UPDATE tenants SET window_policy = 'reject', reopen_template = NULL WHERE tenant_id = $1", [T]));

  let customers = 0;
  /** A new customer who last wrote `ago` ago (a PostgreSQL interval), or never (null); returns their number. */
  async function customer(ago: string | null): Promise<string> {
    const waId = `165055520${String(++customers).padStart(2, '0')}`;
    if (ago) await owner('INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at) VALUES ($1, $2, now() - $3::interval)', [T, waId, ago]);
    return waId;
  }
  const lastInbound = async (waId: string) =>
    (await owner<{ at: Date }>('SELECT last_inbound_at AS at FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2', [T, waId]))[0].at;
  const setPolicy = (policy: 'reject' | 'template', reopen?: { name: string; language: string }) =>
    owner('UPDATE tenants SET window_policy = $2, reopen_template = $3 WHERE tenant_id = $1', [T, policy, reopen ? JSON.stringify(reopen) : null]);

  let replies = 0;
  /** An agent reply to `waId`, queued and claimed. */
  async function reply(waId: string, fields: { text?: string; content?: object[] }) {
    const gid = `gmsg-window-${run}-${++replies}`;
    const id = await insertMessage('outbound', { genesysMessageId: gid, waId, payload: { id: gid, type: 'Text', ...fields } });
    return { id, gid, waId, job: await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(waId), messageId: id }) };
  }

  /**
   * The reply is refused for good with `code` before any call to Meta; given up as the worker
   * does, its message is failed with that code and its Failed receipt carries `reason` and the
   * refusal's words. Returns those words.
   */
  async function refusal(r: Awaited<ReturnType<typeof reply>>, code: string, reason: string): Promise<string> {
    const err = await deliveries.deliver(r.job).then(
      () => undefined,
      (e: DeliveryError) => e,
    );
    expect(err).toMatchObject({ kind: 'permanent', code });
    expect(metaSends).toEqual([]);
    await deliveries.giveUp(r.job, err!, 'failed');
    expect(await message(r.id)).toMatchObject({ status: 'failed', error_code: code, error_message: err!.message });
    const receiptJob = (await outboxRows()).find((j) => j.kind === 'to_genesys_receipt');
    expect(receiptJob?.payload.receipt).toEqual({
      id: r.gid,
      channel: { to: { id: r.waId, idType: 'Phone' }, time: expect.any(String) },
      status: 'Failed',
      direction: 'Outbound',
      isFinalReceipt: true,
      reasons: [{ code: reason, message: err!.message }],
    });
    return err!.message;
  }

  it('23 h 59 min after the customer’s last message: goes out as free text', async () => {
    const r = await reply(await customer('23 hours 59 minutes'), { text: 'Still there?' });
    await deliveries.deliver(r.job);
    expect(metaSends).toEqual([expect.objectContaining({ type: 'text', to: r.waId, text: expect.objectContaining({ body: 'Still there?' }) })]);
    expect(await message(r.id)).toMatchObject({ status: 'sent' });
  });

  it('24 h 01 min after, under the default policy (reject): refused before Meta (MessageExpired), saying when the window closed and how to send a template', async () => {
    const waId = await customer('24 hours 1 minute');
    const last = await lastInbound(waId);
    const text = await refusal(await reply(waId, { text: 'Good morning!' }), 'WINDOW_CLOSED', 'MessageExpired');
    const closedAt = new Date(last.getTime() + 24 * 3600_000).toISOString();
    expect(text).toBe(
      `The customer's 24-hour window closed on ${closedAt} (their last message was at ${last.toISOString()}); WhatsApp only lets you send an approved template now: ${howTo}`,
    );
  });

  it('to a customer who never wrote: refused the same way, saying so', async () => {
    const text = await refusal(await reply(await customer(null), { text: 'Hello!' }), 'WINDOW_CLOSED', 'MessageExpired');
    expect(text).toBe(`The customer has not written to this number; WhatsApp only lets you send an approved template now: ${howTo}`);
  });

  it('a send that began inside the window is finished after it closed (Meta judges the rest)', async () => {
    const r = await reply(await customer('23 hours 59 minutes'), { text: 'y'.repeat(5_000) });
    metaFailsAt = 1;
    await expect(deliveries.deliver(r.job)).rejects.toMatchObject({ code: 'META_UNAVAILABLE' });
    await owner("UPDATE conversation_mappings SET last_inbound_at = now() - interval '25 hours' WHERE tenant_id = $1 AND wa_id = $2", [T, r.waId]);
    await deliveries.deliver(r.job);
    expect(metaSends.map((m) => m.type)).toEqual(['text', 'text']);
    expect(await message(r.id)).toMatchObject({ status: 'sent' });
  });

  it('the agent’s template command: one template send, its header, body and button filled in order, whatever the window', async () => {
    const r = await reply(await customer(null), { text: '/template order_update en_US\n#4411\nAna\n4411' });
    await deliveries.deliver(r.job);
    expect(metaSends).toEqual([
      {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: r.waId,
        type: 'template',
        template: {
          name: 'order_update',
          language: { code: 'en_US' },
          components: [
            { type: 'header', parameters: [{ type: 'text', text: '#4411' }] },
            { type: 'body', parameters: [{ type: 'text', text: 'Ana' }] },
            { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: '4411' }] },
          ],
        },
      },
    ]);
    expect(await message(r.id)).toMatchObject({ status: 'sent', wamid: sentWamid(1) });
    expect((await partsOf(r.id)).map((p) => [p.kind, p.wamid])).toEqual([['template', sentWamid(1)]]);
  });

  it.each([
    ['an unknown name (the reason lists what exists)', '/template order_updat en_US\nAna', 'TEMPLATE_NOT_FOUND', 'InvalidMessageStructure', `No template named "order_updat". ${approved}`],
    ['a language it does not exist in', '/template order_update fr\nAna', 'TEMPLATE_LANGUAGE_NOT_FOUND', 'InvalidMessageStructure', 'Template "order_update" has no fr version; it exists in: en_US, es.'],
    ['a template that is not approved (paused)', '/template promo en_US\n20% off', 'TEMPLATE_NOT_APPROVED', 'MessageNotAllowed', 'Template promo (en_US) is PAUSED, not APPROVED, so WhatsApp will not send it.'],
    [
      'the wrong number of parameters',
      '/template order_update en_US\nAna',
      'TEMPLATE_PARAMETER_MISMATCH',
      'InvalidMessageStructure',
      'Template order_update (en_US) takes 3 parameter(s) (1 in the header, 1 in the body, 1 in its buttons); 1 given.',
    ],
    ['a template the bridge cannot fill (media header)', '/template brochure en_US', 'TEMPLATE_NOT_SENDABLE', 'UnsupportedMessage', 'Template brochure (en_US) has a media header, which the bridge cannot fill.'],
    [
      'a malformed command',
      '/template order_update\nAna',
      'TEMPLATE_COMMAND_INVALID',
      'InvalidMessageStructure',
      'The template command needs a name and a language. Write "/template <name> <language>" on the first line, then one parameter per line, e.g. "/template order_update en_US".',
    ],
  ])('a template command with %s: refused before Meta with its own reason', async (_case, text, code, reason, words) => {
    expect(await refusal(await reply(await customer('1 hour'), { text }), code, reason)).toBe(words);
  });

  it('a template command with an attachment: refused, saying to send the template alone', async () => {
    const r = await reply(await customer('1 hour'), { text: '/template reopen en_US\nHello', content: [image] });
    expect(await refusal(r, 'TEMPLATE_COMMAND_INVALID', 'InvalidMessageStructure')).toContain('remove the attachments');
  });

  describe('under the `template` policy', () => {
    it('after the window, the text becomes the one parameter of the re-open template (line breaks as spaces); inside it, text stays text', async () => {
      await setPolicy('template', { name: 'reopen', language: 'en_US' });
      const late = await reply(await customer('24 hours 1 minute'), { text: 'Good morning!\nYour parcel is here.' });
      await deliveries.deliver(late.job);
      expect(metaSends).toEqual([
        expect.objectContaining({
          to: late.waId,
          type: 'template',
          template: { name: 'reopen', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Good morning! Your parcel is here.' }] }] },
        }),
      ]);
      expect((await partsOf(late.id)).map((p) => p.kind)).toEqual(['template']);

      const early = await reply(await customer('2 hours'), { text: 'Same day' });
      await deliveries.deliver(early.job);
      expect(metaSends[1]).toMatchObject({ to: early.waId, type: 'text', text: { body: 'Same day' } });
    });

    it.each([
      ['not in the catalogue', { name: 'reopen_v2', language: 'en_US' }, 'No template named "reopen_v2".'],
      ['paused', { name: 'promo', language: 'en_US' }, 'Template promo (en_US) is PAUSED, not APPROVED'],
      ['taking other than one parameter', { name: 'order_update', language: 'en_US' }, 'Template order_update (en_US) takes 3 parameter(s)'],
    ])('a re-open template %s: refused (MessageExpired), saying it is misconfigured and why', async (_case, reopen, why) => {
      await setPolicy('template', reopen);
      const text = await refusal(await reply(await customer(null), { text: 'Hello again' }), 'REOPEN_TEMPLATE_INVALID', 'MessageExpired');
      expect(text).toContain("The customer has not written to this number, and this account's re-open template, which would carry your text, is misconfigured: ");
      expect(text).toContain(why);
      expect(text).toContain('reopenTemplate on PATCH /tenants/:id');
    });

    it('a text too long for the re-open template: refused, asking for a shorter one', async () => {
      await setPolicy('template', { name: 'reopen', language: 'en_US' });
      const text = await refusal(await reply(await customer('30 hours'), { text: 'z'.repeat(1_100) }), 'TEMPLATE_TOO_LONG', 'InvalidMessageStructure');
      expect(text).toMatch(/re-open template: Template reopen \(en_US\)'s body would be 1100 characters once filled; WhatsApp allows 1024\. Write a shorter message\.$/);
    });

    it('an attachment after the window: refused (MessageExpired), saying only a template can go', async () => {
      await setPolicy('template', { name: 'reopen', language: 'en_US' });
      const text = await refusal(await reply(await customer('25 hours'), { text: 'our catalogue', content: [image] }), 'WINDOW_CLOSED', 'MessageExpired');
      expect(text).toMatch(/^The customer's 24-hour window closed on .*; WhatsApp takes no attachments now, only an approved template: write "\/template/);
    });
  });
});

describe('a customer who changed number, writing from the new one', () => {
  it('reaches the Genesys conversation of the id Genesys knows, with both numbers as attributes', async () => {
    const newWa = '16505550777';
    await owner('INSERT INTO conversation_mappings (tenant_id, wa_id, genesys_id) VALUES ($1, $2, $3)', [T, newWa, '16505550666']);
    const wamid = 'wamid.NEWNUMBER';
    const id = await insertMessage('inbound', {
      wamid,
      waId: newWa,
      payload: { message: { from: newWa, id: wamid, timestamp: '1735732800', type: 'text', text: { body: 'new phone' } }, contact: { wa_id: newWa } },
    });
    await deliveries.deliver(await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(newWa), messageId: id }));
    expect(genesysCalls[0].body).toMatchObject({
      channel: { from: { id: '16505550666', idType: 'Phone' }, metadata: { customAttributes: { waId: newWa, previousWaId: '16505550666' } } },
    });
  });
});

describe('an agent reply with nothing WhatsApp can show', () => {
  it('fails for good at once, sending nothing', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-empty', payload: { id: 'gmsg-out-empty', type: 'Text', text: '  ', content: [{ contentType: 'Attachment', attachment: { url: 'ftp://x' } }] } });
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), messageId: id });
    await expect(deliveries.deliver(job)).rejects.toMatchObject({ kind: 'permanent', code: 'EMPTY_MESSAGE' });
    expect(metaSends).toEqual([]);
  });
});

describe('a bot’s choices and the customer’s answer', () => {
  const OTHER = 'tenant-b';
  /** A bot's quick replies, one per [title, payload]. */
  const botPayload = (id: string, options: Array<[string, string]>) => ({
    id,
    type: 'Structured',
    originatingEntity: 'Bot',
    text: 'How can we help?',
    content: options.map(([text, payload]) => ({ contentType: 'QuickReply', quickReply: { text, payload, action: 'Message' } })),
  });
  const twelve: Array<[string, string]> = Array.from({ length: 12 }, (_, i) => [`Topic ${i + 1}`, `topic.${i + 1}`]);

  beforeAll(() => ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING', [OTHER]));

  /** A customer of `tenant` who wrote just now (so replies go inside their window). */
  const customer = (waId: string, tenant = T) =>
    owner(
      `INSERT INTO conversation_mappings (tenant_id, wa_id, last_inbound_at) VALUES ($1, $2, now())
       ON CONFLICT (tenant_id, wa_id) DO UPDATE SET last_inbound_at = now(), numbered_choices = NULL, numbered_choices_at = NULL`,
      [tenant, waId],
    );

  /** Sends an agent (or bot) message to `waId` through the delivery; returns its row id. */
  async function reply(waId: string, payload: { id: string } & Record<string, unknown>) {
    const id = await insertMessage('outbound', { genesysMessageId: payload.id, waId, payload });
    await deliveries.deliver(await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(waId), messageId: id }));
    return id;
  }

  /** The customer `waId`'s message of `tenant` delivered to Genesys; returns the body Genesys got. */
  async function answer(waId: string, message: Record<string, unknown>, tenant = T) {
    const wamid = `wamid.answer.${run}.${genesysCalls.length}`;
    const payload = { message: { from: waId, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), ...message }, contact: { wa_id: waId } };
    const [row] = await owner<{ id: string }>(
      `INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, message_type, payload, status, provider_timestamp)
       VALUES ($1, 'inbound', $2, $3, 'text', $4, 'pending', now()) RETURNING id::text`,
      [tenant, waId, wamid, JSON.stringify(payload)],
    );
    await db.withTenant(tenant, (q) => outbox.enqueue(q, { tenantId: tenant, kind: 'to_genesys_message', lane: lanes.inbound(waId), messageId: row.id }));
    const [job] = await outbox.claim(1, 60_000, []);
    await deliveries.deliver(job);
    const call = genesysCalls[genesysCalls.length - 1];
    expect(call.endpoint).toBe('message');
    return call.body as { text: string; channel: { metadata: { customAttributes: Record<string, string> } } };
  }
  const typed = (waId: string, body: string, extra: Record<string, unknown> = {}, tenant = T) => answer(waId, { type: 'text', text: { body }, ...extra }, tenant);
  const numberedOn = (waId: string, tenant = T) =>
    owner<{ numbered: Array<{ number: number; payload: string }> | null; at: Date | null }>(
      'SELECT numbered_choices AS numbered, numbered_choices_at AS at FROM conversation_mappings WHERE tenant_id = $1 AND wa_id = $2',
      [tenant, waId],
    ).then((r) => r[0]);

  it('twelve quick replies: a numbered text, recorded with its part and on the conversation; the customer’s “3” reaches Genesys as the third option with its payload', async () => {
    const wa = '16505550301';
    await customer(wa);
    const id = await reply(wa, botPayload(`gmsg-bot-${run}`, twelve));
    expect(metaSends).toHaveLength(1);
    expect(metaSends[0]).toMatchObject({ type: 'text', to: wa });
    expect((metaSends[0] as { text: { body: string } }).text.body).toContain('3. Topic 3');

    const [part] = await owner<{ offered: { to: string; choices: Array<{ id: string; payload: string; number: number; part: number }> } }>(
      'SELECT offered FROM message_parts WHERE message_id = $1',
      [id],
    );
    expect(part.offered.to).toBe(wa);
    expect(part.offered.choices).toHaveLength(12);
    expect(part.offered.choices[2]).toEqual({ id: 'topic.3', title: 'Topic 3', payload: 'topic.3', number: 3, part: 1 });
    const pending = await numberedOn(wa);
    expect(pending.numbered?.map((c) => c.number)).toEqual(twelve.map((_, i) => i + 1));
    expect(pending.at).toBeInstanceOf(Date);

    const body = await typed(wa, '3');
    expect(body.text).toBe('Topic 3');
    expect(body.channel.metadata.customAttributes).toMatchObject({ replyType: 'typed_number', replyId: 'topic.3', replyPayload: 'topic.3', typedText: '3' });
    // Any number of the menu, however it is typed, while it is the latest.
    expect((await typed(wa, ' 12. ')).channel.metadata.customAttributes).toMatchObject({ replyPayload: 'topic.12' });
    // A number that is not on the menu, and a text that is not only a number, go as typed.
    const off = await typed(wa, '13');
    expect(off.text).toBe('13');
    expect(off.channel.metadata.customAttributes.replyPayload).toBeUndefined();
    expect((await typed(wa, '3 please')).text).toBe('3 please');
  });

  it('a list whose payloads cannot be ids (duplicate, over 200 characters): rows `option-<n>`, and the row chosen comes back with its payload', async () => {
    const wa = '16505550302';
    await customer(wa);
    const long = `flow.${'x'.repeat(250)}`;
    const options: Array<[string, string]> = [
      ['Billing', 'same'],
      ['Delivery', 'same'],
      ['Returns', long],
      ['Warranty', 'topic.warranty'],
      ['Something else', 'topic.other'],
    ];
    await reply(wa, botPayload(`gmsg-bot-${run}`, options));
    expect(metaSends).toHaveLength(1);
    const rows = (metaSends[0] as { interactive: { type: string; action: { sections: Array<{ rows: Array<{ id: string }> }> } } }).interactive;
    expect(rows.type).toBe('list');
    expect(rows.action.sections[0].rows.map((r) => r.id)).toEqual(['option-1', 'option-2', 'option-3', 'topic.warranty', 'topic.other']);
    // Not a numbered text: nothing for a typed number.
    expect((await numberedOn(wa)).numbered).toBeNull();

    const listReply = (id: string, title: string) => ({ type: 'interactive', interactive: { type: 'list_reply', list_reply: { id, title } }, context: { from: '15550000000', id: sentWamid(1) } });
    const second = await answer(wa, listReply('option-2', 'Delivery'));
    expect(second.text).toBe('Delivery');
    expect(second.channel.metadata.customAttributes).toMatchObject({ replyType: 'list_reply', replyId: 'option-2', replyPayload: 'same', replyTo: sentWamid(1) });
    expect((await answer(wa, listReply('option-3', 'Returns'))).channel.metadata.customAttributes).toMatchObject({ replyId: 'option-3', replyPayload: long });
    // A generated id answering a message the bridge did not record: its payload is unknown, left out.
    const unknown = await answer(wa, { ...listReply('option-1', 'Billing'), context: { id: 'wamid.unknown' } });
    expect(unknown.channel.metadata.customAttributes).toMatchObject({ replyType: 'list_reply', replyId: 'option-1' });
    expect(unknown.channel.metadata.customAttributes.replyPayload).toBeUndefined();
  });

  it('a number with no numbered text pending, older than 24 hours, or sent before a later message: goes as typed, without a payload', async () => {
    const wa = '16505550303';
    await customer(wa);
    const plain = (body: { text: string; channel: { metadata: { customAttributes: Record<string, string> } } }) => {
      expect(body.text).toBe('3');
      expect(body.channel.metadata.customAttributes.replyPayload).toBeUndefined();
      expect(body.channel.metadata.customAttributes.replyType).toBeUndefined();
    };
    plain(await typed(wa, '3'));

    await reply(wa, botPayload(`gmsg-bot-${run}-1`, twelve));
    await owner("UPDATE conversation_mappings SET numbered_choices_at = now() - interval '24 hours 1 minute' WHERE tenant_id = $1 AND wa_id = $2", [T, wa]);
    plain(await typed(wa, '3'));
    await owner("UPDATE conversation_mappings SET numbered_choices_at = now() - interval '23 hours 59 minutes' WHERE tenant_id = $1 AND wa_id = $2", [T, wa]);
    expect((await typed(wa, '3')).channel.metadata.customAttributes.replyPayload).toBe('topic.3');

    // The agent (or the bot) wrote since: the number answers that, not the earlier menu.
    await reply(wa, { id: `gmsg-agent-${run}`, type: 'Text', text: 'How many would you like?' });
    expect(await numberedOn(wa)).toEqual({ numbered: null, at: null });
    plain(await typed(wa, '3'));

    // A later menu replaces the earlier one.
    await reply(wa, botPayload(`gmsg-bot-${run}-2`, twelve.map(([title, payload]) => [`New ${title}`, `new.${payload}`])));
    expect((await typed(wa, '3')).channel.metadata.customAttributes.replyPayload).toBe('new.topic.3');
  });

  it('a customer first known by their BSUID whose number became known: the reply goes to the number, and their tap and typed number still come back with the payloads', async () => {
    const bsuid = 'US.ENT.4815162342';
    const phone = '16505550309';
    await owner(`INSERT INTO conversation_mappings (tenant_id, wa_id, phone, user_id, last_inbound_at) VALUES ($1, $2, $3, $2, now())`, [T, bsuid, phone]);
    await reply(bsuid, botPayload(`gmsg-bot-${run}-bsuid-n`, twelve));
    expect(metaSends[0]).toMatchObject({ type: 'text', to: phone });
    expect((await numberedOn(bsuid)).numbered).toHaveLength(12);
    expect((await typed(bsuid, '3')).channel.metadata.customAttributes).toMatchObject({ replyType: 'typed_number', replyPayload: 'topic.3' });

    await reply(bsuid, botPayload(`gmsg-bot-${run}-bsuid-l`, [['Billing', 'same'], ['Delivery', 'same'], ['Returns', 'topic.returns'], ['Warranty', 'topic.warranty']]));
    const tap = await answer(bsuid, { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'option-2', title: 'Delivery' } }, context: { id: sentWamid(2) } });
    expect(tap.channel.metadata.customAttributes).toMatchObject({ replyId: 'option-2', replyPayload: 'same' });
  });

  it('one customer’s choices never answer for another customer, nor for another tenant’s customer with the same number', async () => {
    const alice = '16505550304';
    const bob = '16505550305';
    await customer(alice);
    await customer(bob);
    await customer(alice, OTHER);
    await reply(alice, botPayload(`gmsg-bot-${run}-n`, twelve));
    const menu = sentWamid(1);
    await reply(alice, botPayload(`gmsg-bot-${run}-l`, [['Billing', 'same'], ['Delivery', 'same'], ['Returns', 'topic.returns'], ['Warranty', 'topic.warranty']]));
    const list = sentWamid(2);

    // Bob types "3", even quoting Alice's numbered text; taps a row id quoting Alice's list.
    expect((await typed(bob, '3')).text).toBe('3');
    expect((await typed(bob, '3', { context: { id: menu } })).text).toBe('3');
    const tap = await answer(bob, { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'option-2', title: 'Delivery' } }, context: { id: list } });
    expect(tap.channel.metadata.customAttributes.replyPayload).toBeUndefined();
    // Nor a row whose id is its payload: the bridge knows that list went to Alice, not to Bob.
    const payloadTap = await answer(bob, { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'topic.warranty', title: 'Warranty' } }, context: { id: list } });
    expect(payloadTap.channel.metadata.customAttributes).toMatchObject({ replyType: 'list_reply', replyId: 'topic.warranty' });
    expect(payloadTap.channel.metadata.customAttributes.replyPayload).toBeUndefined();
    // Nor, from Alice, an id her list never offered.
    const forged = await answer(alice, { type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'refund.approve', title: 'Approve' } }, context: { id: list } });
    expect(forged.channel.metadata.customAttributes).toMatchObject({ replyType: 'button_reply', replyId: 'refund.approve' });
    expect(forged.channel.metadata.customAttributes.replyPayload).toBeUndefined();

    // The same number at another tenant: neither its conversation nor its quotes reach tenant-a's choices.
    const there = await typed(alice, '3', { context: { id: menu } }, OTHER);
    expect(there.text).toBe('3');
    expect(there.channel.metadata.customAttributes).toMatchObject({ tenantId: OTHER });
    expect(there.channel.metadata.customAttributes.replyPayload).toBeUndefined();
    const otherTap = await answer(alice, { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'option-2', title: 'Delivery' } }, context: { id: list } }, OTHER);
    expect(otherTap.channel.metadata.customAttributes.replyPayload).toBeUndefined();

    // Alice herself: her list's row, and a number quoting her numbered text (no longer the latest
    // message, so a number typed without the quote goes as typed), come back with their payloads.
    const mine = await answer(alice, { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'option-2', title: 'Delivery' } }, context: { id: list } });
    expect(mine.channel.metadata.customAttributes.replyPayload).toBe('same');
    expect((await typed(alice, '3', { context: { id: menu } })).channel.metadata.customAttributes).toMatchObject({ replyType: 'typed_number', replyPayload: 'topic.3' });
    expect((await typed(alice, '3')).channel.metadata.customAttributes.replyPayload).toBeUndefined();
  });
});

describe('a Meta status to a Genesys receipt', () => {
  async function status(wamid: string, payload: object) {
    const [row] = await owner<{ id: string }>(
      `INSERT INTO message_events (tenant_id, source, kind, provider_key, wamid, payload) VALUES ($1, 'meta', $2, $3, $4, $5) RETURNING id::text`,
      [T, (payload as { status: string }).status, `${wamid}:${(payload as { status: string }).status}`, wamid, JSON.stringify(payload)],
    );
    return row.id;
  }
  /** Delivers the status, claimed from the lane of its message's receipts. */
  async function deliverStatus(genesysMessageId: string, wamid: string, payload: object) {
    const eventId = await status(wamid, { id: wamid, timestamp: '1735732800', recipient_id: WA, ...payload });
    await deliveries.deliver(await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts(genesysMessageId), eventId }));
  }
  const receipts = () => genesysCalls.filter((c) => c.endpoint === 'receipt').map((c) => c.body as { status: string; isFinalReceipt: boolean; reasons?: unknown });

  it('sent, read, then a late delivered: one final Delivered, nothing after it, and the status stays read', async () => {
    const id = await sentReply('gmsg-out-2', [{ kind: 'text', wamid: 'wamid.OUT2', status: 'sent' }]);
    for (const s of ['sent', 'read', 'delivered']) await deliverStatus('gmsg-out-2', 'wamid.OUT2', { status: s });
    expect(receipts().map((r) => [r.status, r.isFinalReceipt])).toEqual([['Delivered', true]]);
    expect(await message(id)).toMatchObject({ status: 'read' });
    const [row] = await owner<{ receipt_posted: string }>('SELECT receipt_posted FROM message_tracking WHERE id = $1', [id]);
    expect(row.receipt_posted).toBe('final');
    expect(await outboxRows()).toEqual([]);
  });

  it('a reply in two parts whose audio fails: Failed naming the part, nothing after it; the message failed with Meta\'s reason', async () => {
    const id = await sentReply('gmsg-out-3', [
      { kind: 'text', wamid: 'wamid.OUT3.1', status: 'sent' },
      { kind: 'audio', wamid: 'wamid.OUT3.2', status: 'sent' },
    ]);
    await deliverStatus('gmsg-out-3', 'wamid.OUT3.1', { status: 'delivered' });
    expect(receipts()).toEqual([]); // the audio is not delivered yet
    await deliverStatus('gmsg-out-3', 'wamid.OUT3.2', {
      status: 'failed',
      errors: [{ code: 131053, title: 'Media upload error', message: 'Media upload error', error_data: { details: 'Unable to download the media from the link provided.' } }],
    });
    await deliverStatus('gmsg-out-3', 'wamid.OUT3.1', { status: 'read' });
    const reason = { code: 'MediaTypeNotAllowed', message: 'Part 2 of 2 (audio): Media upload error: Unable to download the media from the link provided. (Meta #131053)' };
    expect(receipts()).toEqual([expect.objectContaining({ status: 'Failed', isFinalReceipt: true, reasons: [reason] })]);
    expect(await message(id)).toMatchObject({ status: 'failed', error_code: 'MediaTypeNotAllowed', error_message: reason.message });
    expect((await partsOf(id)).map((p) => p.status)).toEqual(['read', 'failed']);
  });

  it('moves a status queued on its wamid’s lane (it came before the send was recorded) to its message’s lane', async () => {
    await sentReply('gmsg-out-5', [{ kind: 'text', wamid: 'wamid.OUT5', status: 'sent' }]);
    const eventId = await status('wamid.OUT5', { id: 'wamid.OUT5', status: 'delivered', timestamp: '1735732800', recipient_id: WA });
    await deliveries.deliver(await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts('wamid.OUT5'), eventId }));
    expect(genesysCalls).toEqual([]);
    expect(touches).toBe(1);
    const [moved] = await owner<{ lane: string; event_id: string; ordering: Date }>('SELECT lane, event_id::text, ordering FROM outbox');
    expect(moved).toEqual({ lane: lanes.receipts('gmsg-out-5'), event_id: eventId, ordering: new Date(1735732800 * 1000) });
  });

  it('moves a status whose time is not plausible with the time it is moved at, instead of failing the move on every attempt', async () => {
    await sentReply('gmsg-out-implausible', [{ kind: 'text', wamid: 'wamid.OUT.implausible', status: 'sent' }]);
    // 1e17 seconds: a number, but no date JavaScript or PostgreSQL can hold.
    const eventId = await status('wamid.OUT.implausible', { id: 'wamid.OUT.implausible', status: 'delivered', timestamp: '99999999999999999', recipient_id: WA });
    const before = Date.now();
    await deliveries.deliver(await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts('wamid.OUT.implausible'), eventId }));
    const [moved] = await owner<{ lane: string; ordering: Date }>('SELECT lane, ordering FROM outbox');
    expect(moved.lane).toBe(lanes.receipts('gmsg-out-implausible'));
    expect(Math.abs(moved.ordering.getTime() - before)).toBeLessThan(60_000);
  });

  it.each([
    // The receipt goes to the customer as Genesys addressed its message (the message's wa_id).
    ['no recipient', { waId: '' }, {}, 'has no recipient'],
    ['a time that is not a number', {}, { timestamp: 'yesterday' }, 'has no valid timestamp'],
  ])('that cannot be built (%s) fails for good at once, with its reason, sending nothing', async (_case, fields, change, reason) => {
    const wamid = `wamid.OUT5.${reason.length}`;
    const genesysMessageId = `gmsg-${wamid}`;
    const id = await insertMessage('outbound', { genesysMessageId, wamid, payload: {}, status: 'sent', ...fields });
    await owner("INSERT INTO message_parts (tenant_id, message_id, part, part_count, kind, wamid, status) VALUES ($1, $2, 1, 1, 'text', $3, 'sent')", [T, id, wamid]);
    const eventId = await status(wamid, { id: wamid, status: 'delivered', timestamp: '1735732800', recipient_id: WA, ...change });
    const job = await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts(genesysMessageId), eventId });
    await expect(deliveries.deliver(job)).rejects.toMatchObject({ kind: 'permanent', code: 'UNMAPPABLE_RECEIPT', message: expect.stringContaining(reason) });
    expect(genesysCalls).toEqual([]);
    expect((await message(id)).status).toBe('sent');
    expect((await partsOf(id)).map((p) => p.status)).toEqual(['sent']);
  });

  it('waits for a status that arrives before its send is recorded', async () => {
    const eventId = await status('wamid.UNKNOWN', { id: 'wamid.UNKNOWN', status: 'read', timestamp: '1735732800', recipient_id: WA });
    await expect(deliveries.deliver(await claimed({ kind: 'to_genesys_receipt', lane: lanes.receipts('wamid.UNKNOWN'), eventId }))).rejects.toMatchObject({
      kind: 'transient',
      code: 'MESSAGE_NOT_YET_KNOWN',
    });
  });
});

describe('giving up', () => {
  it('an agent reply: marks it failed, and queues and announces a Failed receipt, in Meta\'s words, that is then sent as built', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-4', payload: { id: 'gmsg-out-4', type: 'Text', text: 'hi' } });
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), messageId: id });
    const text = 'Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number. (Meta #131047)';
    const err = permanent('META_REJECTED', text, 131047);
    err.meta = { title: '(#131047) Re-engagement message', details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' };
    await deliveries.giveUp(job, err, 'failed');

    expect(await message(id)).toMatchObject({ status: 'failed', error_code: '131047', error_message: text });
    const [ended, receiptJob] = await outboxRows();
    expect(ended).toMatchObject({ kind: 'to_whatsapp_message', state: 'failed', last_error: `META_REJECTED: ${text}` });
    expect(receiptJob).toMatchObject({ kind: 'to_genesys_receipt', lane: lanes.receipts('gmsg-out-4'), state: 'pending', payload: { messageId: id } });
    expect(receiptJob.payload.receipt).toEqual({
      id: 'gmsg-out-4',
      channel: { to: { id: WA, idType: 'Phone' }, time: expect.any(String) },
      status: 'Failed',
      direction: 'Outbound',
      isFinalReceipt: true,
      reasons: [{ code: 'MessageExpired', message: text }],
    });
    expect(touches).toBe(1);

    const [receipt] = await outbox.claim(1, 60_000, []);
    await deliveries.deliver(receipt);
    expect(genesysCalls).toEqual([{ endpoint: 'receipt', body: receiptJob.payload.receipt }]);
    const [row] = await owner<{ receipt_posted: string }>('SELECT receipt_posted FROM message_tracking WHERE id = $1', [id]);
    expect(row.receipt_posted).toBe('final');
  });

  it('an agent reply in parts: the part that failed is named, and Meta\'s error read once', async () => {
    const id = await insertMessage('outbound', {
      genesysMessageId: 'gmsg-out-6',
      payload: { id: 'gmsg-out-6', type: 'Text', text: 'listen', content: [{ contentType: 'Attachment', attachment: { mediaType: 'Audio', url: 'https://cdn.example.com/a.ogg', mime: 'audio/ogg' } }] },
    });
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), messageId: id });
    metaFailsAt = 1;
    metaFailure = () => metaSendError(400, { code: 131053, message: '(#131053) Media upload error', error_data: { details: 'Unsupported audio codec.' } });
    const err = await deliveries.deliver(job).then(() => undefined, (e: DeliveryError) => e);
    expect(err).toMatchObject({ kind: 'permanent', part: { part: 2, partCount: 2, kind: 'audio' } });
    await deliveries.giveUp(job, err!, 'failed');
    const message = 'Part 2 of 2 (audio): Media upload error: Unsupported audio codec. (Meta #131053)';
    const [, receiptJob] = await outboxRows();
    expect(receiptJob.payload.receipt).toMatchObject({ reasons: [{ code: 'MediaTypeNotAllowed', message }] });
    expect((await owner<{ error_message: string }>('SELECT error_message FROM message_tracking WHERE id = $1', [id]))[0].error_message).toBe(message);
  });

  it('a given-up reply whose final receipt was already posted: nothing more is sent', async () => {
    const id = await insertMessage('outbound', { genesysMessageId: 'gmsg-out-7', payload: {}, status: 'failed', receiptPosted: 'final' });
    await db.withTenant(T, (q) => outbox.enqueue(q, { tenantId: T, kind: 'to_genesys_receipt', lane: lanes.receipts('gmsg-out-7'), payload: { receipt: { id: 'gmsg-out-7' }, messageId: id } }));
    const [receipt] = await outbox.claim(1, 60_000, []);
    await deliveries.deliver(receipt);
    expect(genesysCalls).toEqual([]);
    expect(await outboxRows()).toEqual([]);
  });

  it('a customer message: marks it dead, with nothing to report', async () => {
    const id = await insertMessage('inbound', { wamid: 'wamid.IN4', payload: {} });
    const job = await claimed({ kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id });
    await deliveries.giveUp(job, transient('GENESYS_UNAVAILABLE', 'Genesys 503'), 'dead');
    expect(await message(id)).toMatchObject({ status: 'dead', error_code: 'GENESYS_UNAVAILABLE' });
    expect((await outboxRows()).map((r) => r.state)).toEqual(['dead']);
    expect(touches).toBe(0);
  });
});

describe('a dead letter sent again (shared/src/dead-letters.ts)', () => {
  it('an agent reply given up at part 2: resumes after the part WhatsApp accepted; the stale Failed receipt is dropped unsent', async () => {
    const id = await insertMessage('outbound', {
      genesysMessageId: `gmsg-out-r-${run}`,
      payload: { id: `gmsg-out-r-${run}`, type: 'Text', text: 'listen', content: [{ contentType: 'Attachment', attachment: { mediaType: 'Audio', url: 'https://cdn.example.com/a.ogg', mime: 'audio/ogg' } }] },
    });
    const job = await claimed({ kind: 'to_whatsapp_message', lane: lanes.outbound(WA), messageId: id });
    metaFailsAt = 1;
    metaFailure = () => metaSendError(400, { code: 131053, message: '(#131053) Media upload error' });
    const err = await deliveries.deliver(job).then(() => undefined, (e: DeliveryError) => e);
    await deliveries.giveUp(job, err!, 'failed');
    expect(await message(id)).toMatchObject({ status: 'failed' });
    expect(metaSends).toHaveLength(1);

    const outcome = await db.withTenant(T, (q) => requeueMessage(q, T, id));
    expect(outcome).toMatchObject({ outcome: 'requeued', job: { kind: 'to_whatsapp_message', lane: lanes.outbound(WA) }, previous: { status: 'failed', errorCode: '131053' } });
    expect(await message(id)).toMatchObject({ status: 'pending', error_code: null, error_message: null });
    const rows = await outboxRows();
    expect(rows.map((r) => [r.kind, r.state])).toEqual([
      ['to_whatsapp_message', 'failed'],
      ['to_genesys_receipt', 'pending'],
      ['to_whatsapp_message', 'pending'],
    ]);
    expect(rows[2].payload).toEqual({ wamids: [sentWamid(1)] });

    // A second retry while the first is queued: the same job, nothing more.
    const again = await db.withTenant(T, (q) => requeueMessage(q, T, id));
    expect(again).toEqual({ outcome: 'already_queued', messageId: id, job: (outcome as { job: unknown }).job });
    expect(await outboxRows()).toHaveLength(3);

    const jobs = await outbox.claim(5, 60_000, []);
    for (const kind of ['to_genesys_receipt', 'to_whatsapp_message']) await deliveries.deliver(jobs.find((j) => j.kind === kind)!);
    expect(genesysCalls).toEqual([]);
    expect(metaSends.map((s) => s.type)).toEqual(['text', 'audio']);
    expect(await message(id)).toMatchObject({ status: 'sent', wamid: sentWamid(1), payload: expect.objectContaining({ wamids: [sentWamid(1), sentWamid(2)] }) });
    const [row] = await owner<{ receipt_posted: string | null }>('SELECT receipt_posted FROM message_tracking WHERE id = $1', [id]);
    expect(row.receipt_posted).toBeNull();
    const parts = await owner<{ part: number; wamid: string }>('SELECT part, wamid FROM message_parts WHERE message_id = $1 ORDER BY part', [id]);
    expect(parts).toEqual([{ part: 1, wamid: sentWamid(1) }, { part: 2, wamid: sentWamid(2) }]);
  });

  it('an agent reply Meta reported failed after sending: sent again whole, its failed part forgotten, the next Delivered posted', async () => {
    const id = await sentReply(`gmsg-out-f-${run}`, [{ kind: 'text', wamid: `wamid.old.${run}`, status: 'failed' }], 'final');
    await owner(`UPDATE message_tracking SET status = 'failed', error_code = '131026', payload = $2 WHERE id = $1`, [id, JSON.stringify({ id: `gmsg-out-f-${run}`, type: 'Text', text: 'again' })]);
    const outcome = await db.withTenant(T, (q) => requeueMessage(q, T, id));
    expect(outcome.outcome).toBe('requeued');
    expect(await owner('SELECT part FROM message_parts WHERE message_id = $1', [id])).toEqual([]);
    const [job] = await outbox.claim(1, 60_000, []);
    expect(job.payload).toEqual({});
    await deliveries.deliver(job);
    expect(metaSends).toEqual([expect.objectContaining({ type: 'text', text: expect.objectContaining({ body: 'again' }) })]);
    expect(await message(id)).toMatchObject({ status: 'sent', wamid: sentWamid(1) });
    const [row] = await owner<{ receipt_posted: string | null }>('SELECT receipt_posted FROM message_tracking WHERE id = $1', [id]);
    expect(row.receipt_posted).toBeNull();
  });

  it('a customer message given up after Genesys took part 1 of 2: resumes at part 2, in its lane, behind what came since', async () => {
    const id = await insertMessage('inbound', { wamid: `wamid.long.${run}`, payload: {} });
    await db.withTenant(T, (q) =>
      outbox.enqueue(q, { tenantId: T, kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: id, payload: { genesysParts: [{ id: 'g1' }] } }),
    );
    const [job] = await outbox.claim(1, 60_000, []);
    await deliveries.giveUp(job, transient('GENESYS_UNAVAILABLE', 'Genesys 503'), 'dead');
    const later = await insertMessage('inbound', { wamid: `wamid.later.${run}`, payload: {} });
    await db.withTenant(T, (q) => outbox.enqueue(q, { tenantId: T, kind: 'to_genesys_message', lane: lanes.inbound(WA), messageId: later, ordering: new Date(Date.now() - 60_000) }));

    const outcome = await db.withTenant(T, (q) => requeueMessage(q, T, id));
    expect(outcome).toMatchObject({ outcome: 'requeued', job: { lane: lanes.inbound(WA) } });
    const pending = await owner<{ message_id: string; payload: unknown }>(`SELECT message_id::text, payload FROM outbox WHERE state = 'pending' ORDER BY ordering, id`);
    expect(pending).toEqual([
      { message_id: later, payload: {} },
      { message_id: id, payload: { genesysParts: [{ id: 'g1' }] } },
    ]);
  });

  it('neither failed nor dead nor queued: not retryable; unknown: not found', async () => {
    const id = await insertMessage('inbound', { wamid: `wamid.ok.${run}`, payload: {}, status: 'delivered' });
    expect(await db.withTenant(T, (q) => requeueMessage(q, T, id))).toEqual({ outcome: 'not_retryable', messageId: id, status: 'delivered' });
    const stuck = await insertMessage('inbound', { wamid: `wamid.stuck.${run}`, payload: {} });
    expect(await db.withTenant(T, (q) => requeueMessage(q, T, stuck))).toEqual({ outcome: 'not_retryable', messageId: stuck, status: 'pending' });
    expect(await db.withTenant(T, (q) => requeueMessage(q, T, '999999999'))).toEqual({ outcome: 'not_found', messageId: '999999999' });
    expect(await outboxRows()).toEqual([]);
  });
});
