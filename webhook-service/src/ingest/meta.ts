import { z } from 'zod';
import {
  AppError,
  BSUID_PATTERN,
  BSUID_RULE,
  META_ID_PATTERN,
  WHATSAPP_PHONE_PATTERN,
  WHATSAPP_PHONE_RULE,
  appError,
  tenantSuspended,
  badInput,
  isMetaId,
  isBsuid,
  isTenantId,
  isWhatsAppPhone,
  safeEqual,
  setContextTenant,
  statement,
  type Queryable,
} from '@bridge/shared';
import { parseWebhookBody } from '../parse';
import { verifyMetaSignature } from '../signatures';
import { appSecretDigest, claimHeld, deleteHeld, holdChanges, storeAccountEvents, type AccountEvent, type HeldChange } from '../routing-store';
import { storeMetaUpdates, type ContactSeen, type InboundMessage, type InboundStatus, type NumberChange } from '../store';
import type { IngestDeps } from './deps';
import type { ProvisionCandidate } from './provision';
import { reportBadSignature } from './security';
import { applyTemplateStatuses } from './template-status';
import { metaSeconds } from './time';

/**
 * Meta's webhook, per the reference: a batch of `entry[].changes[]`, each for one business number
 * (`value.metadata.phone_number_id`), holding messages and/or statuses. Parsed loosely — Meta adds
 * fields — but what routing and storage need is checked, ids for their shape (Meta's ids are
 * digits) and every string we keep for its length.
 */
const metaId = z.string().regex(META_ID_PATTERN, 'must be a Meta id (digits)');
// The customer's ids, by the one rule every path applies (shared/src/ids.ts): a phone number in
// `from` / `wa_id`, a business-scoped user id (BSUID) in `from_user_id` / `user_id` /
// `parent_user_id`. Either may be absent (a customer who hides their number has no phone here).
const phone = z.string().regex(WHATSAPP_PHONE_PATTERN, WHATSAPP_PHONE_RULE).optional();
const bsuid = z.string().regex(BSUID_PATTERN, BSUID_RULE).optional();
const timestamp = z.string().max(32).optional();
const messageSchema = z
  .object({ id: z.string().min(1).max(512), from: phone, from_user_id: bsuid, timestamp, type: z.string().max(64).optional() })
  .passthrough();
const statusSchema = z.object({ id: z.string().min(1).max(512), status: z.string().min(1).max(32), timestamp }).passthrough();
// Contacts are bounded only: a contact's ids are checked by the rule where they name a message's
// sender (senderRule below); statuses' contacts (the recipients of our messages, matched by
// wamid) are not the bridge's to refuse.
const contactSchema = z
  .object({
    wa_id: z.string().max(256).optional(),
    user_id: z.string().max(256).optional(),
    parent_user_id: z.string().max(256).optional(),
    profile: z.object({ name: z.string().max(1024).optional(), username: z.string().max(256).optional() }).passthrough().optional(),
  })
  .passthrough();
type Contact = z.infer<typeof contactSchema>;
type Message = z.infer<typeof messageSchema>;

/**
 * The contact a message comes with: the one naming its sender, else the only one unless it names
 * someone else (a `wa_id` other than `from`, a `user_id` other than `from_user_id`): a sender is
 * never given another person's name, username or ids.
 */
function contactOf(message: Message, contacts: readonly Contact[]): { contact: Contact; index: number } | undefined {
  let index = contacts.findIndex((c) => (c.wa_id && c.wa_id === message.from) || (c.user_id && c.user_id === message.from_user_id));
  const only = contacts.length === 1 ? contacts[0] : undefined;
  const contradicts = (mine: string | undefined, theirs: string | undefined) => mine !== undefined && theirs !== undefined && mine !== theirs;
  if (index === -1 && only && !contradicts(message.from, only.wa_id) && !contradicts(message.from_user_id, only.user_id)) index = 0;
  return index === -1 ? undefined : { contact: contacts[index], index };
}

/**
 * A message's sender: their phone number (`from`, else their contact's `wa_id`) and their BSUID
 * (`from_user_id`, else their contact's `user_id`). Newer payloads may carry no `from`.
 */
function senderOf(message: Message, contacts: readonly Contact[]): { phone: string | null; userId: string | null; contact?: Contact } {
  const contact = contactOf(message, contacts)?.contact;
  return { phone: message.from ?? contact?.wa_id ?? null, userId: message.from_user_id ?? contact?.user_id ?? null, contact };
}

/** A contact id that names a message's sender follows the rule for customer ids, as `from` and `from_user_id` do. */
function senderRule(value: { contacts?: Contact[]; messages?: Message[] }, ctx: z.RefinementCtx): void {
  const contacts = value.contacts ?? [];
  for (const message of value.messages ?? []) {
    const found = contactOf(message, contacts);
    if (!found) continue;
    if (message.from === undefined && found.contact.wa_id !== undefined && !isWhatsAppPhone(found.contact.wa_id)) {
      ctx.addIssue({ code: 'custom', path: ['contacts', found.index, 'wa_id'], message: WHATSAPP_PHONE_RULE });
    }
    if (message.from_user_id === undefined && found.contact.user_id !== undefined && !isBsuid(found.contact.user_id)) {
      ctx.addIssue({ code: 'custom', path: ['contacts', found.index, 'user_id'], message: BSUID_RULE });
    }
  }
}
const changeSchema = z
  .object({
    field: z.string().max(64).optional(),
    value: z
      .object({
        metadata: z.object({ phone_number_id: metaId, display_phone_number: z.string().max(64).optional() }).passthrough().optional(),
        contacts: z.array(contactSchema).optional(),
        messages: z.array(messageSchema).optional(),
        statuses: z.array(statusSchema).optional(),
      })
      .passthrough()
      .superRefine(senderRule),
  })
  .passthrough();
const envelopeSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  // The WABA id routes account-level changes, but a payload is not refused over its shape (docs'
  // examples carry placeholders): only bounded; one that is not a Meta id routes to nobody.
  entry: z.array(z.object({ id: z.string().max(64).optional(), time: z.unknown().optional(), changes: z.array(changeSchema) }).passthrough()).min(1, 'must not be empty'),
});

type Change = z.infer<typeof changeSchema>;

/**
 * A customer's new number, when `message` says they changed number: a `system` message of type
 * `user_changed_number` (`customer_changed_number` in older webhooks) from the old number, the new
 * one in `system.wa_id` (`new_wa_id` up to webhook version 11; Meta's "System messages webhook
 * reference", shared/reference/whatsapp-cloud-api.md).
 */
function newNumberOf(message: z.infer<typeof messageSchema>): string | undefined {
  const system = message.system as { type?: unknown; wa_id?: unknown; new_wa_id?: unknown } | undefined;
  if (message.type !== 'system' || !message.from || !system) return undefined;
  if (system.type !== 'user_changed_number' && system.type !== 'customer_changed_number') return undefined;
  const next = [system.wa_id, system.new_wa_id].find(isWhatsAppPhone);
  return next && next !== message.from ? next : undefined;
}

type Updates = { messages: InboundMessage[]; statuses: InboundStatus[]; contacts: ContactSeen[]; numberChanges: NumberChange[] };

/**
 * What one change contributes to its tenant's transaction. A message's sender is named by their
 * phone number (`from`, else their contact's `wa_id`) and/or their BSUID (`from_user_id`, else
 * their contact's `user_id`); the store finds their mapping by either (storeMetaUpdates).
 */
function collect(change: Change, into: Updates) {
  const value = change.value;
  const phoneNumberId = value.metadata!.phone_number_id;
  const contacts = value.contacts ?? [];
  for (const message of value.messages ?? []) {
    // Newer payloads may carry no `from`: the contact's ids then name the sender; never crash on it.
    const { contact, ...customer } = senderOf(message, contacts);
    const known = customer.phone || customer.userId;
    const ts = metaSeconds(message.timestamp);
    into.messages.push({
      customer: known ? customer : null,
      wamid: message.id,
      type: message.type ?? 'unknown',
      ts,
      payload: { message, contact: contact ?? null, phoneNumberId, displayPhoneNumber: value.metadata!.display_phone_number ?? null },
    });
    if (known) into.contacts.push({ ...customer, name: contact?.profile?.name ?? null, username: contact?.profile?.username ?? null, phoneNumberId, ts });
    const newNumber = newNumberOf(message);
    if (newNumber) into.numberChanges.push({ wamid: message.id, from: message.from!, to: newNumber });
  }
  for (const status of value.statuses ?? []) {
    into.statuses.push({ wamid: status.id, status: status.status, ts: metaSeconds(status.timestamp), payload: status });
  }
}

/** A handshake request's query: `hub.mode`, `hub.verify_token`, `hub.challenge` as received. */
export interface MetaVerificationInput {
  mode: unknown;
  token: unknown;
  challenge: unknown;
  /** The tenant named by the path (`/webhook/meta/:tenantId`); absent on the platform-wide route. */
  pathTenant?: string;
}

/** A verify token is at most this long (tenant-service accepts no longer one): a longer one matches nobody. */
const MAX_VERIFY_TOKEN = 4096;

/**
 * Meta's verification handshake: the challenge to echo back when `token` is the path tenant's
 * verify token (or, platform-wide, any tenant's, found by its hash in one indexed lookup).
 * Errors: 403 VERIFICATION_FAILED, the same for an unknown tenant, a malformed one and a wrong token.
 */
export async function verifyMetaSubscription(deps: Pick<IngestDeps, 'tenants'>, input: MetaVerificationInput): Promise<string> {
  const { mode, token, challenge, pathTenant } = input;
  if (mode !== 'subscribe' || typeof token !== 'string' || token.length > MAX_VERIFY_TOKEN || typeof challenge !== 'string' || !/^[\w.-]{1,256}$/.test(challenge)) {
    throw appError('VERIFICATION_FAILED');
  }
  if (pathTenant !== undefined && !isTenantId(pathTenant)) throw appError('VERIFICATION_FAILED', 'The verify token does not match');
  let matched: boolean;
  if (pathTenant !== undefined) {
    const meta = await deps.tenants.metaCredentials(pathTenant);
    matched = !!meta && safeEqual(meta.verifyToken, token);
  } else {
    matched = !!(await deps.tenants.tenantByVerifyToken(token));
  }
  if (!matched) throw appError('VERIFICATION_FAILED', 'The verify token does not match');
  return challenge;
}

export interface MetaWebhookInput {
  /** The body's exact bytes (the signature covers them); undefined when the request had none. */
  raw: Buffer | undefined;
  /** `X-Hub-Signature-256`: `sha256=<hex>`. */
  signature: string | undefined;
  /** The tenant named by the path (`/webhook/meta/:tenantId`); absent on the platform-wide route. */
  pathTenant?: string;
}

export interface MetaIngestResult {
  /** How many tenants the payload was for. */
  tenants: number;
  /** Messages and statuses stored now (repeats of stored ones are not counted). */
  newMessages: number;
  newStatuses: number;
  /** Account-level changes (template statuses, quality, ...) recorded now for their tenants. */
  accountEvents: number;
  /** Changes for a number or WABA nobody owns yet, held now for the tenant that claims it. */
  held: number;
}

/**
 * Ingests one Meta webhook delivery: check the signature on the raw bytes, route each change to
 * its tenant — a messages change by the business number it is for, an account-level change
 * (`message_template_status_update`, `account_update`, `phone_number_quality_update`, ..., which
 * carry no `metadata`) by the WABA id in `entry[].id` — refuse suspended tenants, then store
 * every message and status in the transaction that decides it is new (and queues its delivery),
 * record account-level changes (account_events; a new template status change also moves its
 * template in the tenant's catalogue), and hold what no tenant owns yet
 * (unclaimed_webhook_changes, replayed by replayHeldChanges when a tenant claims it). A repeated
 * delivery stores nothing new. An authentic payload is acknowledged whole: one change nobody
 * owns never costs the others their delivery.
 *
 * Authentic: the platform app secret (`deps.platformAppSecret`) verifies the bytes, or every
 * tenant the payload routes to does with its own app secret. What a request that is not
 * correctly signed learns is the same whatever exists (401):
 * - at a tenant's path (`/webhook/meta/:tenantId`) the signature is checked with that tenant's
 *   secret before the body is even parsed; an unknown or malformed tenant id is refused the same
 *   way, after the same work; account-level changes there are that tenant's;
 * - on the platform route the body must be parsed to find the numbers and WABAs, whose tenants'
 *   secrets (or the platform's) then decide; a payload naming only what nobody owns can be
 *   verified by the platform secret alone, so without it it is 401.
 * Only a correctly signed payload can learn that a number is not the path tenant's (404), and
 * such a payload is refused whole, before anything is stored. A signature that does not verify
 * is reported as a security event (ingest/security.ts: counted per tenant per minute).
 *
 * A pending tenant's changes (automatic provisioning) are held, not refused, until an admin
 * activates it. With `deps.provision` (AUTO_PROVISION), a payload the platform app secret signed
 * that carries customers' messages for numbers nobody owns first creates a pending tenant for
 * each such number (ingest/provision.ts); their changes are held as before, for it to claim.
 *
 * Errors (AppError): 400 INVALID_PAYLOAD / MALFORMED_JSON / NOT_ROUTABLE, 401 INVALID_SIGNATURE,
 * 404 PHONE_NUMBER_NOT_FOUND, 423 TENANT_SUSPENDED.
 */
export async function ingestMetaWebhook(deps: IngestDeps, input: MetaWebhookInput): Promise<MetaIngestResult> {
  const { raw, signature, pathTenant } = input;
  const route = pathTenant !== undefined ? 'POST /webhook/meta/:tenantId' : 'POST /webhook/meta';
  if (!raw || raw.length === 0) throw badInput('body', 'empty', 'INVALID_PAYLOAD');
  if (!signature) {
    reportBadSignature(deps, 'meta', pathTenant !== undefined ? [pathTenant] : [], 'missing', route);
    throw appError('INVALID_SIGNATURE', 'Missing X-Hub-Signature-256');
  }
  const badSignature = (named: string[], owners = false) => (err: unknown) => {
    if (err instanceof AppError && err.code === 'INVALID_SIGNATURE') reportBadSignature(deps, 'meta', named, 'mismatch', route, { owners });
    throw err;
  };
  let signedBy = pathTenant !== undefined ? await verifySignedBy(deps, pathTenant, raw, signature).catch(badSignature([pathTenant])) : undefined;
  const envelope = parseWebhookBody(raw, envelopeSchema);
  const { byTenant, held, unowned } = await routeChanges(deps, envelope, pathTenant);
  const tenants = [...byTenant.keys()];
  if (pathTenant === undefined) signedBy = await verifyPlatformRoute(deps, tenants, held.length > 0, raw, signature).catch(badSignature(tenants, true));
  // A pending tenant's changes are held until it is activated (replayHeldChanges), like those of a number nobody owns.
  for (const tenantId of await refuseSuspended(deps, tenants)) {
    held.push(...byTenant.get(tenantId)!.asHeld!);
    byTenant.delete(tenantId);
  }
  const stored = await storePerTenant(deps, byTenant);
  // Only what the platform app secret signed may create a tenant (a tenant's own secret vouches for its own numbers only).
  if (deps.provision && signedBy === 'platform' && unowned.length) await deps.provision(unowned);
  const heldNow = held.length ? await holdChanges(deps.db, signedBy!, held) : 0;
  if (stored.newMessages || stored.newStatuses) deps.notifier.touch();
  return { tenants: tenants.length, ...stored, held: heldNow };
}

/**
 * The platform route's rule: authentic if the platform app secret verifies the bytes, else if
 * every tenant named verifies them (a shared platform app has one secret). A payload naming only
 * what nobody owns leaves no tenant secret to check with: 401 unless the platform's verified it.
 * Returns what the held changes are signed by ('platform' or the tenants' secret's digest).
 */
async function verifyPlatformRoute(deps: IngestDeps, tenants: string[], holds: boolean, raw: Buffer, signature: string): Promise<string> {
  if (deps.platformAppSecret !== undefined && verifyMetaSignature(raw, signature, deps.platformAppSecret)) return 'platform';
  if (tenants.length === 0) {
    if (!holds) throw appError('NOT_ROUTABLE');
    verifyMetaSignature(raw, signature, undefined);
    throw appError('INVALID_SIGNATURE');
  }
  let signedBy = '';
  for (const tenantId of tenants) signedBy = await verifySignedBy(deps, tenantId, raw, signature);
  return signedBy;
}

/**
 * 401 unless `tenantId` is a tenant with Meta credentials whose app secret signed `raw`. An
 * unknown (or malformed) tenant gets the same answer, after the same HMAC over the body.
 * Returns the secret's digest (appSecretDigest), what changes it vouches for are held under.
 */
async function verifySignedBy(deps: IngestDeps, tenantId: string, raw: Buffer, signature: string): Promise<string> {
  const meta = isTenantId(tenantId) ? await deps.tenants.metaCredentials(tenantId) : undefined;
  if (!verifyMetaSignature(raw, signature, meta?.appSecret)) throw appError('INVALID_SIGNATURE');
  return appSecretDigest(meta!.appSecret);
}

type Entry = z.infer<typeof envelopeSchema>['entry'][number];

/** A tenant's share of a payload: its messages changes, and its account-level changes. */
export interface TenantShare {
  changes: Change[];
  account: AccountEvent[];
  /** The same changes as they would be held (a pending tenant's are: ingestMetaWebhook). */
  asHeld?: HeldChange[];
}

const emptyShare = (): TenantShare => ({ changes: [], account: [], asHeld: [] });

/** What is kept of an account-level (or held) change: the entry's WABA id and time with it. */
const keptChange = (entry: Entry, change: Change) => ({ entry: { id: entry.id, time: entry.time }, change });

/** The field an account-level change is recorded under. */
const fieldOf = (change: Change): string => change.field || 'unknown';

/**
 * Each change's tenant (one lookup for all the numbers, one for all the WABAs): a messages change
 * by its number, an account-level one by its entry's WABA id (every tenant naming that WABA gets
 * it). At a tenant's path (already verified) only that tenant's numbers may be named (404
 * otherwise) and account-level changes are its own; on the platform route what nobody owns is
 * returned to be held.
 */
async function routeChanges(
  deps: IngestDeps,
  envelope: z.infer<typeof envelopeSchema>,
  pathTenant: string | undefined,
): Promise<{ byTenant: Map<string, TenantShare>; held: HeldChange[]; unowned: ProvisionCandidate[] }> {
  const pairs = envelope.entry.flatMap((entry) => entry.changes.map((change) => ({ entry, change })));
  const numbers = pairs.flatMap(({ change }) => change.value.metadata?.phone_number_id ?? []);
  const wabas = pathTenant === undefined ? pairs.flatMap(({ entry, change }) => (!change.value.metadata && entry.id && isMetaId(entry.id) ? [entry.id] : [])) : [];
  const owners = numbers.length ? await deps.tenants.tenantsForPhoneNumbers(numbers) : new Map<string, string | undefined>();
  const wabaOwners = wabas.length ? await deps.tenants.tenantsForWabas([...new Set(wabas)]) : new Map<string, string[]>();
  const byTenant = new Map<string, TenantShare>();
  const share = (tenantId: string) => byTenant.get(tenantId) ?? byTenant.set(tenantId, emptyShare()).get(tenantId)!;
  const held: HeldChange[] = [];
  const unowned = new Map<string, ProvisionCandidate>();
  for (const { entry, change } of pairs) {
    const phoneNumberId = change.value.metadata?.phone_number_id;
    const wabaId = entry.id && isMetaId(entry.id) ? entry.id : null;
    if (!phoneNumberId) {
      const event = { field: fieldOf(change), wabaId, payload: keptChange(entry, change) };
      const tenantIds = pathTenant !== undefined ? [pathTenant] : (wabaId && wabaOwners.get(wabaId)) || [];
      const asHeld = { phoneNumberId: null, wabaId, field: event.field, payload: event.payload };
      for (const tenantId of tenantIds) {
        share(tenantId).account.push(event);
        share(tenantId).asHeld!.push(asHeld);
      }
      if (!tenantIds.length) held.push(asHeld);
      continue;
    }
    const tenantId = owners.get(phoneNumberId);
    if (pathTenant !== undefined && tenantId !== pathTenant) {
      // Digits only, at most 30 (the schema checked): safe to name.
      throw appError('PHONE_NUMBER_NOT_FOUND', `No tenant at this path owns phone_number_id ${phoneNumberId}`);
    }
    const asHeld = { phoneNumberId, wabaId, field: change.field ?? null, payload: keptChange(entry, change) };
    if (tenantId) {
      share(tenantId).changes.push(change);
      share(tenantId).asHeld!.push(asHeld);
    } else {
      held.push(asHeld);
      // A customer's message for a number nobody owns: what automatic provisioning would create a tenant for.
      if (change.value.messages?.length && !unowned.has(phoneNumberId)) {
        unowned.set(phoneNumberId, { phoneNumberId, wabaId, displayPhoneNumber: change.value.metadata?.display_phone_number ?? null });
      }
    }
  }
  if (pathTenant !== undefined && byTenant.size === 0) byTenant.set(pathTenant, emptyShare());
  return { byTenant, held, unowned: [...unowned.values()] };
}

/**
 * 423 TENANT_SUSPENDED when any tenant of the payload is suspended (or gone since it was
 * routed). One suspended tenant: its reason; several: how many, without their reasons. Returns
 * the pending tenants (automatic provisioning), whose changes are held.
 */
async function refuseSuspended(deps: IngestDeps, tenants: string[]): Promise<string[]> {
  const refused: Array<string | null> = [];
  const pending: string[] = [];
  for (const tenantId of tenants) {
    const standing = await deps.tenants.standing(tenantId);
    if (standing?.status === 'pending') pending.push(tenantId);
    else if (standing?.status !== 'active') refused.push(standing?.suspendedReason ?? null);
  }
  if (refused.length === 1) throw tenantSuspended(refused[0]);
  if (refused.length > 1) throw appError('TENANT_SUSPENDED', `${refused.length} tenants of this payload are suspended`);
  return pending;
}

/**
 * One transaction per tenant. Inserts skip what is already stored, so if a later tenant's write
 * fails, Meta's retry of the whole payload stores the rest and repeats nothing.
 */
async function storePerTenant(deps: IngestDeps, byTenant: Map<string, TenantShare>): Promise<{ newMessages: number; newStatuses: number; accountEvents: number }> {
  const total = { newMessages: 0, newStatuses: 0, accountEvents: 0 };
  for (const [tenantId, tenantShare] of byTenant) {
    if (byTenant.size === 1) setContextTenant(tenantId);
    const stored = await deps.db.withTenant(tenantId, async (q) => {
      // Held changes it now claims (a tenant just activated or given its number) go first, in
      // this transaction: a customer's new message is never queued ahead of their held ones.
      const earlier = await replayHeldFirst(q, tenantId, tenantShare, () => heldSignedBy(deps, tenantId));
      const now = await storeShare(q, tenantId, tenantShare);
      return { newMessages: earlier.newMessages + now.newMessages, newStatuses: earlier.newStatuses + now.newStatuses, accountEvents: earlier.accountEvents + now.accountEvents };
    });
    total.newMessages += stored.newMessages;
    total.newStatuses += stored.newStatuses;
    total.accountEvents += stored.accountEvents;
  }
  return total;
}

/**
 * A tenant's share, in the caller's transaction: messages, statuses and contacts as they came,
 * then account-level changes; the template status changes recorded now also move their templates
 * in the catalogue (template-status.ts).
 */
export async function storeShare(q: Queryable, tenantId: string, tenantShare: TenantShare) {
  const updates: Updates = { messages: [], statuses: [], contacts: [], numberChanges: [] };
  for (const change of tenantShare.changes) collect(change, updates);
  const stored = await storeMetaUpdates(q, tenantId, updates);
  const recorded = await storeAccountEvents(q, tenantId, tenantShare.account);
  await applyTemplateStatuses(q, tenantId, recorded);
  return { newMessages: stored.messages, newStatuses: stored.statuses, accountEvents: recorded.length };
}

/** A held change's `change` read back for replay, checked as on arrival (it was then). */
export function parseHeldChange(change: unknown): Change {
  return changeSchema.parse(change);
}

/** Held changes stored per statement of a replay. */
export const REPLAY_BATCH = 200;

/** What held changes a tenant may receive are signed by: its Meta app secret's digest, or null (only the platform's). */
export async function heldSignedBy(deps: Pick<IngestDeps, 'tenants'>, tenantId: string): Promise<string | null> {
  const meta = await deps.tenants.metaCredentials(tenantId);
  return meta ? appSecretDigest(meta.appSecret) : null;
}

/**
 * In the tenant's transaction: takes the tenant's replay lock (every replay of its held changes,
 * the sweep's and a webhook's, runs under it, so one replica's replay never commits around
 * another's), then stores up to `limit` of the held changes it claims (oldest first) and removes
 * them from the holding table. Returns how many rows were claimed and what was stored.
 */
export async function replayHeldBatch(q: Queryable, tenantId: string, signedBy: string | null, limit: number) {
  await q.query({ ...LOCK_HELD_REPLAY, values: [tenantId] });
  const held = await claimHeld(q, signedBy, limit);
  const share: TenantShare = { changes: [], account: [] };
  for (const row of held) {
    const change = parseHeldChange(row.payload.change);
    if (row.phone_number_id) share.changes.push(change);
    else share.account.push({ field: change.field || 'unknown', wabaId: row.waba_id, payload: row.payload });
  }
  const stored = held.length ? await storeShare(q, tenantId, share) : { newMessages: 0, newStatuses: 0, accountEvents: 0 };
  if (held.length) await deleteHeld(q, held.map((r) => r.id));
  return { rows: held.length, ...stored };
}

const LOCK_HELD_REPLAY = statement('lock-held-replay', `SELECT pg_advisory_xact_lock(hashtextextended('held-replay:' || $1, 0))`);
const HELD_SIGNERS = statement('held-signers', 'SELECT DISTINCT signed_by FROM unclaimed_webhook_changes WHERE phone_number_id = ANY ($1::text[])');

/**
 * A webhook's store, before the tenant's new changes: when a change is held for one of the
 * numbers the new changes are for, every held change the tenant may receive (row security shows
 * it only those for its numbers; signed by the platform or its app secret) is replayed first, in
 * the same transaction, so that its lanes keep arrival order even before the replay sweep
 * (ingest/held.ts) has run. One read of the index on the numbers when nothing is held; the tenant's
 * credentials and the replay lock only when something is (or is being replayed: a row another
 * transaction is deleting is still seen, and the lock then waits for it).
 */
async function replayHeldFirst(q: Queryable, tenantId: string, share: TenantShare, signer: () => Promise<string | null>) {
  const total = { newMessages: 0, newStatuses: 0, accountEvents: 0 };
  const numbers = [...new Set(share.changes.flatMap((c) => c.value.metadata?.phone_number_id ?? []))];
  if (numbers.length === 0) return total;
  const { rows } = await q.query<{ signed_by: string }>({ ...HELD_SIGNERS, values: [numbers] });
  if (rows.length === 0) return total;
  // The tenant's credentials are asked for only when something is held (the hot path needs no tenant-service).
  const signedBy = await signer();
  if (!rows.some((r) => r.signed_by === 'platform' || r.signed_by === signedBy)) return total;
  return replayAll(q, tenantId, signedBy, total);
}

async function replayAll(q: Queryable, tenantId: string, signedBy: string | null, total: { newMessages: number; newStatuses: number; accountEvents: number }) {
  for (;;) {
    const batch = await replayHeldBatch(q, tenantId, signedBy, REPLAY_BATCH);
    total.newMessages += batch.newMessages;
    total.newStatuses += batch.newStatuses;
    total.accountEvents += batch.accountEvents;
    if (batch.rows < REPLAY_BATCH) return total;
  }
}
