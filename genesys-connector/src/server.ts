import { runMain, startService } from '@bridge/shared';
import { createGenesysConnector } from './app';
import { configSchema } from './config';

/** Builds genesys-connector from the environment and listens on its port (3004). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService({ name: 'genesys-connector', configSchema, createApp: (ctx) => createGenesysConnector(ctx) }, env);
}

if (require.main === module) runMain(() => start());
