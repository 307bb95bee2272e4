import { TenantDirectory, internalTokens, requireSecret, runMain, startService } from '@bridge/shared';
import { createGateway } from './app';
import { configSchema } from './config';
import { LastUsedRecorder } from './last-used';
import { createAgent } from './proxy';

/** Builds the gateway from the environment and listens on its port (3000). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'gateway',
      configSchema,
      createApp: ({ config, logger, db, cache }) => {
        const jwtSecret = requireSecret(config, 'JWT_SECRET');
        const [internalToken] = internalTokens(config, 'gateway');
        return createGateway({
          db,
          cache,
          logger,
          directory: new TenantDirectory(db, cache),
          lastUsed: new LastUsedRecorder(db, logger, config.LAST_USED_FLUSH_MS),
          agent: createAgent(),
          jwtSecret,
          internalToken,
          baseDomain: config.BASE_DOMAIN,
          allowSubdomainOnly: config.ALLOW_SUBDOMAIN_ONLY,
          targets: { state: config.STATE_MANAGER_URL, auth: config.AUTH_SERVICE_URL, webhook: config.WEBHOOK_SERVICE_URL },
          proxyTimeoutMs: config.PROXY_TIMEOUT_MS,
          trustProxyHops: config.TRUST_PROXY_HOPS,
        });
      },
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
