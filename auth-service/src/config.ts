import { z } from 'zod';
import { serviceConfigSchema } from '@bridge/shared';

export const configSchema = serviceConfigSchema(3003, {
  JWT_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900).describe('Lifetime of tenant JWTs from POST /auth/token'),
});
