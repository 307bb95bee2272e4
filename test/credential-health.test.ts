import { buildTextMessage, wamidOf } from '@bridge/simulators';
import { ownerQuery } from './support/db';
import { eventually, startBridge, type Bridge, type BridgeTenant } from './support/bridge';

/**
 * Credential health through the whole platform (issue #13), with Redis as deployed (the
 * credentials-changed broadcast reaches every service). Meta revoking a tenant's access token
 * (the simulator's number registered again with another token: 190 from then on) and Genesys
 * refusing its OAuth client (the org's secret changed: invalid_client) each mark the credential
 * invalid, raise one notification and hold that tenant's deliveries of that direction — no
 * further provider call, no attempt counted — while other tenants go on; storing the new
 * credential releases them, in their original order. The verify route checks stored credentials
 * live, for both types, good and bad.
 */

let bridge: Bridge;
let gateway: string;

beforeAll(async () => {
  bridge = await startBridge({ redis: true });
  gateway = bridge.sys.urls.gateway;
}, 60_000);

afterAll(() => bridge?.stop());

async function customerWrites(t: BridgeTenant, waId: string, body: string): Promise<string> {
  const message = buildTextMessage({ phoneNumberId: t.phoneNumberId, from: waId, body });
  const res = await bridge.meta.deliverWebhook({ url: `${gateway}/webhook/meta/${t.tenantId}`, payload: message, appSecret: t.appSecret, maxAttempts: 1 });
  expect(res.statuses).toEqual([200]);
  return wamidOf(message);
}

async function agentWrites(t: BridgeTenant, waId: string, text: string): Promise<void> {
  const res = await bridge.genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${t.tenantId}`, secret: t.webhookSecret, integrationId: t.integrationId, to: waId, text });
  expect(res.statuses).toEqual([200]);
}

const credentialsOf = async (t: BridgeTenant) => {
  const res = await bridge.sys.admin('get', `/tenants/${t.tenantId}/credentials`);
  expect(res.status).toBe(200);
  return Object.fromEntries((res.body as Array<{ type: string; health: Record<string, unknown>; credentials: Record<string, unknown> }>).map((c) => [c.type, c])) as Record<string, { health: Record<string, unknown>; credentials: Record<string, unknown> }>;
};
const notifications = (t: BridgeTenant) =>
  ownerQuery<{ kind: string; key: string; severity: string; message: string }>(bridge.sys.tdb, 'SELECT kind, key, severity, message FROM tenant_notifications WHERE tenant_id = $1 ORDER BY id', [t.tenantId]);
const jobs = (t: BridgeTenant, kind: string) =>
  ownerQuery<{ id: string; attempts: number; paced: number; held_at: Date | null }>(bridge.sys.tdb, 'SELECT id::text, attempts, paced, held_at FROM outbox WHERE tenant_id = $1 AND kind = $2 ORDER BY id', [t.tenantId, kind]);
const verify = (t: BridgeTenant, type: string) => bridge.sys.admin('post', `/tenants/${t.tenantId}/credentials/${type}/verify`);
const auditActions = async (t: BridgeTenant) =>
  (await ownerQuery<{ action: string }>(bridge.sys.tdb, 'SELECT action FROM audit_events WHERE tenant_id = $1 ORDER BY id', [t.tenantId])).map((r) => r.action);

describe('a revoked Meta access token (190)', () => {
  it('marks the credential invalid, notifies once, holds the tenant’s replies without calling Meta again, and sends them in order once the token is replaced', async () => {
    const t = await bridge.onboard();
    const other = await bridge.onboard();
    const ana = '16505550301';
    const ben = '16505550302';
    await customerWrites(t, ana, 'Hello');
    await customerWrites(other, ben, 'Hi');
    await eventually(() => bridge.genesys.messages(t.integrationId).length === 1 && bridge.genesys.messages(other.integrationId).length === 1, 10_000, 'both customers at Genesys');

    // Verify while the token is good: the number, no secret.
    const good = await verify(t, 'meta');
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ type: 'meta', ok: true, details: { phoneNumberId: t.phoneNumberId }, cleared: false, health: { status: 'valid', verifiedAt: expect.any(String) } });

    // Meta revokes the token: the number now answers only to another one.
    const newToken = `EAAGrotated${Date.now()}`;
    bridge.meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: newToken, wabaId: t.wabaId });
    const bad = await verify(t, 'meta');
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({ type: 'meta', ok: false, problem: 'META_TOKEN_INVALID', providerCode: 190, message: expect.stringContaining('Meta refused the access token') });
    expect(JSON.stringify(bad.body)).not.toContain(t.accessToken);
    // A failing verify changes nothing by itself.
    expect((await credentialsOf(t)).meta.health).toMatchObject({ status: 'valid' });

    const replies = ['First reply', 'Second reply', 'Third reply'];
    for (const text of replies) await agentWrites(t, ana, text);

    const health = await eventually(async () => {
      const h = (await credentialsOf(t)).meta.health;
      return h.status === 'invalid' && h;
    }, 10_000, 'the Meta credential marked invalid');
    expect(health).toMatchObject({ status: 'invalid', invalidReason: expect.stringContaining('190'), invalidAt: expect.any(String) });
    expect(JSON.stringify(await credentialsOf(t))).not.toContain(t.accessToken.slice(8));
    expect((await credentialsOf(t)).genesys.health).toMatchObject({ status: 'valid' });

    // Other tenants are not held: another tenant's reply goes out meanwhile (and proves the worker is busy).
    await agentWrites(other, ben, 'Other tenant, first');
    await agentWrites(other, ben, 'Other tenant, second');
    await eventually(() => bridge.meta.sends(other.phoneNumberId).length === 2, 10_000, 'the other tenant’s replies at Meta');
    // Held: queued behind the refused one or held as they were queued (one queued by a transaction
    // that raced the refusal is not held but skipped by the claim all the same: attempts stay 0).
    await eventually(async () => (await jobs(t, 'to_whatsapp_message')).length === replies.length, 10_000, 'every reply queued');
    // One refused call, not one per reply and no retries; nothing counted as an attempt but that one.
    const refused = bridge.meta.calls.filter((c) => c.endpoint === 'messages' && c.phoneNumberId === t.phoneNumberId);
    expect(refused.map((c) => c.errorCode)).toEqual([190]);
    const held = await jobs(t, 'to_whatsapp_message');
    expect(held.map((j) => [j.attempts, j.paced])).toEqual([
      [1, 1],
      [0, 0],
      [0, 0],
    ]);
    const notes = await notifications(t);
    expect(notes).toEqual([{ kind: 'credentials.invalid', key: expect.stringMatching(/^meta:/), severity: 'critical', message: expect.stringContaining('held') }]);
    expect(await notifications(other)).toEqual([]);
    expect(bridge.meta.sends(t.phoneNumberId)).toEqual([]);

    // The admin stores the new token: the three replies go, in the agent's order, once each.
    const stored = await bridge.sys
      .admin('post', `/tenants/${t.tenantId}/credentials`)
      .send({ type: 'meta', credentials: { appSecret: t.appSecret, verifyToken: t.verifyToken, accessToken: newToken, phoneNumberId: t.phoneNumberId, wabaId: t.wabaId } });
    expect(stored.status).toBe(201);
    expect(stored.body.health).toEqual({ status: 'valid', invalidReason: null, invalidAt: null, verifiedAt: null });
    await eventually(() => bridge.meta.sends(t.phoneNumberId).length === replies.length, 15_000, 'the held replies at Meta');
    expect(bridge.meta.sends(t.phoneNumberId).map((s) => s.body.text?.body)).toEqual(replies);
    await eventually(async () => (await jobs(t, 'to_whatsapp_message')).length === 0, 10_000, 'no reply left in the queue');
    const statuses = await ownerQuery<{ status: string; n: number }>(
      bridge.sys.tdb,
      `SELECT status, count(*)::int AS n FROM message_tracking WHERE tenant_id = $1 AND direction = 'outbound' GROUP BY status`,
      [t.tenantId],
    );
    expect(statuses).toEqual([{ status: 'sent', n: replies.length }]);
    expect(bridge.genesys.receipts(t.integrationId).filter((r) => r.body.status === 'Failed')).toEqual([]);
    expect(await notifications(t)).toHaveLength(1);
    expect((await credentialsOf(t)).meta.health).toMatchObject({ status: 'valid' });
    expect(await auditActions(t)).toEqual(expect.arrayContaining(['credentials.verified', 'credentials.stored']));
  }, 90_000);
});

describe('a refused Genesys OAuth client', () => {
  it('marks the credential invalid, notifies once, holds the customer’s messages, and delivers them in order once the client secret is replaced', async () => {
    const t = await bridge.onboard();
    const other = await bridge.onboard();
    const ana = '16505550311';
    await customerWrites(t, ana, 'Before');
    await eventually(() => bridge.genesys.messages(t.integrationId).length === 1, 10_000, 'the first message at Genesys');

    const good = await verify(t, 'genesys');
    expect(good.body).toMatchObject({ type: 'genesys', ok: true, details: { clientId: t.clientId }, health: { status: 'valid' } });
    expect(JSON.stringify(good.body)).not.toMatch(/access_token|accessToken/);

    // The org's client secret changes at Genesys and its tokens are revoked.
    const newSecret = `rotated-secret-${Date.now()}`;
    bridge.genesys.addOrg({ clientId: t.clientId, clientSecret: newSecret, integrationId: t.integrationId });
    bridge.genesys.revokeTokens(t.clientId);
    const bad = await verify(t, 'genesys');
    expect(bad.body).toMatchObject({ type: 'genesys', ok: false, problem: 'GENESYS_CREDENTIALS_REFUSED', providerStatus: 401, providerCode: 'invalid_client' });
    expect(JSON.stringify(bad.body)).not.toContain(t.clientSecret);

    const texts = ['One', 'Two', 'Three'];
    for (const text of texts) await customerWrites(t, ana, text);
    const health = await eventually(async () => {
      const h = (await credentialsOf(t)).genesys.health;
      return h.status === 'invalid' && h;
    }, 15_000, 'the Genesys credential marked invalid');
    expect(health.invalidReason).toEqual(expect.stringContaining('invalid_client'));
    expect((await credentialsOf(t)).meta.health).toMatchObject({ status: 'valid' });
    await eventually(async () => (await jobs(t, 'to_genesys_message')).length === 3, 10_000, 'every message queued');
    // Since the refusal, nobody asks Genesys for a token with the refused secret.
    const tokenRequests = bridge.genesys.tokenRequests(t.clientId);
    // Another tenant's customer goes on meanwhile.
    await customerWrites(other, '16505550312', 'Other tenant');
    await eventually(() => bridge.genesys.messages(other.integrationId).length === 1, 10_000, 'the other tenant’s message at Genesys');
    expect(bridge.genesys.tokenRequests(t.clientId)).toBe(tokenRequests);
    const held = await jobs(t, 'to_genesys_message');
    expect(held.map((j) => [j.attempts, j.paced])).toEqual([
      [1, 1],
      [0, 0],
      [0, 0],
    ]);
    expect(await notifications(t)).toEqual([{ kind: 'credentials.invalid', key: expect.stringMatching(/^genesys:/), severity: 'critical', message: expect.stringContaining('Genesys') }]);
    expect(bridge.genesys.messages(t.integrationId)).toHaveLength(1);

    const stored = await bridge.sys
      .admin('post', `/tenants/${t.tenantId}/credentials`)
      .send({ type: 'genesys', credentials: { clientId: t.clientId, clientSecret: newSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret } });
    expect(stored.status).toBe(201);
    await eventually(() => bridge.genesys.messages(t.integrationId).length === 4, 15_000, 'the held messages at Genesys');
    expect(bridge.genesys.messages(t.integrationId).map((m) => m.body.text)).toEqual(['Before', ...texts]);
    expect(await notifications(t)).toHaveLength(1);
    expect((await credentialsOf(t)).genesys.health).toMatchObject({ status: 'valid' });
  }, 90_000);

  it('a verify that finds an invalid credential good again (the provider accepts it once more) clears it and releases the held deliveries', async () => {
    const t = await bridge.onboard();
    const ana = '16505550321';
    bridge.genesys.addOrg({ clientId: t.clientId, clientSecret: 'temporarily-wrong-secret', integrationId: t.integrationId });
    bridge.genesys.revokeTokens(t.clientId);
    await customerWrites(t, ana, 'Held');
    await eventually(async () => (await credentialsOf(t)).genesys.health.status === 'invalid', 15_000, 'the Genesys credential marked invalid');

    // Genesys takes the stored secret again (it was restored on their side).
    bridge.genesys.addOrg({ clientId: t.clientId, clientSecret: t.clientSecret, integrationId: t.integrationId });
    const res = await verify(t, 'genesys');
    expect(res.body).toMatchObject({ ok: true, cleared: true, released: 1, health: { status: 'valid', invalidReason: null } });
    await eventually(() => bridge.genesys.messages(t.integrationId).map((m) => m.body.text).join() === 'Held', 15_000, 'the held message at Genesys');
  }, 60_000);

  it('verify: 404 for credentials not stored, 400 for an unknown type', async () => {
    const { tenantId } = await bridge.sys.createTenant();
    expect((await bridge.sys.admin('post', `/tenants/${tenantId}/credentials/meta/verify`)).body.error.code).toBe('CREDENTIALS_NOT_FOUND');
    const unknown = await bridge.sys.admin('post', `/tenants/${tenantId}/credentials/twitter/verify`);
    expect(unknown.status).toBe(400);
    expect((await bridge.sys.admin('post', `/tenants/no-such-tenant-x/credentials/meta/verify`)).status).toBe(404);
  });
});
