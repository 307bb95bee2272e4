import { LookupCache } from '../src';

/** A clock the test moves. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('LookupCache', () => {
  it('answers found values and remembered misses, each for its own time', () => {
    const t = clock();
    const cache = new LookupCache<string>({ ttlMs: 60_000, negativeTtlMs: 5_000, now: t.now });
    cache.set('known', 'tenant-a');
    cache.set('unknown', undefined);
    expect(cache.get('known')).toEqual({ value: 'tenant-a' });
    expect(cache.get('unknown')).toEqual({ value: undefined });
    expect(cache.get('never-asked')).toBeUndefined();
    t.advance(5_001);
    expect(cache.get('unknown')).toBeUndefined();
    expect(cache.get('known')).toEqual({ value: 'tenant-a' });
    t.advance(55_000);
    expect(cache.get('known')).toBeUndefined();
  });

  it('drops expired entries when swept, not only when read', () => {
    const t = clock();
    const cache = new LookupCache<string>({ ttlMs: 1_000, negativeTtlMs: 1_000, now: t.now });
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i % 2 ? 'v' : undefined);
    expect(cache.stats).toMatchObject({ found: 50, missing: 50 });
    t.advance(1_001);
    cache.purgeStale();
    expect(cache.stats).toEqual({ found: 0, foundBytes: 0, missing: 0, missingBytes: 0 });
  });

  it('holds at most `max` found values, evicting the least recently used', () => {
    const cache = new LookupCache<string>({ ttlMs: 60_000, negativeTtlMs: 5_000, max: 3 });
    for (const k of ['a', 'b', 'c']) cache.set(k, k.toUpperCase());
    cache.get('a'); // a is now the most recently used
    cache.set('d', 'D');
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => cache.get(k)?.value)).toEqual(['A', 'C', 'D']);
    expect(cache.stats.found).toBe(3);
  });

  it('holds at most `maxBytes` of found values, and does not keep one larger than that', () => {
    const cache = new LookupCache<string>({ ttlMs: 60_000, negativeTtlMs: 5_000, maxBytes: 10_000 });
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, 'x'.repeat(500));
    expect(cache.stats.foundBytes).toBeLessThanOrEqual(10_000);
    expect(cache.stats.found).toBeLessThan(10);
    expect(cache.get('k99')).toBeDefined();
    cache.set('huge', 'y'.repeat(1_000_000));
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.stats.foundBytes).toBeLessThanOrEqual(10_000);
  });

  it('keeps misses apart: a flood of unknown keys, long ones included, evicts no found value and stays within its own bounds', () => {
    const cache = new LookupCache<string>({ ttlMs: 60_000, negativeTtlMs: 5_000, max: 100, negativeMax: 50, negativeMaxBytes: 20_000 });
    for (let i = 0; i < 100; i++) cache.set(`tenant-${i}`, `credentials-${i}`);
    for (let i = 0; i < 10_000; i++) cache.set(`junk-${i}-${'z'.repeat(i % 7 === 0 ? 100_000 : 10)}`, undefined);
    expect(cache.stats.found).toBe(100);
    expect(cache.get('tenant-0')).toEqual({ value: 'credentials-0' });
    expect(cache.stats.missing).toBeLessThanOrEqual(50);
    expect(cache.stats.missingBytes).toBeLessThanOrEqual(20_000);
  });

  it('turns a miss into a value and back, and forgets on delete and clear', () => {
    const cache = new LookupCache<string>({ ttlMs: 60_000, negativeTtlMs: 5_000 });
    cache.set('k', undefined);
    cache.set('k', 'now-known');
    expect(cache.get('k')).toEqual({ value: 'now-known' });
    cache.set('k', undefined);
    expect(cache.get('k')).toEqual({ value: undefined });
    cache.delete('k');
    expect(cache.get('k')).toBeUndefined();
    cache.set('x', 'X');
    cache.set('y', undefined);
    cache.clear();
    expect([cache.get('x'), cache.get('y')]).toEqual([undefined, undefined]);
  });
});
