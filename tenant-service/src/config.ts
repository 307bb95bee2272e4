import { z } from 'zod';
import { serviceConfigSchema } from '@bridge/shared';
import { DEFAULT_PURGE } from './purge';

export const configSchema = serviceConfigSchema(3007, {
  TENANT_PURGE_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_PURGE.batchSize).describe("Rows a deleted tenant's background purge removes per transaction"),
  TENANT_PURGE_PAUSE_MS: z.coerce.number().int().min(0).max(60_000).default(DEFAULT_PURGE.pauseMs).describe('Pause between two batches of the purge, ms'),
});
