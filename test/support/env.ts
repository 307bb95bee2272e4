import { generateEncryptionKey } from '@bridge/shared';

/** Redis for tests that need one: set by `npm test` when a Redis answers. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;

/** `describe` for suites that need Redis; skipped (and reported by `npm test`) without one. */
export const describeWithRedis: jest.Describe = TEST_REDIS_URL ? describe : describe.skip;

/** Every secret, each its own: a service started with these holds only those its schema declares. */
export const testSecrets = {
  ADMIN_API_KEY: 'test-admin-key-0123456789abcdef0123456789',
  JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789',
  CREDENTIALS_ENCRYPTION_KEY: generateEncryptionKey(),
  INTERNAL_SERVICE_TOKEN: 'test-internal-token-0123456789abcdef',
  MEDIA_SIGNING_SECRET: 'test-media-signing-secret-0123456789',
  GATEWAY_INTERNAL_TOKEN: 'test-gateway-internal-token-0123456789',
  WEBHOOK_SERVICE_INTERNAL_TOKEN: 'test-webhook-service-internal-token-0123456789',
  AUTH_SERVICE_INTERNAL_TOKEN: 'test-auth-service-internal-token-0123456789',
  GENESYS_CONNECTOR_INTERNAL_TOKEN: 'test-genesys-connector-internal-token-0123456789',
};

/** An environment for starting a service the way production does. */
export function serviceEnv(databaseUrl: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    ...testSecrets,
    // Services started on chosen ports would take PORT + 6400 for their metrics: a free one instead.
    METRICS_PORT: '0',
    ...extra,
  };
}
