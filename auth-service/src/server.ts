import { requireSecret, runMain, startService } from '@bridge/shared';
import { createAuthService } from './app';
import { configSchema } from './config';

/** Builds auth-service from the environment and listens on its port (3003). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService(
    {
      name: 'auth-service',
      configSchema,
      createApp: (ctx) =>
        createAuthService({
          ...ctx,
          internalToken: requireSecret(ctx.config, 'INTERNAL_SERVICE_TOKEN'),
          jwtSecret: requireSecret(ctx.config, 'JWT_SECRET'),
          jwtTtlSeconds: ctx.config.JWT_TTL_SECONDS,
        }),
    },
    env,
  );
}

if (require.main === module) runMain(() => start());
