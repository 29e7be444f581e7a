import CircuitBreaker from 'opossum';
import type { BreakerPolicy } from './connectors/load-connector.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

interface Entry {
  breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  policy: BreakerPolicy;
  openedAt: number;
}

/** Thrown inside the breaker so that opossum counts a transient CRM failure; carries the outcome back out. */
export class CountedFailure<T> extends Error {
  readonly outcome: T;
  constructor(outcome: T) {
    super('counted failure');
    this.outcome = outcome;
  }
}

/**
 * One opossum breaker per (connector, account) in this process. The breaker has no timeout of its
 * own (the HTTP client aborts requests at the manifest's timeout); it only counts outcomes.
 */
export class BreakerRegistry {
  readonly #entries = new Map<string, Entry>();

  get(key: string, policy: BreakerPolicy): Entry {
    const existing = this.#entries.get(key);
    if (existing && samePolicy(existing.policy, policy)) return existing;
    existing?.breaker.shutdown();
    const breaker = new CircuitBreaker(async (run: () => Promise<unknown>) => run(), {
      timeout: false,
      errorThresholdPercentage: policy.errorThresholdPercentage,
      volumeThreshold: policy.volumeThreshold,
      resetTimeout: policy.resetTimeoutMs,
      rollingCountTimeout: policy.rollingWindowMs,
      rollingCountBuckets: 10,
    });
    const entry: Entry = { breaker, policy, openedAt: 0 };
    breaker.on('open', () => {
      entry.openedAt = Date.now();
    });
    this.#entries.set(key, entry);
    return entry;
  }

  /** How long a caller rejected by an open breaker should wait before its next try. */
  waitMs(entry: Entry): number {
    const untilHalfOpen = entry.openedAt + entry.policy.resetTimeoutMs - Date.now();
    // Half-open: one probe is in flight; the others look again shortly, spread out.
    return Math.max(untilHalfOpen, 0) + Math.round(Math.random() * Math.min(1000, entry.policy.resetTimeoutMs / 10)) + 50;
  }

  state(key: string): BreakerState | undefined {
    const breaker = this.#entries.get(key)?.breaker;
    if (!breaker) return undefined;
    return breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
  }

  states(prefix: string): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) out[key.slice(prefix.length)] = this.state(key)!;
    return out;
  }

  shutdown(): void {
    for (const entry of this.#entries.values()) entry.breaker.shutdown();
    this.#entries.clear();
  }
}

function samePolicy(a: BreakerPolicy, b: BreakerPolicy): boolean {
  return a.errorThresholdPercentage === b.errorThresholdPercentage && a.volumeThreshold === b.volumeThreshold && a.resetTimeoutMs === b.resetTimeoutMs && a.rollingWindowMs === b.rollingWindowMs;
}
