import { runMain, startService } from '@bridge/shared';
import { createWebhookService } from './app';
import { configSchema } from './config';

/** Builds webhook-service from the environment and listens on its port (3001). */
export function start(env: NodeJS.ProcessEnv = process.env) {
  return startService({ name: 'webhook-service', configSchema, createApp: (ctx) => createWebhookService(ctx) }, env);
}

if (require.main === module) runMain(() => start());
