import { z } from 'zod';
import { META_ID_PATTERN, appError, badInput, isTenantId, safeEqual, setContextTenant } from '@bridge/shared';
import { parseWebhookBody } from '../parse';
import { verifyMetaSignature } from '../signatures';
import { storeMetaUpdates, type ContactSeen, type InboundMessage, type InboundStatus, type NumberChange } from '../store';
import type { IngestDeps } from './deps';
import { metaSeconds } from './time';

/**
 * Meta's webhook, per the reference: a batch of `entry[].changes[]`, each for one business number
 * (`value.metadata.phone_number_id`), holding messages and/or statuses. Parsed loosely — Meta adds
 * fields — but what routing and storage need is checked, ids for their shape (Meta's ids are
 * digits) and every string we keep for its length.
 */
const metaId = z.string().regex(META_ID_PATTERN, 'must be a Meta id (digits)');
const timestamp = z.string().max(32).optional();
const messageSchema = z.object({ id: z.string().min(1).max(512), from: z.string().max(64).optional(), timestamp, type: z.string().max(64).optional() }).passthrough();
const statusSchema = z.object({ id: z.string().min(1).max(512), status: z.string().min(1).max(32), timestamp }).passthrough();
const contactSchema = z
  .object({ wa_id: z.string().max(64).optional(), user_id: z.string().max(128).optional(), profile: z.object({ name: z.string().max(1024).optional() }).passthrough().optional() })
  .passthrough();
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
      .passthrough(),
  })
  .passthrough();
const envelopeSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  // The WABA id is looked up by nothing here, so a payload is not refused over its shape: only bounded.
  entry: z.array(z.object({ id: z.string().max(64).optional(), changes: z.array(changeSchema) }).passthrough()).min(1, 'must not be empty'),
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
  const next = [system.wa_id, system.new_wa_id].find((n): n is string => typeof n === 'string' && /^\d{1,32}$/.test(n));
  return next && next !== message.from ? next : undefined;
}

type Updates = { messages: InboundMessage[]; statuses: InboundStatus[]; contacts: ContactSeen[]; numberChanges: NumberChange[] };

/** What one change contributes to its tenant's transaction. */
function collect(change: Change, into: Updates) {
  const value = change.value;
  const phoneNumberId = value.metadata!.phone_number_id;
  const contacts = value.contacts ?? [];
  for (const message of value.messages ?? []) {
    const fromUserId = typeof message.from_user_id === 'string' ? message.from_user_id : undefined;
    // Newer payloads may carry no `from`: fall back to the contact's ids; never crash on it.
    const contact = contacts.find((c) => c.wa_id && c.wa_id === message.from) ?? (contacts.length === 1 ? contacts[0] : undefined);
    const waId = message.from ?? contact?.wa_id ?? fromUserId ?? contact?.user_id ?? null;
    const ts = metaSeconds(message.timestamp);
    into.messages.push({
      waId,
      wamid: message.id,
      type: message.type ?? 'unknown',
      ts,
      payload: { message, contact: contact ?? null, phoneNumberId, displayPhoneNumber: value.metadata!.display_phone_number ?? null },
    });
    if (waId) into.contacts.push({ waId, name: contact?.profile?.name ?? null, phoneNumberId, ts });
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
}

/**
 * Ingests one Meta webhook delivery: check the signature on the raw bytes with each tenant's app
 * secret, route each change to its tenant by the business number it is for, refuse suspended
 * tenants, then store every message and status in the transaction that decides it is new (and
 * queues its delivery). A repeated delivery stores nothing new.
 *
 * What a request that is not correctly signed learns is the same whatever exists (401):
 * - at a tenant's path (`/webhook/meta/:tenantId`) the signature is checked with that tenant's
 *   secret before the body is even parsed; an unknown or malformed tenant id is refused the same
 *   way, after the same work;
 * - on the platform route the body must be parsed to find the numbers, whose tenants' secrets
 *   then decide; a number no tenant owns leaves no secret to check with, so it is 401 too.
 * Only a correctly signed payload can learn that a number is not the path tenant's (404), and
 * such a payload is refused whole, before anything is stored.
 *
 * Errors (AppError): 400 INVALID_PAYLOAD / MALFORMED_JSON / NOT_ROUTABLE, 401 INVALID_SIGNATURE,
 * 404 PHONE_NUMBER_NOT_FOUND, 423 TENANT_SUSPENDED.
 */
export async function ingestMetaWebhook(deps: IngestDeps, input: MetaWebhookInput): Promise<MetaIngestResult> {
  const { raw, signature, pathTenant } = input;
  if (!raw || raw.length === 0) throw badInput('body', 'empty', 'INVALID_PAYLOAD');
  if (!signature) throw appError('INVALID_SIGNATURE', 'Missing X-Hub-Signature-256');
  if (pathTenant !== undefined) await verifySignedBy(deps, pathTenant, raw, signature);
  const envelope = parseWebhookBody(raw, envelopeSchema);
  const byTenant = await routeChanges(deps, envelope, pathTenant, raw, signature);
  const tenants = [...byTenant.keys()];
  // A shared platform app has one secret; every tenant named must have signed these bytes.
  if (pathTenant === undefined) for (const tenantId of tenants) await verifySignedBy(deps, tenantId, raw, signature);
  await refuseSuspended(deps, tenants);
  const stored = await storePerTenant(deps, byTenant);
  if (stored.newMessages || stored.newStatuses) deps.notifier.touch();
  return { tenants: tenants.length, ...stored };
}

/**
 * 401 unless `tenantId` is a tenant with Meta credentials whose app secret signed `raw`. An
 * unknown (or malformed) tenant gets the same answer, after the same HMAC over the body.
 */
async function verifySignedBy(deps: IngestDeps, tenantId: string, raw: Buffer, signature: string): Promise<void> {
  const meta = isTenantId(tenantId) ? await deps.tenants.metaCredentials(tenantId) : undefined;
  if (!verifyMetaSignature(raw, signature, meta?.appSecret)) throw appError('INVALID_SIGNATURE');
}

/**
 * Each change's tenant, by the business number it is for (one lookup for all of them). At a
 * tenant's path (already verified) only that tenant's numbers may be named (404 otherwise); on
 * the platform route a number nobody owns is 401, like a bad signature.
 */
async function routeChanges(
  deps: IngestDeps,
  envelope: z.infer<typeof envelopeSchema>,
  pathTenant: string | undefined,
  raw: Buffer,
  signature: string,
): Promise<Map<string, Change[]>> {
  const changes = envelope.entry.flatMap((entry) => entry.changes);
  const numbers = changes.flatMap((change) => change.value.metadata?.phone_number_id ?? []);
  const owners = numbers.length ? await deps.tenants.tenantsForPhoneNumbers(numbers) : new Map<string, string | undefined>();
  const byTenant = new Map<string, Change[]>();
  for (const change of changes) {
    const phoneNumberId = change.value.metadata?.phone_number_id;
    if (!phoneNumberId) continue; // not a messages change: nothing to store
    const tenantId = owners.get(phoneNumberId);
    if (pathTenant !== undefined && tenantId !== pathTenant) {
      // Digits only, at most 30 (the schema checked): safe to name.
      throw appError('PHONE_NUMBER_NOT_FOUND', `No tenant at this path owns phone_number_id ${phoneNumberId}`);
    }
    if (!tenantId) {
      verifyMetaSignature(raw, signature, undefined);
      throw appError('INVALID_SIGNATURE');
    }
    byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), change]);
  }
  if (byTenant.size === 0) {
    if (pathTenant === undefined) throw appError('NOT_ROUTABLE');
    byTenant.set(pathTenant, []);
  }
  return byTenant;
}

async function refuseSuspended(deps: IngestDeps, tenants: string[]): Promise<void> {
  const suspended = [];
  for (const tenantId of tenants) if (!(await deps.tenants.isActive(tenantId))) suspended.push(tenantId);
  if (suspended.length) throw appError('TENANT_SUSPENDED');
}

/**
 * One transaction per tenant. Inserts skip what is already stored, so if a later tenant's write
 * fails, Meta's retry of the whole payload stores the rest and repeats nothing.
 */
async function storePerTenant(deps: IngestDeps, byTenant: Map<string, Change[]>): Promise<{ newMessages: number; newStatuses: number }> {
  let newMessages = 0;
  let newStatuses = 0;
  for (const [tenantId, changes] of byTenant) {
    if (byTenant.size === 1) setContextTenant(tenantId);
    const updates: Updates = { messages: [], statuses: [], contacts: [], numberChanges: [] };
    for (const change of changes) collect(change, updates);
    const stored = await deps.db.withTenant(tenantId, (q) => storeMetaUpdates(q, tenantId, updates));
    newMessages += stored.messages;
    newStatuses += stored.statuses;
  }
  return { newMessages, newStatuses };
}
