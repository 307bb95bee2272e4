import { backoffMs } from '@bridge/shared';

/** Rule: retries back off exponentially with jitter, never beyond the cap, unless the provider's Retry-After asks for longer. */
const BASE = 1_000;
const MAX = 60_000;

afterEach(() => jest.restoreAllMocks());

/** The delay with the jitter at its lowest (0) and highest (just under 1). */
function bounds(attempt: number, retryAfter?: number): [number, number] {
  const random = jest.spyOn(Math, 'random');
  random.mockReturnValue(0);
  const low = backoffMs(attempt, BASE, MAX, retryAfter);
  random.mockReturnValue(0.999999);
  const high = backoffMs(attempt, BASE, MAX, retryAfter);
  random.mockRestore();
  return [low, high];
}

describe('backoff', () => {
  it('doubles per attempt, jittered over the upper half', () => {
    expect(bounds(1)).toEqual([BASE / 2, expect.closeTo(BASE, 0)]);
    expect(bounds(2)).toEqual([BASE, expect.closeTo(2 * BASE, 0)]);
    expect(bounds(4)).toEqual([4 * BASE, expect.closeTo(8 * BASE, 0)]);
  });

  it('is capped at the longest delay, however many attempts', () => {
    for (const attempt of [7, 8, 20, 1_000, 5_000]) {
      const [low, high] = bounds(attempt);
      expect(low).toBe(MAX / 2);
      expect(high).toBeLessThanOrEqual(MAX);
      expect(high).toBeGreaterThan(MAX * 0.99);
    }
  });

  it('jitters: delays of jobs failing together differ', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffMs(5, BASE, MAX)));
    expect(delays.size).toBeGreaterThan(1);
  });

  it('waits as long as a provider’s Retry-After asks when that is longer, even beyond the cap', () => {
    expect(bounds(1, 5_000)).toEqual([5_000, 5_000]);
    expect(bounds(30, 10 * MAX)).toEqual([10 * MAX, 10 * MAX]);
  });

  it('does not shorten the backoff for a shorter Retry-After', () => {
    expect(bounds(4, 100)).toEqual([4 * BASE, expect.closeTo(8 * BASE, 0)]);
  });
});
