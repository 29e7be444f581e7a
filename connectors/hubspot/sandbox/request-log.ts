import type { LoggedRequest } from './types.ts';

/** The last `capacity` requests, oldest first. A ring buffer, so benchmarks can log millions of requests in bounded memory. */
export class RequestLog {
  readonly #capacity: number;
  #entries: LoggedRequest[] = [];
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
  }

  push(entry: LoggedRequest): void {
    if (this.#capacity === 0) return;
    if (this.#entries.length < this.#capacity) {
      this.#entries.push(entry);
      return;
    }
    this.#entries[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  list(): LoggedRequest[] {
    return [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)];
  }

  clear(): void {
    this.#entries = [];
    this.#next = 0;
  }
}

export class Counters {
  requests = 0;
  byStatus: Record<string, number> = {};
  byRoute: Record<string, number> = {};
  throttled = 0;
  throttledByPolicy = { TEN_SECONDLY_ROLLING: 0, DAILY: 0, SECONDLY: 0 };
  faulted = 0;

  count(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }
}
