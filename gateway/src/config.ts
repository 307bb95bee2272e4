import { z } from 'zod';
import { secrets, serviceConfigSchema } from '@bridge/shared';

const flag = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

export const configSchema = serviceConfigSchema(3000, {
  // Verifies tenant JWTs; its own token on what it forwards. No admin key, keyring or media key.
  ...secrets('JWT_SECRET', 'GATEWAY_INTERNAL_TOKEN'),
  ALLOW_SUBDOMAIN_ONLY: flag.describe('Let a subdomain alone identify the tenant (only behind an authenticating proxy)'),
  PROXY_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000).describe('How long the gateway waits for a service'),
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0).describe('Reverse proxies in front of the gateway (for client IPs)'),
  LAST_USED_FLUSH_MS: z.coerce.number().int().min(100).default(30_000).describe('How often API keys\u2019 last use is written to the database'),
});

export type GatewayConfig = z.infer<typeof configSchema>;
