import type { LoggedRequest } from './types.ts';

/** The last `capacity` requests, oldest first. A ring buffer, so benchmarks can log millions of requests in bounded memory. */
export class RequestLog<Entry = LoggedRequest> {
  readonly #capacity: number;
  #entries: Entry[] = [];
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
  }

  push(entry: Entry): void {
    if (this.#capacity === 0) return;
    if (this.#entries.length < this.#capacity) {
      this.#entries.push(entry);
      return;
    }
    this.#entries[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  list(): Entry[] {
    return [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)];
  }

  clear(): void {
    this.#entries = [];
    this.#next = 0;
  }
}

/** The counters every sandbox keeps about its API traffic (control API excluded). */
export class Counters {
  requests = 0;
  /** By HTTP status; '0' counts requests that got no HTTP answer. */
  byStatus: Record<string, number> = {};
  /** By route key, as the sandbox's router names it. */
  byRoute: Record<string, number> = {};
  /** Requests a fault was applied to. */
  faulted = 0;

  count(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }
}
