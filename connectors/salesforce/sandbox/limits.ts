import { performance } from 'node:perf_hooks';
import { Arrivals } from '../../../runtime/sdk/sandbox-kit/index.ts';
import type { LimitName } from './errors.ts';
import type { SalesforceLimits } from './types.ts';

export const DAY_MS = 86_400_000;
export const DEFAULT_LIMITS: Required<SalesforceLimits> = { dailyApiRequests: 100_000, longRunningConcurrent: 25, longRunningMs: 20_000 };

export interface LimitAdmission {
  refused?: LimitName;
  /** Call when the request ends: it leaves the in-flight set. */
  release: () => void;
}

/**
 * The org's API limits: total API requests in any rolling 24 h (by the sandbox clock), and long-running
 * requests in flight (requests in flight for at least `longRunningMs` of real time). A refused request is
 * not counted, so a client that waits for the window to move gets in again; one that keeps sending stays out.
 */
export class OrgLimits {
  readonly #limits: Required<SalesforceLimits> | false;
  #window = new Arrivals();
  #inFlight = new Set<{ startedMs: number }>();

  constructor(limits: SalesforceLimits | false) {
    this.#limits = limits === false ? false : { ...DEFAULT_LIMITS, ...limits };
  }

  /** The 24 h allocation; undefined when limits are off. */
  get max(): number | undefined {
    return this.#limits === false ? undefined : this.#limits.dailyApiRequests;
  }

  /** API requests counted in the 24 h before `now`. */
  usage(now: number): number {
    this.#window.prune(now - DAY_MS);
    return this.#window.size;
  }

  admit(now: number): LimitAdmission {
    const limits = this.#limits;
    if (limits === false) return { release: () => {} };
    const real = performance.now();
    let longRunning = 0;
    for (const entry of this.#inFlight) if (real - entry.startedMs >= limits.longRunningMs) longRunning += 1;
    if (longRunning >= limits.longRunningConcurrent) return { refused: 'ConcurrentRequests', release: () => {} };
    if (this.usage(now) >= limits.dailyApiRequests) return { refused: 'TotalRequests', release: () => {} };
    this.#window.push(now);
    const entry = { startedMs: real };
    this.#inFlight.add(entry);
    return { release: () => this.#inFlight.delete(entry) };
  }

  reset(): void {
    this.#window.clear();
    this.#inFlight.clear();
  }
}
