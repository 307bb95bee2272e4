import type { Database } from '@bridge/shared';
import type { OutboxNotifier } from '@bridge/shared';
import type { WebhookTenants } from '../tenants';

/** What the ingest use cases need: where to store, who the tenants are, whom to wake. */
export interface IngestDeps {
  db: Database;
  tenants: Pick<WebhookTenants, 'metaCredentials' | 'genesysCredentials' | 'isActive' | 'tenantsForPhoneNumbers' | 'tenantByVerifyToken'>;
  /** Told after new deliveries were committed. */
  notifier: Pick<OutboxNotifier, 'touch'>;
}
