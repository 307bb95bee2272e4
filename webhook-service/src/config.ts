import { secrets, serviceConfigSchema } from '@bridge/shared';

export const configSchema = serviceConfigSchema(3001, {
  // Its own token (credentials); the key it verifies media links with.
  ...secrets('WEBHOOK_SERVICE_INTERNAL_TOKEN', 'MEDIA_SIGNING_SECRET'),
});
