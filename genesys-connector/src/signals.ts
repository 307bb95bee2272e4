import {
  SIGNAL_RETRIES,
  customerWindow,
  type CredentialsClient,
  type Database,
  type Job,
  type Logger,
  type MarkReadSetting,
  type Outbox,
  type SignalPayload,
} from '@bridge/shared';
import { DeliveryError } from './errors';
import type { MetaClient } from './meta-client';

export interface SignalDeliveryDeps {
  db: Database;
  outbox: Pick<Outbox, 'complete'>;
  meta: Pick<MetaClient, 'markRead'>;
  credentials: Pick<CredentialsClient, 'meta'>;
  /** Where dropped signals are reported. */
  logger: Pick<Logger, 'debug' | 'info'>;
  /** Default SIGNAL_RETRIES (shared/src/whatsapp-signals.ts). */
  retries?: { maxAttempts: number; budgetMs: number; typingFreshMs: number };
  /** Epoch ms; default Date.now. */
  now?: () => number;
}

/** What the customer's mapping says now (the job was queued earlier): undefined when it is gone. */
interface SignalState {
  lastInboundAt: Date | null;
  readThrough: string | null;
  markRead: MarkReadSetting;
}

/**
 * Delivers a `to_whatsapp_signal` job (queued by shared/src/whatsapp-signals.ts): a read mark, or
 * a typing indicator (which marks read too), on one customer message, through MetaClient.markRead.
 * Best effort, so never a dead letter: the job is completed (removed) whether the call worked,
 * was not worth making any more, or failed for good; only a transient failure with tries and
 * time left is thrown, for the worker's usual retry (SIGNAL_RETRIES: 3 tries within a minute; none
 * when Meta's Retry-After would put it past the time it is worth sending).
 *
 * Not sent, and dropped, checked again at delivery: a tenant now on `never`, a customer mapping
 * that is gone, a typing indicator once the customer's 24-hour window closed (customerWindow) or
 * older than `typingFreshMs`, a read mark a later mark covers (the mapping's `read_through` is
 * past its message), anything older than `budgetMs`. Meta is the only provider called, outside
 * any circuit breaker (Genesys's per-tenant breakers are in GenesysClient): a signal's failure
 * cannot pause a message.
 */
export function createSignalDelivery(deps: SignalDeliveryDeps): (job: Job) => Promise<void> {
  const retries = deps.retries ?? SIGNAL_RETRIES;
  const now = deps.now ?? Date.now;
  const complete = (job: Job) => deps.db.withTenant(job.tenantId, (q) => deps.outbox.complete(q, job));

  async function state(job: Job, waId: string): Promise<SignalState | undefined> {
    const { rows } = await deps.db.withTenant(job.tenantId, (q) =>
      q.query<SignalState>(
        `SELECT c.last_inbound_at AS "lastInboundAt", c.read_through::text AS "readThrough", t.mark_read AS "markRead"
           FROM conversation_mappings c JOIN tenants t ON t.tenant_id = c.tenant_id
          WHERE c.tenant_id = $1 AND c.wa_id = $2`,
        [job.tenantId, waId],
      ),
    );
    return rows[0];
  }

  /** Why the signal is no longer worth sending, if it is not. */
  function staleness(signal: SignalPayload, current: SignalState | undefined, ageMs: number): string | undefined {
    if (!current) return 'the conversation is gone';
    if (current.markRead === 'never') return 'the tenant no longer marks messages read';
    if (ageMs > retries.budgetMs) return `queued ${Math.round(ageMs / 1000)} s ago`;
    if (signal.signal === 'typing') {
      if (!customerWindow(current.lastInboundAt, new Date(now())).windowOpen) return "the customer's 24-hour window is closed";
      if (ageMs > retries.typingFreshMs) return `the agent typed ${Math.round(ageMs / 1000)} s ago`;
    } else if (current.readThrough !== null && BigInt(current.readThrough) > BigInt(signal.messageId)) {
      return 'a later read mark covers it';
    }
    return undefined;
  }

  return async function toWhatsAppSignal(job: Job): Promise<void> {
    const signal = job.payload as unknown as SignalPayload;
    const log = { tenantId: job.tenantId, jobId: job.id, signal: signal.signal, wamid: signal.wamid, attempt: job.attempts };
    const ageMs = now() - job.createdAt.getTime();
    const stale = staleness(signal, await state(job, signal.waId), ageMs);
    const credentials = stale ? undefined : await deps.credentials.meta(job.tenantId);
    const skip = stale ?? (credentials ? undefined : 'the tenant has no Meta credentials');
    if (skip) {
      deps.logger.debug({ ...log, reason: skip }, 'read mark or typing indicator not sent');
      return complete(job);
    }
    try {
      await deps.meta.markRead(credentials!, { wamid: signal.wamid, typing: signal.signal === 'typing' });
    } catch (err) {
      const e = err instanceof DeliveryError ? err : undefined;
      // A retry is worth it only if it can come while the signal is still worth sending: a
      // provider's Retry-After past that (a 429 asking for an hour) drops it now, instead of
      // holding the customer's later signals behind it in their lane for as long.
      const worthMs = signal.signal === 'typing' ? Math.min(retries.budgetMs, retries.typingFreshMs) : retries.budgetMs;
      const retry = e?.kind === 'transient' && job.attempts < retries.maxAttempts && ageMs + (e.retryAfterMs ?? 0) < worthMs;
      // A refused access token (190) is the tenant's, not the signal's: the worker holds the
      // tenant's Meta deliveries, this one with them (stale by the time it is released, it is
      // dropped then).
      if (retry || e?.kind === 'credential') throw e;
      deps.logger.info({ ...log, code: e?.code, metaCode: e?.metaCode, reason: (err as Error).message }, 'read mark or typing indicator dropped');
      return complete(job);
    }
    await complete(job);
  };
}
