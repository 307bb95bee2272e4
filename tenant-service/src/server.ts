import { CredentialCipher, callerTokens, requireCredentialKeys, requireSecret, runMain, startService } from '@bridge/shared';
import { createTenantService } from './app';
import { configSchema } from './config';

/** Builds tenant-service from the environment and listens on its port (3007), its internal routes on INTERNAL_PORT (4007). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'tenant-service',
      configSchema,
      createApp: ({ config, logger, db, cache, metrics }) =>
        createTenantService({
          metrics,
          db,
          cache,
          logger,
          cipher: new CredentialCipher(requireCredentialKeys(config)),
          adminApiKey: requireSecret(config, 'ADMIN_API_KEY'),
          internalCallers: callerTokens(config, ['webhook-service', 'auth-service', 'genesys-connector']),
          auditRetention: { retentionDays: config.AUDIT_RETENTION_DAYS },
          purge: { batchSize: config.TENANT_PURGE_BATCH_SIZE, pauseMs: config.TENANT_PURGE_PAUSE_MS },
          meta: { graphUrl: config.META_GRAPH_URL, timeoutMs: config.TEMPLATE_SYNC_TIMEOUT_MS },
          genesys: { loginUrlTemplate: config.GENESYS_LOGIN_URL },
        }),
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
