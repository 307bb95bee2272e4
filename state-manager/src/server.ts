import { OutboxNotifier, SecurityEventRecorder, internalTokens, runMain, startService } from '@bridge/shared';
import { createStateManager } from './app';
import { configSchema } from './config';

/** Builds state-manager from the environment and listens on its port (3002). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'state-manager',
      configSchema,
      createApp: ({ config, logger, db, cache, metrics }) =>
        createStateManager({
          db,
          cache,
          logger,
          metrics,
          gatewayTokens: internalTokens(config, 'gateway'),
          notifier: new OutboxNotifier(db),
          securityEvents: new SecurityEventRecorder({ db, cache, logger, windowSeconds: config.SECURITY_EVENT_WINDOW_SECONDS }),
        }),
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
