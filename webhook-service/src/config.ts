import { z } from 'zod';
import { DEFAULT_TYPING_INTERVAL_MS, flag, secrets, serviceConfigSchema } from '@bridge/shared';

export const configSchema = serviceConfigSchema(3001, {
  // Its own token (credentials); the key it verifies media links with.
  ...secrets('WEBHOOK_SERVICE_INTERNAL_TOKEN', 'MEDIA_SIGNING_SECRET'),
  // Optional, so not among the secrets required in production.
  META_PLATFORM_APP_SECRET: z
    .string()
    .min(1)
    .optional()
    .describe(
      "webhook-service: app secret of the platform-wide Meta app; a POST /webhook/meta it signs is authentic whatever numbers it names (changes for numbers nobody owns yet are held, not refused)",
    ),
  AUTO_PROVISION: flag().describe(
      'webhook-service: a message on the platform-wide Meta webhook, signed with META_PLATFORM_APP_SECRET, for a phone_number_id no tenant owns creates a pending tenant for that number and holds its messages until an admin activates it',
    ),
  TYPING_INDICATOR_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULT_TYPING_INTERVAL_MS)
    .describe('webhook-service: at most one WhatsApp typing indicator per conversation this often, however many Genesys typing events arrive (ms)'),
});
