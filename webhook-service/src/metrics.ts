import { Counter, type Registry } from 'prom-client';
import { AppError, ERROR_CODES } from '@bridge/shared';
import type { GenesysIngestOutcome } from './ingest/genesys';
import type { MetaIngestResult } from './ingest/meta';

export type WebhookProvider = 'meta' | 'genesys';

/**
 * `bridge_webhooks_total{provider, outcome, reason}`: every Meta and Genesys webhook POST, by what
 * became of it. `accepted`: something new stored (reason: `stored`, `held` for a Meta change no
 * tenant owns yet, or Genesys's `queued`/`echo`/`recorded`); `duplicate`: a repeat, nothing new
 * (answered 200 all the same); `refused`: answered with an error (reason: its code, from the one
 * table in shared/src/error-codes.ts) or, Genesys, signed but undeliverable (`UNDELIVERABLE`,
 * answered 200 and recorded as rejected). Every label takes a bounded set of values.
 */
export class WebhookMetrics {
  private readonly webhooks: Counter<'provider' | 'outcome' | 'reason'>;

  constructor(registry: Registry) {
    this.webhooks = new Counter({
      name: 'bridge_webhooks_total',
      help: 'Webhook POSTs by provider (meta, genesys), outcome (accepted, duplicate, refused) and reason',
      labelNames: ['provider', 'outcome', 'reason'],
      registers: [registry],
    });
  }

  meta(result: MetaIngestResult): void {
    const stored = result.newMessages + result.newStatuses + result.accountEvents;
    if (stored > 0) this.webhooks.inc({ provider: 'meta', outcome: 'accepted', reason: 'stored' });
    else if (result.held > 0) this.webhooks.inc({ provider: 'meta', outcome: 'accepted', reason: 'held' });
    else this.webhooks.inc({ provider: 'meta', outcome: 'duplicate', reason: 'duplicate' });
  }

  genesys(outcome: GenesysIngestOutcome): void {
    if (outcome === 'duplicate') this.webhooks.inc({ provider: 'genesys', outcome: 'duplicate', reason: 'duplicate' });
    else if (outcome === 'rejected') this.webhooks.inc({ provider: 'genesys', outcome: 'refused', reason: 'UNDELIVERABLE' });
    else this.webhooks.inc({ provider: 'genesys', outcome: 'accepted', reason: outcome });
  }

  refused(provider: WebhookProvider, err: unknown): void {
    const reason = err instanceof AppError && err.code in ERROR_CODES ? err.code : 'INTERNAL_ERROR';
    this.webhooks.inc({ provider, outcome: 'refused', reason });
  }
}
