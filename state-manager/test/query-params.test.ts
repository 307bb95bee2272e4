import request from 'supertest';
import type { Express } from 'express';
import { Database, MemoryCache, createLogger } from '@bridge/shared';
import { createStateManager } from '../src/app';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';
import { testSecrets } from '../../test/support/env';

/**
 * Every query parameter of every state-manager route: a malformed value is a 400 naming the
 * parameter, never a 500 from PostgreSQL (a cursor beyond bigint, a time out of range).
 * In-process, behind the gateway's headers, against real PostgreSQL.
 */
const T = 'tenant-a';
let app: Express;
let tdb: TestDatabase;
let db: Database;
let cache: MemoryCache;

beforeAll(async () => {
  [tdb, cache] = [await createTestDatabase(), new MemoryCache()];
  db = new Database({ connectionString: tdb.appUrl });
  await ownerQuery(tdb, 'INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)', [T]);
  await ownerQuery(tdb, `INSERT INTO conversation_mappings (tenant_id, wa_id) VALUES ($1, '15550000001'), ($1, '15550000002')`, [T]);
  ({ app } = createStateManager({ db, cache, logger: createLogger({ name: 'test', level: 'silent' }), gatewayTokens: [testSecrets.GATEWAY_INTERNAL_TOKEN] }));
});
afterAll(async () => {
  await db.close();
  await cache.close();
  await tdb.drop();
});

const get = (path: string) => request(app).get(path).set('x-internal-token', testSecrets.GATEWAY_INTERNAL_TOKEN).set('x-tenant-id', T);
const cursorOf = (us: string, waId = '15550000001') => Buffer.from(`${us}.${waId}`, 'utf8').toString('base64url');

const LIMITS = ['0', '101', 'abc', '1.5', '-1', '99999999999999999999', '1e400', ''];

describe.each([
  ['/state/conversations', 'limit', LIMITS],
  [
    '/state/conversations',
    'cursor',
    ['bm9wZQ', cursorOf('99999999999999999999'), cursorOf('9223372036854775807'), cursorOf('9000000000000000001'), cursorOf('1', 'x'), 'x'.repeat(201)],
  ],
  ['/state/messages', 'limit', LIMITS],
  ['/state/messages', 'cursor', ['9999999999999999999', '9223372036854775808', '99999999999999999999', '-1', 'abc', '1.5', '']],
  ['/state/messages', 'status', ['nope', '']],
  ['/state/messages', 'direction', ['sideways']],
  ['/state/messages', 'waId', ['x', '1555 000']],
])('GET %s?%s=', (path, name, values) => {
  it.each(values)('%s → 400 naming it', async (value) => {
    const res = await get(`${path}?${name}=${encodeURIComponent(value)}`);
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 400, code: 'VALIDATION_ERROR' });
    expect(res.body.error.message).toContain(name);
  });

  it('given twice → 400 naming it', async () => {
    const res = await get(`${path}?${name}=1&${name}=2`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(name);
  });
});

describe('well-formed extremes are answered, not refused', () => {
  it('the largest message id as a cursor, and the earliest and latest conversation times', async () => {
    expect((await get('/state/messages?cursor=9223372036854775807')).status).toBe(200);
    expect((await get(`/state/conversations?cursor=${cursorOf('0')}`)).body).toEqual({ conversations: [], nextCursor: null });
    const latest = await get(`/state/conversations?cursor=${cursorOf('9000000000000000000')}`);
    expect(latest.status).toBe(200);
    expect(latest.body.conversations).toHaveLength(2);
  });
});
