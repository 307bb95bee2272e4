import { Database, agentlessTextHash, type Queryable } from '@bridge/shared';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { storeAgentMessage } from '../src/store';

/**
 * The agentless copy of a proactive message comes back through our outbound webhook as an agent
 * message: it is recognised (by its Genesys id, or by recipient and text while fewer copies came
 * back than were posted within the hour) and recorded on the proactive message, never queued for
 * WhatsApp again — also when redelivered, and also when it arrives before the post's answer was
 * recorded. Ordinary agent messages cost what they did: the same two statements.
 */
let tdb: TestDatabase;
let db: Database;
const T = 'tenant-a';
const TEXT = 'Hi Ana, your order #4411 has shipped.';
let n = 0;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ connectionString: tdb.appUrl });
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [T]);
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});

const owner = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => ownerQuery<R>(tdb, sql, params);

/** A proactive message to a new customer, sent, whose copy was posted `posts` times (ids: the answers recorded). */
async function proactive(o: { posts?: number; ids?: string[]; postedAgo?: string; text?: string } = {}) {
  const wa = `1650555${String(++n).padStart(4, '0')}`;
  const [m] = await owner<{ id: string }>(
    `INSERT INTO message_tracking (tenant_id, direction, origin, wa_id, genesys_message_id, message_type, status, payload)
     VALUES ($1, 'outbound', 'api', $2, $3, 'template', 'sent', '{}') RETURNING id::text`,
    [T, wa, o.ids?.[0] ?? null],
  );
  await owner(
    `INSERT INTO agentless_echoes (tenant_id, message_id, wa_id, text_hash, posts, genesys_message_ids, posted_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() - $7::interval)`,
    [T, m.id, wa, agentlessTextHash(o.text ?? TEXT), o.posts ?? 1, o.ids ?? [], o.postedAgo ?? '1 second'],
  );
  return { id: m.id, wa };
}

async function counted<R>(fn: (q: Queryable) => Promise<R>): Promise<{ result: R; statements: number }> {
  return db.withTenant(T, async (q) => {
    let statements = 0;
    const counting = { query: ((...args: unknown[]) => (statements++, (q.query as (...a: unknown[]) => unknown)(...args))) as Queryable['query'] };
    return { result: await fn(counting), statements };
  });
}

const agentMessage = (genesysMessageId: string, waId: string, text = TEXT) => ({
  genesysMessageId,
  waId,
  type: 'Text',
  time: new Date().toISOString(),
  payload: { id: genesysMessageId, type: 'Text', text, channel: { to: { id: waId } } },
  text,
});
const store = (m: ReturnType<typeof agentMessage>) => counted((q) => storeAgentMessage(q, T, m));

const state = async (id: string, wa: string) => ({
  message: (await owner<{ genesys_message_id: string | null }>('SELECT genesys_message_id FROM message_tracking WHERE id = $1', [id]))[0],
  echo: (await owner<{ posts: number; echoes: number; genesys_message_ids: string[] }>('SELECT posts, echoes, genesys_message_ids FROM agentless_echoes WHERE message_id = $1', [id]))[0],
  sends: (await owner<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE tenant_id = $1 AND kind = 'to_whatsapp_message' AND lane = 'out:' || $2`, [T, wa]))[0].n,
  others: (await owner<{ n: string }>(`SELECT count(*) AS n FROM message_tracking WHERE tenant_id = $1 AND wa_id = $2 AND origin = 'provider'`, [T, wa]))[0].n,
});

describe('the copy of a proactive message, back through our webhook', () => {
  it('after the post’s answer was recorded: recognised by its id, recorded once, nothing queued; a redelivery neither', async () => {
    const { id, wa } = await proactive({ ids: ['gcopy-1'] });
    expect((await store(agentMessage('gcopy-1', wa))).result).toBe('echo');
    expect(await state(id, wa)).toEqual({ message: { genesys_message_id: 'gcopy-1' }, echo: { posts: 1, echoes: 1, genesys_message_ids: ['gcopy-1'] }, sends: '0', others: '0' });

    expect((await store(agentMessage('gcopy-1', wa))).result).toBe('duplicate');
    expect((await state(id, wa)).echo.echoes).toBe(1);
  });

  it('before the answer was recorded: recognised by recipient and text, and the message takes the copy’s id; a redelivery changes nothing', async () => {
    const { id, wa } = await proactive();
    expect((await store(agentMessage('gcopy-2', wa))).result).toBe('echo');
    expect(await state(id, wa)).toEqual({ message: { genesys_message_id: 'gcopy-2' }, echo: { posts: 1, echoes: 1, genesys_message_ids: ['gcopy-2'] }, sends: '0', others: '0' });

    expect((await store(agentMessage('gcopy-2', wa))).result).toBe('duplicate');
    expect(await state(id, wa)).toMatchObject({ echo: { echoes: 1 }, sends: '0', others: '0' });
  });

  it('a post made twice (its first answer lost) is recognised twice; the message keeps the first copy’s id', async () => {
    const { id, wa } = await proactive({ posts: 2 });
    expect((await store(agentMessage('gcopy-3a', wa))).result).toBe('echo');
    expect((await store(agentMessage('gcopy-3b', wa))).result).toBe('echo');
    expect(await state(id, wa)).toEqual({
      message: { genesys_message_id: 'gcopy-3a' },
      echo: { posts: 2, echoes: 2, genesys_message_ids: ['gcopy-3a', 'gcopy-3b'] },
      sends: '0',
      others: '0',
    });
    expect((await store(agentMessage('gcopy-3b', wa))).result).toBe('duplicate');
  });

  it('two copies arriving at once for one post: one is the copy, the other is sent as an agent message', async () => {
    const { id, wa } = await proactive();
    const results = await Promise.all([store(agentMessage('gcopy-4a', wa)), store(agentMessage('gcopy-4b', wa))]);
    expect(results.map((r) => r.result).sort()).toEqual(['echo', 'queued']);
    expect(await state(id, wa)).toMatchObject({ echo: { posts: 1, echoes: 1 }, sends: '1', others: '1' });
  });
});

describe('copies and agent messages with the same words (issue #11, attack pass)', () => {
  it('two proactive messages with the same words to one customer: each copy is its own message’s, and nothing else is taken for one', async () => {
    const wa = '16505558800';
    const insert = async (genesysId: string | null, ids: string[], ago: string) => {
      const [m] = await owner<{ id: string }>(
        `INSERT INTO message_tracking (tenant_id, direction, origin, wa_id, genesys_message_id, message_type, status, payload)
         VALUES ($1, 'outbound', 'api', $2, $3, 'text', 'sent', '{}') RETURNING id::text`,
        [T, wa, genesysId],
      );
      await owner(
        `INSERT INTO agentless_echoes (tenant_id, message_id, wa_id, text_hash, posts, genesys_message_ids, posted_at) VALUES ($1, $2, $3, $4, 1, $5, now() - $6::interval)`,
        [T, m.id, wa, agentlessTextHash(TEXT), ids, ago],
      );
      return m.id;
    };
    // The first one's post was answered (its id known); the second one's answer is not recorded yet.
    const first = await insert('gtwin-a', ['gtwin-a'], '10 seconds');
    const second = await insert(null, [], '1 second');
    // The second one's copy comes first: it can only be the second one's.
    expect((await store(agentMessage('gtwin-b', wa))).result).toBe('echo');
    expect((await store(agentMessage('gtwin-a', wa))).result).toBe('echo');
    expect(await state(first, wa)).toMatchObject({ message: { genesys_message_id: 'gtwin-a' }, echo: { echoes: 1, genesys_message_ids: ['gtwin-a'] } });
    expect(await state(second, wa)).toMatchObject({ message: { genesys_message_id: 'gtwin-b' }, echo: { echoes: 1, genesys_message_ids: ['gtwin-b'] } });
    // Every copy came back: an agent writing the same words is sent.
    expect((await store(agentMessage('gtwin-agent', wa))).result).toBe('queued');
    expect(await state(second, wa)).toMatchObject({ sends: '1', others: '1' });
  });
});

describe('agent messages that are not copies', () => {
  it('cost the same two statements and are queued', async () => {
    const wa = '16505559990';
    expect(await store(agentMessage('gagent-1', wa))).toEqual({ result: 'queued', statements: 2 });
  });

  it.each<[string, { ids?: string[]; postedAgo?: string }, string, string]>([
    ['the same words once every copy came back', { ids: ['gcopy-5'] }, 'gagent-5', TEXT],
    ['other words', {}, 'gagent-6', 'Anything else I can help with?'],
    ['the same words over an hour after the post', { postedAgo: '61 minutes' }, 'gagent-7', TEXT],
  ])('an agent writing %s: sent to WhatsApp', async (_name, o, genesysId, text) => {
    const { id, wa } = await proactive(o);
    if (o.ids) await store(agentMessage(o.ids[0], wa));
    expect((await store(agentMessage(genesysId, wa, text))).result).toBe('queued');
    expect(await state(id, wa)).toMatchObject({ sends: '1', others: '1' });
  });

  it('a Structured message to the customer is never taken for a copy', async () => {
    const { id, wa } = await proactive();
    const m = { ...agentMessage('gagent-8', wa), type: 'Structured', text: undefined };
    expect((await counted((q) => storeAgentMessage(q, T, m))).result).toBe('queued');
    expect(await state(id, wa)).toMatchObject({ echo: { echoes: 0 }, sends: '1' });
  });
});
