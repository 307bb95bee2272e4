/** A call under way for a key, and what it was started with (e.g. the token it replaces). */
export interface Flight<V, T> {
  readonly promise: Promise<V>;
  readonly tag: T | undefined;
}

/**
 * One call per key at a time, whose answer every concurrent caller of that key shares ("single
 * flight"), in this process. A flight's slot is freed when it settles, before any caller
 * awaiting it resumes, so a caller that looks again after its await finds the slot free.
 */
export class SingleFlight<K, V, T = undefined> {
  private readonly flights = new Map<K, Flight<V, T>>();

  /** The flight under way for `key`, if any. */
  get(key: K): Flight<V, T> | undefined {
    return this.flights.get(key);
  }

  /** Joins the flight under way for `key`, or starts `work` as one (see `start`). */
  run(key: K, work: (isCurrent: () => boolean) => Promise<V>): Promise<V> {
    return (this.flights.get(key) ?? this.start(key, work)).promise;
  }

  /**
   * Starts `work` as the flight for `key`, replacing any under way (whose callers still get its
   * answer). `work` is given `isCurrent()`, true until its flight is replaced or forgotten: what
   * it brings back may be stored only while that holds, or an answer fetched before a change
   * would outlive the change.
   */
  start(key: K, work: (isCurrent: () => boolean) => Promise<V>, tag?: T): Flight<V, T> {
    const flight = { tag } as { promise: Promise<V>; tag: T | undefined };
    this.flights.set(key, flight);
    const isCurrent = () => this.flights.get(key) === flight;
    try {
      flight.promise = work(isCurrent);
    } catch (err) {
      flight.promise = Promise.reject(err);
    }
    const done = () => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    flight.promise.then(done, done);
    return flight;
  }

  /** Lets go of the key's flight: its callers keep their answer, the next caller starts anew. */
  forget(key: K): void {
    this.flights.delete(key);
  }

  /** Forgets every flight. */
  clear(): void {
    this.flights.clear();
  }
}
