/**
 * What the outbox delivers, and the lanes that serialise it. A lane is one ordered stream of
 * deliveries: jobs of one lane are delivered one at a time, in order (see claim.ts); jobs of
 * different lanes run in parallel. Lanes are per tenant (the tenant is part of the job's key).
 */

/** The kinds of delivery (the `outbox.kind` column's CHECK constraint lists the same). */
export const JOB_KINDS = ['to_genesys_message', 'to_whatsapp_message', 'to_genesys_receipt', 'to_genesys_agentless', 'to_whatsapp_signal', 'to_tenant_notification'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * Which of the tenant's credentials each kind of delivery calls with: Meta's for what goes to
 * WhatsApp, Genesys's for what goes to Genesys. While that credential is `invalid` the tenant's
 * jobs of the kind are held (hold.ts). The SQL twin is `outbox_kind_credential` (migration
 * 1732060800140), which must answer the same for every kind. A kind not listed calls no provider
 * with a tenant credential and is never held.
 */
export const JOB_CREDENTIAL: Readonly<Partial<Record<JobKind, 'meta' | 'genesys'>>> = {
  to_whatsapp_message: 'meta',
  to_whatsapp_signal: 'meta',
  to_genesys_message: 'genesys',
  to_genesys_receipt: 'genesys',
  to_genesys_agentless: 'genesys',
};

/**
 * Lane names, in TypeScript. `inbound(waId)`: a customer's messages to Genesys; `outbound(waId)`:
 * agents' replies to that customer; `receipts(key)`: the receipts of one agent message (`key` is
 * its wamid for Meta's statuses, or its Genesys id for the Failed receipt of a send that never
 * reached Meta); `agentless(messageId)`: the agentless copy in Genesys of one proactive message
 * (its own lane, so that a slow Genesys holds up no send to WhatsApp); `signals(waId)`: read marks
 * and typing indicators to that customer (best effort, never ahead of or behind a message: see
 * shared/src/whatsapp-signals.ts); `notifications()`: the tenant's notifications to its notification
 * webhook (shared/src/notifications.ts), one lane per tenant, in the order they were raised.
 */
export const lanes = {
  inbound: (waId: string | null): string => `in:${waId ?? '-'}`,
  outbound: (waId: string): string => `out:${waId}`,
  receipts: (key: string): string => `rcpt:${key}`,
  agentless: (messageId: string): string => `echo:${messageId}`,
  signals: (waId: string): string => `sig:${waId}`,
  notifications: (): string => 'note:',
};

/**
 * The same lane names as SQL expressions over a column or expression, for set-based statements
 * (the webhook store queues a whole webhook's worth in one statement). Each must build exactly
 * what its twin in `lanes` builds.
 */
export const laneSql = {
  inbound: (waId: string): string => `'in:' || COALESCE(${waId}, '-')`,
  outbound: (waId: string): string => `'out:' || ${waId}`,
  receipts: (key: string): string => `'rcpt:' || ${key}`,
  agentless: (messageId: string): string => `'echo:' || ${messageId}`,
  signals: (waId: string): string => `'sig:' || ${waId}`,
  notifications: (): string => `'note:'`,
};
