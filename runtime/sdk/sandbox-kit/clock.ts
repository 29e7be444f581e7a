/**
 * An injected clock held non-decreasing, so windows and expiries stay well defined if a test winds
 * the source back: until the source catches up, the latest time seen is used. `reset()` forgets it.
 */
export class MonotonicClock {
  readonly #source: () => number;
  #last = -Infinity;

  constructor(source: () => number = Date.now) {
    this.#source = source;
  }

  now(): number {
    const t = this.#source();
    if (t > this.#last) this.#last = t;
    return this.#last;
  }

  reset(): void {
    this.#last = -Infinity;
  }
}
