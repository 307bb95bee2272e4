import { z } from 'zod';
import { internalPortSchema, secrets, serviceConfigSchema } from '@bridge/shared';

export const configSchema = serviceConfigSchema(3003, {
  JWT_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900).describe('Lifetime of tenant JWTs from POST /auth/token'),
  INTERNAL_PORT: internalPortSchema(4003),
  // Signs tenant JWTs; accepts the gateway's and genesys-connector's tokens; reads credentials with its own.
  ...secrets('JWT_SECRET', 'GATEWAY_INTERNAL_TOKEN', 'AUTH_SERVICE_INTERNAL_TOKEN', 'GENESYS_CONNECTOR_INTERNAL_TOKEN'),
});
