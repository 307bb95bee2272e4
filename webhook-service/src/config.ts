import { z } from 'zod';
import { serviceConfigSchema } from '@bridge/shared';

export const configSchema = serviceConfigSchema(3001, {
  PUBLIC_BASE_URL: z.string().url().default('http://127.0.0.1:3000').describe('Public base URL of the gateway, for media links Genesys fetches'),
  MEDIA_SIGNING_SECRET: z.string().min(16).optional().describe('Key for signed media links (default: derived from INTERNAL_SERVICE_TOKEN)'),
});
