import { Arrivals } from '../../../runtime/sdk/sandbox-kit/index.ts';
import type { RateLimitPolicy, RateLimits } from './types.ts';

export const TEN_SECONDS_MS = 10_000;
const ONE_SECOND_MS = 1_000;
const DAY_MS = 86_400_000;
export const DEFAULT_LIMITS: Required<RateLimits> = { perTenSeconds: 100, daily: 250_000, searchPerSecond: 5 };

interface TokenState {
  window: Arrivals;
  search: Arrivals;
}

export interface Admission {
  /** Set when the request must be answered 429. */
  throttled?: RateLimitPolicy;
  /** X-HubSpot-RateLimit-* headers to send (none for search, none when limits are off). */
  headers: Record<string, string>;
}

/**
 * HubSpot's private-app limits: a rolling 10 s window per token, a daily count per portal (reset at midnight UTC),
 * and a separate per-second bucket for search. Every authenticated request counts, throttled ones included, so a
 * client that keeps hammering while throttled stays throttled, as it does against HubSpot.
 */
export class RateLimiter {
  readonly #limits: Required<RateLimits> | false;
  #tokens = new Map<string, TokenState>();
  #day = -1;
  #dailyUsed = 0;
  #maxInWindow = 0;

  constructor(limits: RateLimits | false) {
    this.#limits = limits === false ? false : { ...DEFAULT_LIMITS, ...limits };
  }

  get maxInTenSecondWindow(): number {
    return this.#maxInWindow;
  }

  dailyUsed(now: number): number {
    this.#rollDay(now);
    return this.#dailyUsed;
  }

  reset(): void {
    this.#tokens = new Map();
    this.#day = -1;
    this.#dailyUsed = 0;
    this.#maxInWindow = 0;
  }

  /** Counts a request from `token` arriving at `now` (a non-decreasing clock) and decides whether it passes. */
  admit(token: string, kind: 'standard' | 'search', now: number): Admission {
    this.#rollDay(now);
    const state = this.#state(token);
    const limits = this.#limits;
    const dailyExhausted = limits !== false && this.#dailyUsed >= limits.daily;
    this.#dailyUsed += 1;

    if (kind === 'search') {
      state.search.prune(now - ONE_SECOND_MS);
      const inSecond = state.search.size;
      state.search.push(now);
      if (limits === false) return { headers: {} };
      if (dailyExhausted) return { throttled: 'DAILY', headers: {} };
      return inSecond >= limits.searchPerSecond ? { throttled: 'SECONDLY', headers: {} } : { headers: {} };
    }

    state.window.prune(now - TEN_SECONDS_MS);
    const before = state.window.size;
    state.window.push(now);
    // Every request is an arrival, so the largest window always ends at one: checking here makes the maximum exact.
    this.#maxInWindow = Math.max(this.#maxInWindow, before + 1);
    if (limits === false) return { headers: {} };

    const secondly = Math.max(1, Math.floor(limits.perTenSeconds / 10));
    const headers = {
      'X-HubSpot-RateLimit-Daily': String(limits.daily),
      'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, limits.daily - this.#dailyUsed)),
      'X-HubSpot-RateLimit-Interval-Milliseconds': String(TEN_SECONDS_MS),
      'X-HubSpot-RateLimit-Max': String(limits.perTenSeconds),
      'X-HubSpot-RateLimit-Remaining': String(Math.max(0, limits.perTenSeconds - (before + 1))),
      'X-HubSpot-RateLimit-Secondly': String(secondly),
      'X-HubSpot-RateLimit-Secondly-Remaining': String(Math.max(0, secondly - state.window.countAfter(now - ONE_SECOND_MS))),
    };
    if (dailyExhausted) return { throttled: 'DAILY', headers };
    if (before >= limits.perTenSeconds) return { throttled: 'TEN_SECONDLY_ROLLING', headers };
    return { headers };
  }

  #rollDay(now: number): void {
    const day = Math.floor(now / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#dailyUsed = 0;
    }
  }

  #state(token: string): TokenState {
    let state = this.#tokens.get(token);
    if (state === undefined) {
      state = { window: new Arrivals(), search: new Arrivals() };
      this.#tokens.set(token, state);
    }
    return state;
  }
}
