import { Arrivals } from '../../../runtime/sdk/sandbox-kit/index.ts';
import type { ServiceProtectionLimits } from './types.ts';

export const DEFAULT_LIMITS: Required<ServiceProtectionLimits> = { requests: 6000, windowMs: 300_000, concurrent: 52, penaltyMs: 1000 };

export interface Verdict {
  /** Set when the request must be answered 429. */
  refused?: { limit: 'requests' | 'concurrent'; retryAfterSeconds: number };
  /** Debug headers for an admitted request. */
  headers: Record<string, string>;
  /** Call when the request ends: it leaves the in-flight count. */
  release: () => void;
}

interface UserState {
  window: Arrivals;
  inFlight: number;
  /** Clock ms until which every request of this user is refused. */
  blockedUntil: number;
}

/**
 * Dataverse service protection, per user: requests in a sliding window and requests in flight. Going
 * over the window blocks the user until a slot frees up; each request sent while blocked pushes the block
 * back by `penaltyMs`, so the Retry-After of a client that keeps sending grows. Refused requests are not
 * counted in the window. The execution-time limit (20 minutes per 5 minutes) is not modelled.
 */
export class ServiceProtection {
  readonly #limits: Required<ServiceProtectionLimits> | false;
  #users = new Map<string, UserState>();
  peakConcurrent = 0;

  constructor(limits: ServiceProtectionLimits | false) {
    this.#limits = limits === false ? false : { ...DEFAULT_LIMITS, ...limits };
  }

  get limits(): Required<ServiceProtectionLimits> | false {
    return this.#limits;
  }

  admit(user: string, now: number): Verdict {
    const state = this.#state(user);
    const limits = this.#limits;
    const admitted = (headers: Record<string, string>): Verdict => {
      if (limits !== false) state.window.push(now);
      state.inFlight += 1;
      this.peakConcurrent = Math.max(this.peakConcurrent, state.inFlight);
      let released = false;
      return {
        headers,
        release: () => {
          if (released) return;
          released = true;
          state.inFlight -= 1;
        },
      };
    };
    if (limits === false) return admitted({});

    state.window.prune(now - limits.windowMs);
    const seconds = (until: number): number => Math.max(1, Math.ceil((until - now) / 1000));
    if (now < state.blockedUntil) {
      state.blockedUntil += limits.penaltyMs;
      return { refused: { limit: 'requests', retryAfterSeconds: seconds(state.blockedUntil) }, headers: {}, release: () => {} };
    }
    if (state.window.size >= limits.requests) {
      state.blockedUntil = (state.window.oldest ?? now) + limits.windowMs;
      return { refused: { limit: 'requests', retryAfterSeconds: seconds(state.blockedUntil) }, headers: {}, release: () => {} };
    }
    if (state.inFlight >= limits.concurrent) return { refused: { limit: 'concurrent', retryAfterSeconds: 1 }, headers: {}, release: () => {} };
    return admitted({ 'x-ms-ratelimit-burst-remaining-xrm-requests': String(limits.requests - state.window.size - 1) });
  }

  reset(): void {
    this.#users = new Map();
    this.peakConcurrent = 0;
  }

  #state(user: string): UserState {
    let state = this.#users.get(user);
    if (state === undefined) {
      state = { window: new Arrivals(), inFlight: 0, blockedUntil: -Infinity };
      this.#users.set(user, state);
    }
    return state;
  }
}
