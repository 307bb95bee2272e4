import { z } from 'zod';
import { flag as sharedFlag, secrets, serviceConfigSchema } from '@bridge/shared';

const flag = sharedFlag();

const count = (max: number, fallback: number, min = 0) => z.coerce.number().int().min(min).max(max).default(fallback);

export const configSchema = serviceConfigSchema(3000, {
  // Verifies tenant JWTs (with the former secrets while rotating); its own token on what it forwards. No admin key, keyring or media key.
  ...secrets('JWT_SECRET', 'JWT_PREVIOUS_SECRETS', 'GATEWAY_INTERNAL_TOKEN'),
  ALLOW_SUBDOMAIN_ONLY: flag.describe('Let a subdomain alone identify the tenant (only behind an authenticating proxy)'),
  PROXY_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000).describe('How long the gateway waits for a service'),
  TRUST_PROXY_HOPS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10)
    .default(0)
    .describe('Reverse proxies in front of the gateway: how many X-Forwarded-For entries, from the right, are believed when finding the client address (0: none)'),
  LAST_USED_FLUSH_MS: z.coerce.number().int().min(100).default(30_000).describe('How often API keys\u2019 last use is written to the database'),
  WEBHOOK_IP_BURST: count(1_000_000, 2_000).describe('Requests to /webhook/* (webhooks, media links) one client address may make at once (token bucket size; 0: no limit)'),
  WEBHOOK_IP_PER_MINUTE: count(10_000_000, 60_000, 1).describe('How fast that bucket refills, per minute'),
  AUTH_FAILURE_IP_BURST: count(100_000, 50).describe('Failed authentications one client address may have before /state and /auth answer it 429 (token bucket size; 0: no limit)'),
  AUTH_FAILURE_IP_PER_MINUTE: count(1_000_000, 60, 1).describe('How fast that bucket refills, per minute'),
  CLIENT_IPV6_PREFIX: z.coerce.number().int().min(16).max(128).default(56).describe('IPv6 clients are counted by their network of this prefix length'),
  KEY_LOOKUP_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4).describe('Database lookups of uncached API keys and subdomains at once (the pool has 10 connections)'),
  KEY_LOOKUP_QUEUE: count(100_000, 200).describe('Such lookups waiting for a turn; beyond that they answer 503 at once'),
});

export type GatewayConfig = z.infer<typeof configSchema>;
