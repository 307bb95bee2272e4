import { z } from 'zod';
import { appError, badInput, safeEqual, setContextTenant } from '@bridge/shared';
import { parseWebhookBody } from '../parse';
import { verifyMetaSignature } from '../signatures';
import { storeMetaUpdates, type ContactSeen, type InboundMessage, type InboundStatus, type NumberChange } from '../store';
import type { IngestDeps } from './deps';
import { metaSeconds } from './time';

/**
 * Meta's webhook, per the reference: a batch of `entry[].changes[]`, each for one business number
 * (`value.metadata.phone_number_id`), holding messages and/or statuses. Parsed loosely — Meta adds
 * fields — but what routing and storage need is checked.
 */
const messageSchema = z.object({ id: z.string().min(1).max(512), from: z.string().max(64).optional(), timestamp: z.string().optional(), type: z.string().max(64).optional() }).passthrough();
const statusSchema = z.object({ id: z.string().min(1).max(512), status: z.string().min(1).max(32), timestamp: z.string().optional() }).passthrough();
const contactSchema = z.object({ wa_id: z.string().optional(), user_id: z.string().optional(), profile: z.object({ name: z.string().optional() }).passthrough().optional() }).passthrough();
const changeSchema = z
  .object({
    field: z.string().optional(),
    value: z
      .object({
        metadata: z.object({ phone_number_id: z.string().min(1), display_phone_number: z.string().optional() }).passthrough().optional(),
        contacts: z.array(contactSchema).optional(),
        messages: z.array(messageSchema).optional(),
        statuses: z.array(statusSchema).optional(),
      })
      .passthrough(),
  })
  .passthrough();
const envelopeSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(z.object({ id: z.string().optional(), changes: z.array(changeSchema) }).passthrough()).min(1, 'must not be empty'),
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

/**
 * Meta's verification handshake: the challenge to echo back when `token` is the path tenant's
 * verify token (or, platform-wide, any tenant's). Errors: 403 VERIFICATION_FAILED.
 */
export async function verifyMetaSubscription(deps: Pick<IngestDeps, 'tenants'>, input: MetaVerificationInput): Promise<string> {
  const { mode, token, challenge, pathTenant } = input;
  if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string' || !/^[\w.-]{1,256}$/.test(challenge)) {
    throw appError('VERIFICATION_FAILED');
  }
  let matched: boolean;
  if (pathTenant) {
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
 * Ingests one Meta webhook delivery: route each change to its tenant by the business number it
 * is for, check the signature on the raw bytes with each tenant's app secret, refuse suspended
 * tenants, then store every message and status in the transaction that decides it is new (and
 * queues its delivery). A payload that names a number no tenant (or not the path's tenant) owns
 * is refused whole, before anything is stored. A repeated delivery stores nothing new.
 *
 * Errors (AppError): 400 INVALID_PAYLOAD / MALFORMED_JSON / NOT_ROUTABLE, 401 INVALID_SIGNATURE,
 * 404 TENANT_NOT_FOUND / PHONE_NUMBER_NOT_FOUND, 423 TENANT_SUSPENDED.
 */
export async function ingestMetaWebhook(deps: IngestDeps, input: MetaWebhookInput): Promise<MetaIngestResult> {
  const { raw, signature, pathTenant } = input;
  if (!raw || raw.length === 0) throw badInput('body', 'empty', 'INVALID_PAYLOAD');
  if (!signature) throw appError('INVALID_SIGNATURE', 'Missing X-Hub-Signature-256');
  if (pathTenant) {
    // An unknown tenant learns nothing about the payload: refused before it is parsed.
    if (!(await deps.tenants.metaCredentials(pathTenant))) throw appError('TENANT_NOT_FOUND', 'No tenant with Meta credentials at this path');
  }
  const envelope = parseWebhookBody(raw, envelopeSchema);
  const byTenant = await routeChanges(deps, envelope, pathTenant);
  const tenants = [...byTenant.keys()];
  await verifySignedByEach(deps, tenants, raw, signature);
  await refuseSuspended(deps, tenants);
  const stored = await storePerTenant(deps, byTenant);
  if (stored.newMessages || stored.newStatuses) deps.notifier.touch();
  return { tenants: tenants.length, ...stored };
}

/** Each change's tenant, by the business number it is for; the path's tenant alone may be named. */
async function routeChanges(deps: IngestDeps, envelope: z.infer<typeof envelopeSchema>, pathTenant: string | undefined): Promise<Map<string, Change[]>> {
  const byTenant = new Map<string, Change[]>();
  for (const entry of envelope.entry) {
    for (const change of entry.changes) {
      const phoneNumberId = change.value.metadata?.phone_number_id;
      if (!phoneNumberId) continue; // not a messages change: nothing to store
      const tenantId = await deps.tenants.tenantForPhoneNumber(phoneNumberId);
      if (!tenantId || (pathTenant && tenantId !== pathTenant)) {
        throw appError('PHONE_NUMBER_NOT_FOUND', `No tenant${pathTenant ? ' at this path' : ''} owns phone_number_id ${phoneNumberId}`);
      }
      byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), change]);
    }
  }
  if (byTenant.size === 0) {
    if (!pathTenant) throw appError('NOT_ROUTABLE');
    byTenant.set(pathTenant, []);
  }
  return byTenant;
}

/** Every tenant involved must have signed these exact bytes (a shared platform app has one secret). */
async function verifySignedByEach(deps: IngestDeps, tenants: string[], raw: Buffer, signature: string): Promise<void> {
  for (const tenantId of tenants) {
    const meta = await deps.tenants.metaCredentials(tenantId);
    if (!meta || !verifyMetaSignature(raw, signature, meta.appSecret)) {
      throw appError('INVALID_SIGNATURE');
    }
  }
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
