import type { Database, SecurityEvents } from '@bridge/shared';
import type { OutboxNotifier } from '@bridge/shared';
import type { WebhookTenants } from '../tenants';
import type { ProvisionCandidate } from './provision';

/** What the ingest use cases need: where to store, who the tenants are, whom to wake. */
export interface IngestDeps {
  db: Database;
  tenants: Pick<WebhookTenants, 'metaCredentials' | 'genesysCredentials' | 'isActive' | 'standing' | 'tenantsForPhoneNumbers' | 'tenantsForWabas' | 'tenantByVerifyToken'>;
  /** Told after new deliveries were committed. */
  notifier: Pick<OutboxNotifier, 'touch'>;
  /**
   * META_PLATFORM_APP_SECRET: the platform-wide Meta app's secret, if configured. A payload it
   * verifies is authentic whatever numbers it names, so changes for numbers nobody owns yet can
   * be held (see ingestMetaWebhook).
   */
  platformAppSecret?: string;
  /** Bad signatures are reported here (ingest/security.ts); unset: not recorded. */
  securityEvents?: SecurityEvents;
  /**
   * AUTO_PROVISION: creates a pending tenant for each business number of a platform-signed
   * payload that nobody owns (ingest/provision.ts); unset: such changes are only held.
   */
  provision?: (numbers: readonly ProvisionCandidate[]) => Promise<void>;
  /** TYPING_INDICATOR_INTERVAL_MS: at most one typing indicator per conversation this often; default DEFAULT_TYPING_INTERVAL_MS (20 s). */
  typingIntervalMs?: number;
}
