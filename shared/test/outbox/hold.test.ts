import { JOB_CREDENTIAL, JOB_KINDS, LeaseLost, REPLACED_RETRY_MS, afterFailure, credentialStored, credentialVerified, lanes, type RetryPolicy } from '@bridge/shared';
import { at, claimedTwice, LEASE, useQueue } from './queue';

/**
 * Operation: hold (credential health, issue #13). A provider refusing a tenant's credential
 * (Meta's 190, Genesys refusing the OAuth client) marks it invalid, raises one notification, and
 * holds the tenant's jobs that need it: not claimed, no attempt counted, no budget used, other
 * tenants and the other direction untouched. Storing the credential again releases them, in
 * their lanes' order.
 */
const queue = useQueue();

const policy: RetryPolicy = { baseMs: 1_000, maxMs: 600_000, budgetMs: 3_600_000 };
const REASON = 'META_TOKEN_INVALID: Error validating access token (Meta #190)';

/** Meta and Genesys credentials for both tenants (blobs are never read here), stored a minute ago. */
async function storeCredentials() {
  await queue.owner('DELETE FROM tenant_credentials');
  await queue.owner('DELETE FROM tenant_notifications');
  for (const [i, t] of ['tenant-a', 'tenant-b'].entries()) {
    await queue.owner(
      `INSERT INTO tenant_credentials (tenant_id, type, encrypted, phone_number_id, created_at, updated_at) VALUES ($1, 'meta', '\\x00', $2, now() - interval '1 minute', now() - interval '1 minute')`,
      [t, `1555000000${i}`],
    );
    await queue.owner(`INSERT INTO tenant_credentials (tenant_id, type, encrypted, created_at, updated_at) VALUES ($1, 'genesys', '\\x00', now() - interval '1 minute', now() - interval '1 minute')`, [t]);
  }
}

const credential = async (tenantId: string, type: string) =>
  (await queue.owner<{ status: string; invalid_reason: string | null; invalid_at: Date | null; updated_at: Date }>(
    'SELECT status, invalid_reason, invalid_at, updated_at FROM tenant_credentials WHERE tenant_id = $1 AND type = $2',
    [tenantId, type],
  ))[0];
const notifications = (tenantId: string) =>
  queue.owner<{ kind: string; key: string; severity: string; message: string }>('SELECT kind, key, severity, message FROM tenant_notifications WHERE tenant_id = $1', [tenantId]);

/** What the admin's POST /tenants/:id/credentials does to the row and the queue (tenant-service's upsert, then credentialStored). */
const storeAgain = (tenantId: string, type: 'meta' | 'genesys') =>
  queue.db.withTenant(tenantId, async (q) => {
    await q.query(`UPDATE tenant_credentials SET updated_at = now(), status = 'valid', invalid_reason = NULL, invalid_at = NULL, verified_at = NULL WHERE tenant_id = $1 AND type = $2`, [tenantId, type]);
    return credentialStored(q, tenantId, type);
  });

beforeEach(storeCredentials);

/** The notifications' own deliveries (kind to_tenant_notification) are another test's business: dropped here. */
const dropNotificationJobs = () => queue.owner(`DELETE FROM outbox WHERE kind = 'to_tenant_notification'`);

describe('the kinds and their credentials', () => {
  it('outbox_kind_credential (SQL) answers what JOB_CREDENTIAL says for every kind', async () => {
    for (const kind of JOB_KINDS) {
      const [row] = await queue.owner<{ credential: string | null }>('SELECT outbox_kind_credential($1) AS credential', [kind]);
      expect({ kind, credential: row.credential }).toEqual({ kind, credential: JOB_CREDENTIAL[kind] ?? null });
    }
  });
});

describe('holdForCredential', () => {
  it("marks the credential invalid, raises one notification, and holds the tenant's jobs of that direction only", async () => {
    const ana = lanes.outbound('15550000001');
    const first = await queue.add({ kind: 'to_whatsapp_message', lane: ana, ordering: at(1) });
    const second = await queue.add({ kind: 'to_whatsapp_message', lane: ana, ordering: at(2) });
    const ben = await queue.add({ kind: 'to_whatsapp_message', lane: lanes.outbound('15550000002'), ordering: at(3) });
    const signal = await queue.add({ kind: 'to_whatsapp_signal', lane: lanes.signals('15550000003'), ordering: at(4) });
    const inbound = await queue.add({ kind: 'to_genesys_message', lane: lanes.inbound('15550000001'), ordering: at(5) });
    const otherTenant = await queue.add({ tenantId: 'tenant-b', kind: 'to_whatsapp_message', lane: ana, ordering: at(6) });

    const [job] = (await queue.outbox.claim(10, LEASE, [])).filter((j) => j.id === first);
    // The other lane's head is in flight too (claimed with it): it will meet the same refusal.
    const held = await queue.outbox.holdForCredential(job, 'meta', REASON, new Date());
    expect(held).toEqual({ outcome: 'held', newlyInvalid: true, heldJobs: expect.any(Number) });

    expect(await credential('tenant-a', 'meta')).toMatchObject({ status: 'invalid', invalid_reason: REASON, invalid_at: expect.any(Date) });
    expect(await credential('tenant-a', 'genesys')).toMatchObject({ status: 'valid', invalid_reason: null });
    expect(await credential('tenant-b', 'meta')).toMatchObject({ status: 'valid' });
    // The refused attempt is a wait, not a failure: attempts unchanged, counted in paced, lease released.
    expect(await queue.row(first)).toMatchObject({ attempts: 1, paced: 1, locked_until: null, held_at: expect.any(Date), last_error: REASON, state: 'pending' });
    expect(await queue.row(second)).toMatchObject({ attempts: 0, held_at: expect.any(Date) });
    expect(await queue.row(signal)).toMatchObject({ attempts: 1, held_at: null }); // was in flight: holds itself when refused
    expect(await queue.row(inbound)).toMatchObject({ held_at: null });
    expect(await queue.row(otherTenant)).toMatchObject({ held_at: null });

    // The in-flight ones meet the refusal too: held, and no second notification.
    for (const j of (await queue.owner<{ id: string }>(`SELECT id::text FROM outbox WHERE tenant_id = 'tenant-a' AND locked_until IS NOT NULL AND kind IN ('to_whatsapp_message', 'to_whatsapp_signal')`)).map((r) => r.id)) {
      const row = await queue.row(j);
      const again = await queue.outbox.holdForCredential({ ...row, tenantId: row.tenant_id, id: j, attempts: row.attempts } as never, 'meta', REASON, new Date());
      expect(again).toMatchObject({ outcome: 'held', newlyInvalid: false });
    }
    expect(await queue.row(ben)).toMatchObject({ held_at: expect.any(Date) });
    const notes = await notifications('tenant-a');
    expect(notes).toEqual([{ kind: 'credentials.invalid', key: expect.stringMatching(/^meta:\d{4}-/), severity: 'critical', message: expect.stringContaining('Meta #190') }]);
    expect(await notifications('tenant-b')).toEqual([]);

    // Held jobs are not claimed, however often one asks; Genesys's and the other tenant's are.
    for (let i = 0; i < 3; i++) {
      const claimed = await queue.outbox.claim(10, LEASE, []);
      expect(claimed.every((j) => !(j.tenantId === 'tenant-a' && JOB_CREDENTIAL[j.kind] === 'meta'))).toBe(true);
      for (const j of claimed) await queue.owner('UPDATE outbox SET locked_until = NULL WHERE id = $1', [j.id]);
    }
    expect((await queue.row(second)).attempts).toBe(0);
    // A job queued while the credential is invalid is held from the start.
    const later = await queue.add({ kind: 'to_whatsapp_message', lane: lanes.outbound('15550000009'), ordering: at(9) });
    expect(await queue.row(later)).toMatchObject({ held_at: expect.any(Date) });
    // Its notification's own delivery (kind to_tenant_notification) is not held.
    expect(await queue.owner(`SELECT 1 FROM outbox WHERE tenant_id = 'tenant-a' AND kind = 'to_tenant_notification' AND held_at IS NOT NULL`)).toEqual([]);
  });

  it('storing the credential again releases the held jobs, in lane order, with the time held added to their budget', async () => {
    const ana = lanes.outbound('15550000001');
    const ids = [];
    for (let s = 1; s <= 3; s++) ids.push(await queue.add({ kind: 'to_whatsapp_message', lane: ana, ordering: at(s) }));
    const [job] = await queue.outbox.claim(1, LEASE, []);
    expect(job.id).toBe(ids[0]);
    await queue.outbox.holdForCredential(job, 'meta', REASON, new Date());
    await dropNotificationJobs();
    // Held for ten minutes, as an admin takes time.
    await queue.owner(`UPDATE outbox SET held_at = held_at - interval '10 minutes' WHERE tenant_id = 'tenant-a'`);
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]);

    expect(await storeAgain('tenant-a', 'meta')).toBe(3);
    expect(await credential('tenant-a', 'meta')).toMatchObject({ status: 'valid', invalid_reason: null });
    const delivered: string[] = [];
    for (let i = 0; i < 3; i++) {
      const claimed = await queue.outbox.claim(10, LEASE, []);
      expect(claimed).toHaveLength(1); // one lane, one at a time
      const [next] = claimed;
      expect(next.heldMs).toBeGreaterThanOrEqual(600_000);
      expect(next.heldMs).toBeLessThan(660_000);
      delivered.push(next.id);
      await queue.db.withTenant(next.tenantId, (q) => queue.outbox.complete(q, next));
    }
    expect(delivered).toEqual(ids);
    // Stored again and refused again: a new notification (its key names the new credential).
    const another = await queue.add({ kind: 'to_whatsapp_message', lane: ana, ordering: at(10) });
    const [j] = await queue.outbox.claim(1, LEASE, []);
    expect(j.id).toBe(another);
    await queue.outbox.holdForCredential(j, 'meta', REASON, new Date());
    expect(await notifications('tenant-a')).toHaveLength(2);
  });

  it('a job held for its credential uses none of its budget: afterFailure counts from created_at plus the time held', () => {
    const now = Date.now();
    const HOUR = 3_600_000;
    const old = { attempts: 1, paced: 0, createdAt: new Date(now - 2 * HOUR) };
    expect(afterFailure(old, { permanent: false }, policy, now)).toEqual({ finish: 'dead' });
    const next = afterFailure({ ...old, heldMs: 1.5 * HOUR }, { permanent: false }, policy, now);
    expect(next).toHaveProperty('retryInMs');
  });

  it("a refusal of credentials stored again since the attempt began marks nothing and tries the job again shortly", async () => {
    const id = await queue.add({ kind: 'to_genesys_message', lane: lanes.inbound('15550000001'), ordering: at(1) });
    const [job] = await queue.outbox.claim(1, LEASE, []);
    const attemptStartedAt = new Date(Date.now() - 120_000); // before the credential's updated_at
    expect(await queue.outbox.holdForCredential(job, 'genesys', 'GENESYS_CREDENTIALS_REFUSED: invalid_client', attemptStartedAt)).toMatchObject({ outcome: 'replaced' });
    expect(await credential('tenant-a', 'genesys')).toMatchObject({ status: 'valid' });
    expect(await queue.row(id)).toMatchObject({ held_at: null, locked_until: null, paced: 1 });
    expect(await notifications('tenant-a')).toEqual([]);
    // Tried again shortly (a stale copy of the old credential somewhere must not loop hot).
    const [{ delay }] = await queue.owner<{ delay: number }>('SELECT extract(epoch FROM next_attempt_at - now()) * 1000 AS delay FROM outbox WHERE id = $1', [id]);
    expect(Number(delay)).toBeGreaterThan(0);
    expect(Number(delay)).toBeLessThanOrEqual(REPLACED_RETRY_MS);
    await queue.owner(`UPDATE outbox SET next_attempt_at = now() WHERE id = $1`, [id]);
    expect((await queue.outbox.claim(1, LEASE, [])).map((j) => j.id)).toEqual([id]);
  });

  it('is fenced: a stale claim holds nothing (LeaseLost)', async () => {
    await queue.add({ kind: 'to_whatsapp_message', lane: lanes.outbound('15550000001'), ordering: at(1) });
    const { stale } = await claimedTwice(queue);
    await expect(queue.outbox.holdForCredential(stale, 'meta', REASON, new Date())).rejects.toBeInstanceOf(LeaseLost);
    expect(await credential('tenant-a', 'meta')).toMatchObject({ status: 'valid' });
    expect(await notifications('tenant-a')).toEqual([]);
  });

  it('the claim skips a job of an invalid credential that a racing transaction queued unheld', async () => {
    await queue.owner(`UPDATE tenant_credentials SET status = 'invalid', invalid_reason = 'x', invalid_at = now() WHERE tenant_id = 'tenant-a' AND type = 'meta'`);
    const id = await queue.add({ kind: 'to_whatsapp_message', lane: lanes.outbound('15550000001'), ordering: at(1) });
    await queue.owner('UPDATE outbox SET held_at = NULL WHERE id = $1', [id]);
    const other = await queue.add({ tenantId: 'tenant-b', kind: 'to_whatsapp_message', lane: lanes.outbound('15550000001'), ordering: at(2) });
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id)).toEqual([other]);
  });

  it('a verify that finds an invalid credential good clears it and releases its jobs; one of credentials stored since changes nothing', async () => {
    const id = await queue.add({ kind: 'to_genesys_receipt', lane: lanes.receipts('wamid.1'), ordering: at(1) });
    const [job] = await queue.outbox.claim(1, LEASE, []);
    await queue.outbox.holdForCredential(job, 'genesys', 'GENESYS_CREDENTIALS_REFUSED: invalid_client', new Date());
    await dropNotificationJobs();
    const { updated_at } = await credential('tenant-a', 'genesys');
    const stale = await queue.db.withTenant('tenant-a', (q) => credentialVerified(q, 'tenant-a', 'genesys', new Date(updated_at.getTime() - 1000)));
    expect(stale).toEqual({ cleared: false, released: 0 });
    expect(await credential('tenant-a', 'genesys')).toMatchObject({ status: 'invalid' });
    const verified = await queue.db.withTenant('tenant-a', (q) => credentialVerified(q, 'tenant-a', 'genesys', updated_at));
    expect(verified).toEqual({ cleared: true, released: 1 });
    expect(await credential('tenant-a', 'genesys')).toMatchObject({ status: 'valid', invalid_reason: null });
    expect((await queue.outbox.claim(1, LEASE, [])).map((j) => j.id)).toEqual([id]);
  });
});
