import { runMain, startService } from '@bridge/shared';
import { createGateway } from './app';
import { configSchema } from './config';

/** Builds gateway from the environment and listens on its port (3000). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService({ name: 'gateway', configSchema, createApp: (ctx) => createGateway(ctx) }, env);
}

if (require.main === module) runMain(() => start());
