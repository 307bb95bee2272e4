import { ConfigError, SecurityEventRecorder, TenantDirectory, TenantTokenKeyring, internalTokens, jwtSecrets, runMain, startService } from '@bridge/shared';
import { createGateway } from './app';
import { configSchema } from './config';
import { LastUsedRecorder } from './last-used';
import { createAgent } from './proxy';
import { createTokenBuckets } from './token-bucket';

/** Builds the gateway from the environment and listens on its port (3000). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'gateway',
      configSchema,
      createApp: ({ config, logger, db, cache, metrics }) => {
        const secrets = jwtSecrets(config);
        if (!secrets) throw new ConfigError('Invalid environment: JWT_SECRET is required by this service');
        const [internalToken] = internalTokens(config, 'gateway');
        const directory = new TenantDirectory(db, cache, { strangerLookups: { concurrency: config.KEY_LOOKUP_CONCURRENCY, queue: config.KEY_LOOKUP_QUEUE } });
        metrics.watchCache('tenant-directory', () => directory.cacheCounts);
        return createGateway({
          db,
          cache,
          logger,
          metrics,
          directory,
          lastUsed: new LastUsedRecorder(db, logger, config.LAST_USED_FLUSH_MS),
          securityEvents: new SecurityEventRecorder({ db, cache, logger, windowSeconds: config.SECURITY_EVENT_WINDOW_SECONDS }),
          agent: createAgent(),
          jwtKeyring: new TenantTokenKeyring(secrets),
          internalToken,
          baseDomain: config.BASE_DOMAIN,
          allowSubdomainOnly: config.ALLOW_SUBDOMAIN_ONLY,
          targets: { state: config.STATE_MANAGER_URL, auth: config.AUTH_SERVICE_URL, webhook: config.WEBHOOK_SERVICE_URL },
          proxyTimeoutMs: config.PROXY_TIMEOUT_MS,
          trustProxyHops: config.TRUST_PROXY_HOPS,
          budgets: {
            webhook: config.WEBHOOK_IP_BURST ? createTokenBuckets(cache, 'webhook', { capacity: config.WEBHOOK_IP_BURST, perMinute: config.WEBHOOK_IP_PER_MINUTE }, logger) : undefined,
            authFailures: config.AUTH_FAILURE_IP_BURST
              ? createTokenBuckets(cache, 'auth-failures', { capacity: config.AUTH_FAILURE_IP_BURST, perMinute: config.AUTH_FAILURE_IP_PER_MINUTE }, logger)
              : undefined,
            ipv6Prefix: config.CLIENT_IPV6_PREFIX,
          },
        });
      },
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
