import { serviceConfigSchema } from '@bridge/shared';

export const configSchema = serviceConfigSchema(3001, {});
