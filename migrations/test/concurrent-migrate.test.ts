import { migrate } from '../src';
import { createTestDatabase, type TestDatabase } from '../../test/support/db';

/**
 * Replicas starting together (and parallel test files) migrate databases of one server at the
 * same moment. The application role and the database's ACL are shared catalog rows: PostgreSQL
 * fails the second of two concurrent updates with "tuple concurrently updated" instead of
 * waiting, which made a start (and CI) fail at random. migrate() runs such statements again.
 */
describe('migrate, many processes at once', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it('sets the application role and grants for every database without a catalog race', async () => {
    for (let i = 0; i < 12; i++) dbs.push(await createTestDatabase());
    // One migration per database (node-pg-migrate's own lock refuses a second on the same one).
    const runs = dbs.map((db) => migrate({ databaseUrl: db.ownerUrl, appRolePassword: process.env.DB_APP_PASSWORD }));
    const outcomes = await Promise.allSettled(runs);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
  });
});
