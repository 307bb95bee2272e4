import { createHash } from 'node:crypto';
import { statement, type Database, type Queryable } from '@bridge/shared';
import { jsonb } from './store';

/**
 * The SQL of the Meta changes that are not messages or statuses of a known number (migration
 * 1732060800030): account-level changes routed by WABA id (`account_events`), and changes no
 * tenant owns yet, held at platform level (`unclaimed_webhook_changes`) until a tenant claims
 * their number or WABA and they are replayed into it.
 */

// Across tenants: SECURITY DEFINER functions (migration 1732060800040).
const TENANTS_BY_WABA = statement('tenants-by-waba', 'SELECT waba_id, tenant_id FROM tenants_for_wabas($1::text[])');

/** What an app secret is remembered by on a held change (never the secret): SHA-256, hex. */
export const appSecretDigest = (appSecret: string): string => createHash('sha256').update(appSecret, 'utf8').digest('hex');

/** The tenants whose Meta credentials name each WABA (several may), in one indexed query; a WABA nobody names is absent. */
export async function tenantsForWabas(db: Database, wabaIds: readonly string[]): Promise<Map<string, string[]>> {
  const rows = await db.unscoped<{ waba_id: string; tenant_id: string }>(TENANTS_BY_WABA, [wabaIds]);
  const owners = new Map<string, string[]>();
  for (const r of rows) owners.set(r.waba_id, [...(owners.get(r.waba_id) ?? []), r.tenant_id]);
  return owners;
}

/** An account-level change for one tenant: `payload` is `{ entry: { id, time }, change }`. */
export interface AccountEvent {
  field: string;
  wabaId: string | null;
  payload: unknown;
}

/**
 * Records a tenant's account-level changes in its transaction; a redelivered one (the same change
 * and entry time) is stored once. Returns the ones that were new, in the order given.
 */
export async function storeAccountEvents(q: Queryable, tenantId: string, events: readonly AccountEvent[]): Promise<AccountEvent[]> {
  if (!events.length) return [];
  const { rows } = await q.query<{ id: string; field: string; waba_id: string | null; payload: unknown }>(
    `INSERT INTO account_events (tenant_id, field, waba_id, payload)
     SELECT $1, field, waba_id, payload FROM jsonb_to_recordset($2::jsonb) AS x(n int, field text, waba_id text, payload jsonb) ORDER BY n
     ON CONFLICT DO NOTHING
     RETURNING id::text, field, waba_id, payload`,
    [tenantId, jsonb(events.map((e, n) => ({ n, field: e.field, waba_id: e.wabaId, payload: e.payload })))],
  );
  // Ids grow in insertion order, which is the order given.
  return rows
    .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
    .map((r) => ({ field: r.field, wabaId: r.waba_id, payload: r.payload }));
}

/** A change nobody owns: the number or WABA it names (either may be unknown), `{ entry, change }` as received. */
export interface HeldChange {
  phoneNumberId: string | null;
  wabaId: string | null;
  field: string | null;
  payload: unknown;
}

/**
 * Holds changes at platform level (hold_unclaimed_changes, no tenant's transaction may), in
 * order; `signedBy` is 'platform' or appSecretDigest of the tenant app secret that verified
 * them. A redelivered one is held once. Returns how many were new.
 */
export async function holdChanges(db: Database, signedBy: string, changes: readonly HeldChange[]): Promise<number> {
  if (!changes.length) return 0;
  const [row] = await db.unscoped<{ held: number }>('SELECT hold_unclaimed_changes($1, $2::jsonb) AS held', [
    signedBy,
    jsonb(changes.map((c, n) => ({ n, pnid: c.phoneNumberId, waba_id: c.wabaId, field: c.field, payload: c.payload }))),
  ]);
  return row.held;
}

/** A held change, as claimed for replay. */
export interface HeldRow {
  id: string;
  phone_number_id: string | null;
  waba_id: string | null;
  payload: { entry: { id?: string; time?: unknown }; change: unknown };
}

/**
 * In the claiming tenant's transaction: up to `limit` held changes for its numbers or WABA
 * (row-level security shows it only those) that it may receive, oldest first, locked (another
 * replica replaying skips them); `signedBy` null: only what the platform signed. Delete them (deleteHeld) in the same transaction as their store.
 */
export async function claimHeld(q: Queryable, signedBy: string | null, limit: number): Promise<HeldRow[]> {
  const { rows } = await q.query<HeldRow>(
    `SELECT id::text, phone_number_id, waba_id, payload FROM unclaimed_webhook_changes
      WHERE signed_by IN ('platform', $1) ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [signedBy, limit],
  );
  return rows;
}

export async function deleteHeld(q: Queryable, ids: readonly string[]): Promise<void> {
  await q.query('DELETE FROM unclaimed_webhook_changes WHERE id = ANY($1::bigint[])', [ids]);
}

/** Across tenants (unclaimed_change_claimants): the tenants that now own the number or WABA of some held change (replay candidates). */
export async function claimantTenants(db: Database): Promise<string[]> {
  const rows = await db.unscoped<{ tenant_id: string }>('SELECT unclaimed_change_claimants() AS tenant_id');
  return rows.map((r) => r.tenant_id);
}
