import express from 'express';
import request from 'supertest';
import type { Database, Queryable } from '@bridge/shared';
import { quotaGuard } from '../src/quota-guard';

/**
 * The quota guard's cost: a tenant whose plan limits nothing is remembered for a while (its calls
 * then cost no statement); a tenant with limits is asked every call, so that a used-up limit
 * refuses the very next one.
 */
type Row = { quota: string; used: string; lim: string; resets_at: Date; blocks: boolean };

function fakeDb(rowsOf: (tenantId: string) => Row[]) {
  const calls: string[] = [];
  const db = {
    withTenant: async <T>(tenantId: string, fn: (q: Queryable) => Promise<T>) => {
      calls.push(tenantId);
      return fn({ query: (async () => ({ rows: rowsOf(tenantId) })) as unknown as Queryable['query'] });
    },
  } as unknown as Database;
  return { db, calls };
}

function appWith(db: Database, now: () => number) {
  const app = express();
  app.use((req, _res, next) => {
    req.tenantId = String(req.headers['x-tenant-id']);
    next();
  });
  app.use(quotaGuard(db, { now }));
  app.get('/state/stats', (_req, res) => {
    res.json({ ok: true });
  });
  app.use((err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ code: err.code });
  });
  return app;
}

const monthEnd = new Date(Date.now() + 86_400_000);

it('a tenant without limits costs one statement per 5 s, not one per call', async () => {
  let clock = 1_000_000;
  const { db, calls } = fakeDb(() => []);
  const app = appWith(db, () => clock);
  for (let i = 0; i < 5; i++) await request(app).get('/state/stats').set('x-tenant-id', 'free').expect(200);
  expect(calls).toEqual(['free']);
  clock += 5_001;
  await request(app).get('/state/stats').set('x-tenant-id', 'free').expect(200);
  expect(calls).toEqual(['free', 'free']);
});

it('a tenant with limits is asked on every call, and refused as soon as a limit is used up', async () => {
  let used = 4;
  const { db, calls } = fakeDb(() => [{ quota: 'messagesPerMonth', used: String(used), lim: '5', resets_at: monthEnd, blocks: used >= 5 }]);
  const app = appWith(db, () => 1_000_000);
  await request(app).get('/state/stats').set('x-tenant-id', 'tiny').expect(200);
  used = 5;
  const refused = await request(app).get('/state/stats').set('x-tenant-id', 'tiny').expect(429);
  expect(refused.body.code).toBe('QUOTA_EXCEEDED');
  expect(calls).toEqual(['tiny', 'tiny']);
});
