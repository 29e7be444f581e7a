/**
 * Arrival times in ascending order, with O(1) amortised push and prune: the building block of
 * sliding-window limits. A request at `t` stays in a window of length `w` while `now - t < w`,
 * i.e. it drops out exactly `w` ms after it arrived (prune with `now - w`).
 */
export class Arrivals {
  #items: number[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** The oldest arrival still held, if any. */
  get oldest(): number | undefined {
    return this.#items[this.#head];
  }

  push(t: number): void {
    this.#items.push(t);
  }

  /** Forgets arrivals at or before `cutoff`. */
  prune(cutoff: number): void {
    while (this.#head < this.#items.length && (this.#items[this.#head] ?? Infinity) <= cutoff) this.#head++;
    // Compact now and then so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Arrivals after `cutoff` (binary search; the window may hold many thousands when limits are off). */
  countAfter(cutoff: number): number {
    let lo = this.#head;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#items[mid] ?? Infinity) <= cutoff) lo = mid + 1;
      else hi = mid;
    }
    return this.#items.length - lo;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
