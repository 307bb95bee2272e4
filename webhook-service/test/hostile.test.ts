import { Writable } from 'node:stream';
import request from 'supertest';
import type { Express } from 'express';
import { OutboxNotifier, createLogger, signMediaUrl, type CredentialsClient, type Database } from '@bridge/shared';
import { buildTextMessage, metaSerialize, signGenesys, signMeta } from '@bridge/simulators';
import type { BridgeTenant } from '../../scripts/src/bridge-tenant';
import { ownerQuery } from '../../test/support/db';
import { uniqueNumericId, uniqueTenantId } from '../../test/support/ids';
import type { TestSystem } from '../../test/support/system';
import { createWebhookService } from '../src/app';
import * as parse from '../src/parse';
import type { WebhookTenants } from '../src/tenants';
import { startWebhookTestBed, type WebhookTestBed } from './support/test-bed';

/**
 * Strangers' requests (#9, kinds 1, 2 and 6): what an unsigned or wrongly signed request costs
 * and learns, what identifiers of the wrong shape reach, and what the logs keep. webhook-service
 * built on real PostgreSQL (as the application role) and a real tenant-service, its log lines
 * captured.
 */
let bed: WebhookTestBed;
let sys: TestSystem;
let db: Database;
let credentials: CredentialsClient;
let tenants: WebhookTenants;
let service: { app: Express; close(): Promise<void> };
const logLines: string[] = [];
let a: BridgeTenant;
let b: BridgeTenant;

const MEDIA_SECRET = 'media-signing-secret-for-hostile-tests-0123';

beforeAll(async () => {
  bed = await startWebhookTestBed();
  ({ sys, db, credentials, tenants } = bed);
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  });
  service = createWebhookService({
    db,
    cache: bed.cache,
    logger: createLogger({ name: 'webhook-service', level: 'info', destination }),
    credentials,
    tenants,
    notifier: new OutboxNotifier(db),
    graphUrl: 'http://127.0.0.1:9/v23.0',
    mediaSigningSecret: MEDIA_SECRET,
    mediaDownloadHosts: ['127.0.0.1'],
  });
  a = await onboard();
  b = await onboard();
});

afterAll(async () => {
  await service.close();
  await bed.stop();
});

afterEach(() => {
  jest.restoreAllMocks();
});

const onboard = (overrides: Partial<BridgeTenant> = {}) => bed.onboard('hostile', overrides);

const post = (path: string, body: string | Buffer, signature?: string) => {
  const req = request(service.app).post(path).set('Content-Type', 'application/json');
  if (signature !== undefined) req.set('X-Hub-Signature-256', signature);
  return req.send(body);
};

/** An answer as a stranger sees it, without what differs on every request. */
const seen = (res: request.Response) => ({ status: res.status, code: res.body.error?.code, message: res.body.error?.message });

const textFor = (phoneNumberId: string) => metaSerialize(buildTextMessage({ phoneNumberId, from: '16505550901', body: 'hello' }));
const genesysReply = JSON.stringify({ id: 'b0e8a1f2-0000-4000-8000-000000000001', type: 'Text', text: 'hi', direction: 'Outbound', channel: { to: { id: '16505550901' } } });

async function countStored(): Promise<number> {
  const [row] = await ownerQuery<{ n: string }>(sys.tdb, 'SELECT (SELECT count(*) FROM message_tracking) + (SELECT count(*) FROM message_events) AS n');
  return Number(row.n);
}

describe('a request that is not correctly signed learns nothing of what exists (kind 6)', () => {
  it.each([
    ['Meta', '/webhook/meta', () => textFor(a.phoneNumberId), signMeta, () => a.appSecret],
    ['Genesys', '/webhook/genesys', () => genesysReply, signGenesys, () => a.webhookSecret],
  ] as const)('gets the same 401 at a %s tenant path whether the tenant exists, does not, or is no tenant id at all', async (_name, route, bodyOf, sign, secretOf) => {
    const body = bodyOf();
    const wrong = sign('a-secret-nobody-has-0123', body);
    const answers = [
      await post(`${route}/${a.tenantId}`, body, wrong),
      await post(`${route}/${uniqueTenantId('nobody')}`, body, wrong),
      // Signed with a real tenant's secret, for a tenant that does not exist.
      await post(`${route}/${uniqueTenantId('nobody')}`, body, sign(secretOf(), body)),
      await post(`${route}/NOT_A_TENANT!`, body, wrong),
      await post(`${route}/${'x'.repeat(5000)}`, body, wrong),
    ];
    for (const res of answers) expect(seen(res)).toEqual({ status: 401, code: 'INVALID_SIGNATURE', message: 'X-Hub-Signature-256 does not match' });
  });

  it('does not tell, on the platform route, which phone_number_ids are customers', async () => {
    const unknownNumber = uniqueNumericId();
    const forUnknown = textFor(unknownNumber);
    const forA = textFor(a.phoneNumberId);
    const answers = [
      // A number nobody owns: no secret to check with, even for a payload signed by a real tenant.
      await post('/webhook/meta', forUnknown, signMeta(a.appSecret, forUnknown)),
      await post('/webhook/meta', forUnknown, signMeta('a-secret-nobody-has', forUnknown)),
      // A customer's number, signed by someone else.
      await post('/webhook/meta', forA, signMeta(b.appSecret, forA)),
      await post('/webhook/meta', forA, signMeta('a-secret-nobody-has', forA)),
    ];
    for (const res of answers) {
      expect(seen(res)).toEqual({ status: 401, code: 'INVALID_SIGNATURE', message: 'X-Hub-Signature-256 does not match' });
      expect(res.text).not.toContain(unknownNumber);
      expect(res.text).not.toContain(a.phoneNumberId);
    }
  });

  it('keeps the 404 for correctly signed payloads only: a number that is not the path tenant’s', async () => {
    const before = await countStored();
    const unknownNumber = uniqueNumericId();
    for (const number of [unknownNumber, b.phoneNumberId]) {
      const body = textFor(number);
      const res = await post(`/webhook/meta/${a.tenantId}`, body, signMeta(a.appSecret, body));
      expect(seen(res)).toEqual({ status: 404, code: 'PHONE_NUMBER_NOT_FOUND', message: `No tenant at this path owns phone_number_id ${number}` });
    }
    expect(await countStored()).toBe(before);
  });

  it('answers a handshake for an unknown, a malformed and a known tenant with a wrong token the same 403', async () => {
    const query = { 'hub.mode': 'subscribe', 'hub.verify_token': b.verifyToken, 'hub.challenge': '42' };
    const answers = await Promise.all(
      [a.tenantId, uniqueTenantId('nobody'), 'NOT_A_TENANT!'].map((t) => request(service.app).get(`/webhook/meta/${t}`).query(query)),
    );
    for (const res of answers) expect(seen(res)).toEqual({ status: 403, code: 'VERIFICATION_FAILED', message: 'The verify token does not match' });
  });
});

describe('the signature before the body, where the path names the tenant (kind 2)', () => {
  const big = (inner: string) => `{"object":"whatsapp_business_account","entry":[{"changes":[]}],"pad":"${inner.repeat(Math.ceil(3_900_000 / inner.length))}"}`;

  it('refuses an unsigned or wrongly signed 4 MB JSON body 401 without parsing it', async () => {
    const parser = jest.spyOn(parse, 'parseWebhookBody');
    const jsonParse = jest.spyOn(JSON, 'parse');
    const body = big('y');
    expect(body.length).toBeGreaterThan(3_900_000);
    for (const signature of [undefined, 'sha256=0000', signMeta('a-secret-nobody-has', body)]) {
      const res = await post(`/webhook/meta/${a.tenantId}`, body, signature);
      expect(seen(res).status).toBe(401);
    }
    const genesysBody = `{"id":"x","pad":"${'z'.repeat(900_000)}"}`;
    expect(seen(await post(`/webhook/genesys/${a.tenantId}`, genesysBody, signGenesys('a-secret-nobody-has-0123', genesysBody))).status).toBe(401);
    expect(parser).not.toHaveBeenCalled();
    // Nothing of the body went through JSON.parse either (the error answers are JSON, but not parsed).
    expect(jsonParse.mock.calls.filter(([text]) => typeof text === 'string' && text.length > 100_000)).toEqual([]);
  });

  it('answers 401, not 400, to a wrongly signed body that is not even JSON', async () => {
    const body = `{"object": ${'['.repeat(1_000_000)}`;
    expect(seen(await post(`/webhook/meta/${a.tenantId}`, body, signMeta('a-secret-nobody-has', body)))).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE' });
    expect(seen(await post(`/webhook/genesys/${a.tenantId}`, body.slice(0, 500_000), signGenesys('a-secret-nobody-has-0123', body)))).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE' });
    // The same bytes correctly signed are parsed, and refused as what they are.
    expect(seen(await post(`/webhook/meta/${a.tenantId}`, body, signMeta(a.appSecret, body)))).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
  });
});

describe('identifiers of the wrong shape are refused before any lookup (kind 1)', () => {
  it('answers a 3 MB phone_number_id 400 at once, looks nothing up, and quotes none of it', async () => {
    const lookups = jest.spyOn(tenants, 'tenantsForPhoneNumbers');
    const fetches = jest.spyOn(credentials, 'meta');
    const junk = '9'.repeat(3 * 1024 * 1024);
    const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ changes: [{ value: { metadata: { phone_number_id: junk } } }] }] });
    const res = await post('/webhook/meta', body, 'sha256=anything');
    expect(seen(res)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    expect(res.text.length).toBeLessThan(600);
    expect(res.text).not.toContain('9'.repeat(40));
    expect(lookups).not.toHaveBeenCalled();
    expect(fetches).not.toHaveBeenCalled();
  });

  it('never asks tenant-service about a path segment that is not a tenant id', async () => {
    const fetches = [jest.spyOn(credentials, 'meta'), jest.spyOn(credentials, 'genesys')];
    const requests = jest.spyOn(credentials as unknown as { fetch: () => unknown }, 'fetch');
    const body = textFor(a.phoneNumberId);
    for (const junk of ['UPPER', 'a', `${'a'.repeat(51)}`, 'with.dot', '-starts-with-hyphen', 'é-accent']) {
      expect((await post(`/webhook/meta/${encodeURIComponent(junk)}`, body, signMeta(a.appSecret, body))).status).toBe(401);
      expect((await post(`/webhook/genesys/${encodeURIComponent(junk)}`, genesysReply, signGenesys(a.webhookSecret, genesysReply))).status).toBe(401);
    }
    // The use cases may ask the client; the client refuses such ids without a request.
    expect(fetches.every((f) => f.mock.calls.every(([id]) => /^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$/.test(id as string)))).toBe(true);
    expect(requests).not.toHaveBeenCalled();
  });

  it('quotes at most a short excerpt of a path in a 404 for an unknown route', async () => {
    const res = await request(service.app).get(`/${'q'.repeat(8000)}`);
    expect(seen(res)).toMatchObject({ status: 404, code: 'ROUTE_NOT_FOUND' });
    expect(res.body.error.message.length).toBeLessThan(100);
  });
});

describe('the platform-wide handshake is one indexed lookup (kind 2)', () => {
  /** What one platform handshake costs: credentials read, platform queries made. */
  async function handshakeCost(token: string) {
    const reads = jest.spyOn(credentials, 'meta');
    const queries = jest.spyOn(db, 'withPlatform');
    const res = await request(service.app).get('/webhook/meta').query({ 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': 'c-1' });
    const cost = { status: res.status, credentialReads: reads.mock.calls.length, queries: queries.mock.calls.length };
    jest.restoreAllMocks();
    return cost;
  }

  it('finds the tenant by its token without reading any tenant’s credentials, however many tenants there are', async () => {
    const few = await handshakeCost(b.verifyToken);
    const last = await handshakeCost('nobody-has-this-token');
    for (let i = 0; i < 20; i++) await onboard();
    const newest = await onboard();
    const many = await handshakeCost(newest.verifyToken);
    const manyMiss = await handshakeCost('nobody-has-this-token');
    expect(few).toEqual({ status: 200, credentialReads: 0, queries: 1 });
    expect(many).toEqual(few);
    expect(last).toEqual({ status: 403, credentialReads: 0, queries: 1 });
    expect(manyMiss).toEqual(last);
  });

  it('accepts the token of tenants sharing one platform app, and a replaced token only once replaced', async () => {
    const shared = await onboard({ verifyToken: b.verifyToken });
    expect((await handshakeCost(shared.verifyToken)).status).toBe(200);
    const res = await sys.admin('post', `/tenants/${shared.tenantId}/credentials`).send({
      type: 'meta',
      credentials: { appSecret: shared.appSecret, verifyToken: 'a-brand-new-verify-token', accessToken: shared.accessToken, phoneNumberId: shared.phoneNumberId },
    });
    expect(res.status).toBe(201);
    expect((await handshakeCost('a-brand-new-verify-token')).status).toBe(200);
    // b still has the old one.
    expect((await handshakeCost(b.verifyToken)).status).toBe(200);
  });

  it('refuses a token longer than any stored one without a lookup', async () => {
    expect(await handshakeCost('t'.repeat(5000))).toEqual({ status: 403, credentialReads: 0, queries: 0 });
  });
});

describe('what is logged (kind 6)', () => {
  it('logs the path and the query’s names, never a verify token, a challenge or a media link’s signature', async () => {
    logLines.length = 0;
    await request(service.app).get(`/webhook/meta/${a.tenantId}`).query({ 'hub.mode': 'subscribe', 'hub.verify_token': a.verifyToken, 'hub.challenge': 'challenge-777' });
    await request(service.app).get('/webhook/meta').query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'guessed-token-123', 'hub.challenge': 'challenge-888' });
    const link = signMediaUrl({ publicBaseUrl: 'http://bridge.test', secret: MEDIA_SECRET, tenantId: a.tenantId, mediaId: '1234567890', mimeType: 'image/jpeg' });
    const { pathname, search } = new URL(link);
    const sig = new URLSearchParams(search).get('sig')!;
    await request(service.app).get(`${pathname}${search}`);
    const log = logLines.join('');
    for (const secret of [a.verifyToken, 'guessed-token-123', 'challenge-777', 'challenge-888', sig]) expect(log).not.toContain(secret);
    const urls = logLines.map((line) => JSON.parse(line).req?.url).filter(Boolean);
    expect(urls).toEqual(
      expect.arrayContaining([
        `/webhook/meta/${a.tenantId}?hub.mode=subscribe&hub.verify_token=[Redacted]&hub.challenge=[Redacted]`,
        '/webhook/meta?hub.mode=subscribe&hub.verify_token=[Redacted]&hub.challenge=[Redacted]',
        expect.stringMatching(new RegExp(`^${pathname}\\?.*sig=\\[Redacted\\]`)),
      ]),
    );
    for (const line of logLines) expect(JSON.parse(line).req?.query).toBeUndefined();
  });

  it('writes at most a short excerpt of a junk identifier to the log', async () => {
    logLines.length = 0;
    const junk = '7'.repeat(200_000);
    const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ changes: [{ value: { metadata: { phone_number_id: junk } } }] }] });
    await post('/webhook/meta', body, 'sha256=anything');
    await request(service.app).get(`/webhook/meta/${'p'.repeat(6000)}`).query({ [`k${'e'.repeat(3000)}`]: 'v'.repeat(3000) });
    for (const line of logLines) expect(line.length).toBeLessThan(4000);
    expect(logLines.join('')).not.toContain('7'.repeat(100));
  });
});
