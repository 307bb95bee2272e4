import { AppError, MemoryCache, TenantDirectory, type Database, type Queryable } from '../src';

/**
 * A database whose lookups wait until the test lets them go: shows how many run at once, and
 * which kind (platform-wide, by a name from outside; or scoped to a tenant).
 */
function heldDatabase() {
  const running = { platform: 0, tenant: 0 };
  const peak = { platform: 0, tenant: 0 };
  const held: Array<() => void> = [];
  const hold = async <T>(kind: 'platform' | 'tenant', fn: () => Promise<T>): Promise<T> => {
    running[kind]++;
    peak[kind] = Math.max(peak[kind], running[kind]);
    await new Promise<void>((resolve) => held.push(resolve));
    try {
      return await fn();
    } finally {
      running[kind]--;
    }
  };
  const db = {
    // Platform-wide lookups: one call of a platform function; scoped ones: a tenant's transaction.
    unscoped: () => hold('platform', async () => []),
    withTenant: (_tenantId: string, fn: (q: Queryable) => Promise<unknown>) =>
      hold('tenant', () => fn({ query: async () => ({ rows: [] }) } as unknown as Queryable)),
  } as unknown as Database;
  /** Lets every lookup go, those queued behind them too. */
  const releaseAll = async () => {
    do {
      await new Promise((r) => setImmediate(r));
      held.splice(0).forEach((release) => release());
      await new Promise((r) => setImmediate(r));
    } while (held.length);
  };
  return { db, running, peak, releaseAll };
}

const randomHash = (i: number) => i.toString(16).padStart(64, '0');

describe('the directory’s lookups of names anyone can make up', () => {
  it('hold at most `concurrency` connections; lookups of known tenants and keys by id are not queued behind them', async () => {
    const { db, running, peak, releaseAll } = heldDatabase();
    const directory = new TenantDirectory(db, new MemoryCache(), { strangerLookups: { concurrency: 2, queue: 100 } });
    const flood = Array.from({ length: 50 }, (_, i) => directory.apiKey(randomHash(i)));
    const subdomains = Array.from({ length: 10 }, (_, i) => directory.subdomain(`nobody-${i}`));
    await new Promise((r) => setImmediate(r));
    expect(running.platform).toBe(2);

    // What a caller with a found key or a signed token causes goes straight to the pool.
    const known = [directory.tenant('acme'), directory.apiKeyById('acme', '3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b')];
    await new Promise((r) => setImmediate(r));
    expect(running.tenant).toBe(2);

    await releaseAll();
    expect(await Promise.all(flood)).toEqual(Array(50).fill(undefined));
    expect(await Promise.all(subdomains)).toEqual(Array(10).fill(undefined));
    expect(await Promise.all(known)).toEqual([undefined, undefined]);
    expect(peak.platform).toBe(2);
  });

  it('are refused with 503 AUTH_LOOKUPS_BUSY at once when the queue is full, and the gate frees up after', async () => {
    const { db, releaseAll } = heldDatabase();
    const directory = new TenantDirectory(db, new MemoryCache(), { strangerLookups: { concurrency: 1, queue: 2 } });
    const admitted = [0, 1, 2].map((i) => directory.apiKey(randomHash(i)));
    await new Promise((r) => setImmediate(r));
    const refused = await directory.apiKey(randomHash(3)).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'AUTH_LOOKUPS_BUSY', status: 503, headers: { 'Retry-After': '1' } });
    await releaseAll();
    expect(await Promise.all(admitted)).toEqual([undefined, undefined, undefined]);
    const again = directory.apiKey(randomHash(4));
    await releaseAll();
    expect(await again).toBeUndefined();
  });

  it('answer a cached name without taking a turn', async () => {
    const { db, running, releaseAll } = heldDatabase();
    const cache = new MemoryCache();
    const directory = new TenantDirectory(db, cache, { strangerLookups: { concurrency: 1, queue: 0 } });
    await cache.set('p:apikey:cached', JSON.stringify({ v: { tenantId: 'acme', keyId: 'k', active: true, rateLimit: null } }), 60);
    const busy = directory.apiKey(randomHash(1));
    await new Promise((r) => setImmediate(r));
    expect(running.platform).toBe(1);
    expect(await directory.apiKey('cached')).toMatchObject({ tenantId: 'acme' });
    await releaseAll();
    await busy;
  });
});
