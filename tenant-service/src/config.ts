import { internalPortSchema, secrets, serviceConfigSchema } from '@bridge/shared';

export const configSchema = serviceConfigSchema(3007, {
  INTERNAL_PORT: internalPortSchema(4007),
  // The admin key; the keyring, which only this service holds; the tokens of the services that read credentials.
  ...secrets(
    'ADMIN_API_KEY',
    'CREDENTIALS_ENCRYPTION_KEY',
    'CREDENTIALS_ENCRYPTION_KEYS',
    'WEBHOOK_SERVICE_INTERNAL_TOKEN',
    'AUTH_SERVICE_INTERNAL_TOKEN',
    'GENESYS_CONNECTOR_INTERNAL_TOKEN',
  ),
});
