import { SingleFlight } from '../src/single-flight';

/** A promise settled from outside, to hold a call open while others arrive. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Work that waits for `d`, noting whether its flight was still current when it got the answer. */
function heldOpen(d: ReturnType<typeof deferred<string>>) {
  const seen: { current?: boolean } = {};
  const work = async (isCurrent: () => boolean) => {
    const value = await d.promise;
    seen.current = isCurrent();
    return value;
  };
  return { work, seen };
}

describe('SingleFlight', () => {
  it('makes one call for many concurrent callers of a key, and a call per key', async () => {
    const flights = new SingleFlight<string, string>();
    const calls: string[] = [];
    const pending = new Map<string, ReturnType<typeof deferred<string>>>();
    const work = (key: string) => () => {
      calls.push(key);
      const d = deferred<string>();
      pending.set(key, d);
      return d.promise;
    };
    const answers = Promise.all([flights.run('a', work('a')), flights.run('a', work('a')), flights.run('b', work('b')), flights.run('a', work('a'))]);
    expect(calls).toEqual(['a', 'b']);
    pending.get('a')!.resolve('A');
    pending.get('b')!.resolve('B');
    expect(await answers).toEqual(['A', 'A', 'B', 'A']);
  });

  it('frees the key when the call settles, before its callers resume, so the next caller calls again', async () => {
    const flights = new SingleFlight<string, number>();
    let calls = 0;
    const first = await flights.run('k', async () => ++calls);
    expect(flights.get('k')).toBeUndefined();
    const second = await flights.run('k', async () => ++calls);
    expect([first, second]).toEqual([1, 2]);
  });

  it('shares a failure with every waiting caller, then lets the next caller try again', async () => {
    const flights = new SingleFlight<string, string>();
    const d = deferred<string>();
    const waiting = [flights.run('k', () => d.promise), flights.run('k', async () => 'not called')];
    d.reject(new Error('down'));
    for (const p of waiting) await expect(p).rejects.toThrow('down');
    await expect(flights.run('k', async () => 'up')).resolves.toBe('up');
  });

  it('turns a synchronous throw into a failed flight instead of a stuck key', async () => {
    const flights = new SingleFlight<string, string>();
    await expect(
      flights.run('k', () => {
        throw new Error('bad');
      }),
    ).rejects.toThrow('bad');
    expect(flights.get('k')).toBeUndefined();
  });

  it('after forget, callers already waiting keep their answer, the next caller starts anew, and the forgotten call is told it is no longer current', async () => {
    const flights = new SingleFlight<string, string>();
    const d = deferred<string>();
    const held = heldOpen(d);
    const old = flights.run('k', held.work);
    flights.forget('k');
    const fresh = flights.run('k', async (isCurrent) => (isCurrent() ? 'fresh' : 'stale'));
    d.resolve('old');
    expect(await old).toBe('old');
    expect(held.seen.current).toBe(false);
    expect(await fresh).toBe('fresh');
  });

  it('start replaces the flight under way (which is no longer current) and carries a tag', async () => {
    const flights = new SingleFlight<string, string, string>();
    const d = deferred<string>();
    const held = heldOpen(d);
    const first = flights.start('k', held.work);
    expect(flights.get('k')?.tag).toBeUndefined();
    const second = flights.start('k', async () => 'second', 'token-1');
    expect(flights.get('k')?.tag).toBe('token-1');
    expect(await second.promise).toBe('second');
    // The first flight's settling must not free the slot of the one that replaced it.
    const third = flights.start('k', () => new Promise<string>(() => undefined), 'token-2');
    d.resolve('first');
    expect(await first.promise).toBe('first');
    expect(held.seen.current).toBe(false);
    expect(flights.get('k')).toBe(third);
  });
});
