import { CredentialsClient, TenantTokenKeyring, callerTokens, internalTokens, requireSecret, runMain, startService } from '@bridge/shared';
import { createAuthService } from './app';
import { configSchema } from './config';
import { GenesysTokenBroker } from './genesys-token-broker';

/** Builds auth-service from the environment and listens on its port (3003), its internal routes on INTERNAL_PORT (4003). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'auth-service',
      configSchema,
      createApp: async ({ config, logger, db, cache, metrics }) => {
        // Only the newest secret: auth-service signs, it never verifies.
        const jwtKeyring = new TenantTokenKeyring([requireSecret(config, 'JWT_SECRET')]);
        const [ownToken] = internalTokens(config, 'auth-service');
        const credentials = new CredentialsClient({ tenantServiceUrl: config.TENANT_SERVICE_INTERNAL_URL, internalToken: ownToken, cache, logger });
        const broker = new GenesysTokenBroker({ cache, credentials, loginUrlTemplate: config.GENESYS_LOGIN_URL, logger });
        metrics.watchCache('credentials', () => credentials.cacheCounts);
        metrics.watchCache('genesys-token-broker', () => broker.cacheCounts);
        await credentials.start();
        await broker.start();
        return createAuthService({
          metrics,
          db,
          cache,
          logger,
          gatewayTokens: internalTokens(config, 'gateway'),
          internalCallers: callerTokens(config, ['genesys-connector']),
          jwtKeyring,
          jwtTtlSeconds: config.JWT_TTL_SECONDS,
          broker,
          credentials,
        });
      },
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
