import { secrets, serviceConfigSchema } from '@bridge/shared';

export const configSchema = serviceConfigSchema(3002, {
  // Trusts the tenant the gateway names only with the gateway's token.
  ...secrets('GATEWAY_INTERNAL_TOKEN'),
});
