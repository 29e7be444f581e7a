import type { ConnectorVersion } from '../runtime/connectors/load-connector.ts';
import type { RateLimiter } from '../runtime/limiter/rate-limiter.ts';
import type { StagePlugin } from '../runtime/pipeline.ts';

/**
 * The CRM counts requests when they arrive; we decide when we send. Scheduling and network jitter
 * between the two can squeeze requests decided a window apart into one window at the CRM, so each
 * window is enforced slightly longer than declared: by 5 % of it, at most 250 ms.
 */
export function withSafetyMargin(windows: ReadonlyArray<{ requests: number; perMs: number }>): Array<{ requests: number; perMs: number }> {
  return windows.map((window) => ({ requests: window.requests, perMs: window.perMs + Math.min(250, Math.round(window.perMs * 0.05)) }));
}

/** How long an account is held back after a 429 that did not say how long. */
export const defaultThrottleMs = 10_000;

/**
 * The distributed rate budget per (connector, account). No budget: the job waits exactly until its
 * reserved slot, spending no attempt. A CRM that throttles anyway pushes the budget back for every
 * instance, and the job waits that long; after the hold one request goes alone as a probe, and
 * only its unthrottled answer lets the rest through.
 */
export function limit(limiterOf: (connector: ConnectorVersion) => RateLimiter | undefined): StagePlugin {
  return {
    name: 'limit',
    stage: (next) => async (context) => {
      const limiter = limiterOf(context.connector);
      const account = `${context.connector.name}:${context.tenant}`;
      let probe: number | undefined;
      if (limiter) {
        const slot = await limiter.acquire(account, context.holder);
        if (!slot.ok) return { kind: 'wait', ms: slot.waitMs, reason: 'rate-limit' };
        probe = slot.probe;
      }
      const outcome = await next(context);
      if (outcome.kind !== 'rate-limited') {
        if (probe !== undefined) await limiter!.clear(account, probe);
        return outcome;
      }
      const ms = outcome.afterMs ?? defaultThrottleMs;
      await limiter?.pushBack(account, ms);
      return { kind: 'wait', ms, reason: 'crm-throttle' };
    },
  };
}
