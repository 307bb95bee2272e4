import { z } from 'zod';
import { internalPortSchema, notificationWebhookAllowLoopback, secrets, serviceConfigSchema } from '@bridge/shared';

const int = (min: number, def: number) => z.coerce.number().int().min(min).default(def);

export const configSchema = serviceConfigSchema(3004, {
  INTERNAL_PORT: internalPortSchema(4004),
  DATABASE_DIRECT_URL: z
    .string()
    .min(1)
    .optional()
    .describe(
      'PostgreSQL itself, for the LISTEN connection that wakes the delivery worker, when DATABASE_URL goes through a pooler in transaction mode (PgBouncer), where LISTEN is lost; same role as DATABASE_URL. Unset: DATABASE_URL',
    ),
  // Its own token (credentials, Genesys tokens, its queue view); the key it signs media links with.
  ...secrets('GENESYS_CONNECTOR_INTERNAL_TOKEN', 'MEDIA_SIGNING_SECRET'),
  DELIVERY_CONCURRENCY: int(1, 64).describe('Deliveries in flight at once, all tenants'),
  DELIVERY_TENANT_CONCURRENCY: int(1, 16).describe('Deliveries in flight at once for one tenant'),
  DELIVERY_RETRY_BASE_MS: int(1, 1_000).describe('First retry delay; doubles per attempt, with jitter'),
  DELIVERY_RETRY_MAX_MS: int(1, 600_000).describe('Longest retry delay'),
  DELIVERY_RETRY_BUDGET_MS: int(1, 7 * 24 * 3_600_000).describe('How long a delivery is retried before it is dead-lettered (Meta keeps trying for 7 days)'),
  DELIVERY_LEASE_MS: int(1_000, 60_000).describe('How long a claimed delivery is reserved for its worker'),
  DELIVERY_POLL_MS: int(10, 500).describe('Queue poll interval (new work also wakes the worker at once)'),
  META_PAIR_INTERVAL_MS: int(1, 6_000).describe(
    'How long agent replies to one customer wait after Meta’s pair rate limit (131056) before the next try; Meta allows about 1 message per 6 s to one customer, bursts borrowing from the future',
  ),
  BREAKER_RESET_MS: int(100, 30_000).describe('How long a tenant’s Genesys circuit stays open'),
  NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK: notificationWebhookAllowLoopback,
  HTTP_TIMEOUT_MS: int(100, 10_000).describe('Timeout for calls to Genesys and Meta'),
  METRICS_TOP_TENANTS: z.coerce
    .number()
    .int()
    .min(0)
    .max(50)
    .default(10)
    .describe('Tenants named in each per-tenant metric (deliveries, dead letters, pending jobs, oldest due job): the N with the largest value; at most 50, so the series stay bounded (README: "Metrics")'),
  METRICS_QUEUE_REFRESH_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(15_000)
    .describe('How long one reading of the delivery queue (depth, oldest due job) serves metric scrapes before the next scrape queries PostgreSQL again, ms (0: every scrape)'),
});

export type ConnectorConfig = z.infer<typeof configSchema>;
