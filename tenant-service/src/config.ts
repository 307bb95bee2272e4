import { z } from 'zod';
import { internalPortSchema, notificationWebhookAllowLoopback, secrets, serviceConfigSchema } from '@bridge/shared';
import { DEFAULT_TEMPLATE_SYNC_TIMEOUT_MS } from './meta-templates';
import { DEFAULT_PURGE } from './purge';
import { DEFAULT_AUDIT_RETENTION } from './audit-retention';

export const configSchema = serviceConfigSchema(3007, {
  INTERNAL_PORT: internalPortSchema(4007),
  // The admin key; the keyring, which only this service holds; the tokens of the services that read credentials.
  ...secrets(
    'ADMIN_API_KEY',
    'CREDENTIALS_ENCRYPTION_KEY',
    'CREDENTIALS_ENCRYPTION_KEYS',
    'WEBHOOK_SERVICE_INTERNAL_TOKEN',
    'AUTH_SERVICE_INTERNAL_TOKEN',
    'GENESYS_CONNECTOR_INTERNAL_TOKEN',
  ),
  TENANT_PURGE_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_PURGE.batchSize).describe("Rows a deleted tenant's background purge removes per transaction"),
  TEMPLATE_SYNC_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(DEFAULT_TEMPLATE_SYNC_TIMEOUT_MS)
    .describe("Timeout of each request to Meta's Graph API (META_GRAPH_URL) when a tenant's template catalogue is synced, ms"),
  AUDIT_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(36_500)
    .default(DEFAULT_AUDIT_RETENTION.retentionDays)
    .describe("Days the audit trail keeps its events; older ones are purged hourly, oldest first, whole prefixes of each tenant's chain (0: kept forever)"),
  NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK: notificationWebhookAllowLoopback,
  TENANT_PURGE_PAUSE_MS: z.coerce.number().int().min(0).max(60_000).default(DEFAULT_PURGE.pauseMs).describe('Pause between two batches of the purge, ms'),
});
