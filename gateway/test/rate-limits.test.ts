import express from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { RedisCache, errorHandler } from '@bridge/shared';
import { createRateLimits } from '../src/rate-limits';

describe('tenant rate limits while Redis cannot be reached', () => {
  it('are counted in this process: neither failing nor letting everything through', async () => {
    // A client whose server is gone: connection refused, retrying in the background.
    const gone = new Redis({ port: 1, lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50 });
    gone.on('error', () => undefined);
    try {
      const app = express();
      app.use((req, _res, next) => {
        req.tenant = { tenantId: 'acme', rateLimit: 2 } as typeof req.tenant;
        next();
      });
      app.use(...createRateLimits(new RedisCache(gone)));
      app.get('/x', (_req, res) => {
        res.json({ ok: true });
      });
      app.use(errorHandler);
      const statuses: number[] = [];
      const started = Date.now();
      for (let i = 0; i < 3; i++) statuses.push((await request(app).get('/x')).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      gone.disconnect();
    }
  });
});
