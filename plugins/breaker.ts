import { BreakerRegistry, CountedFailure } from '../runtime/breakers.ts';
import type { Outcome, StagePlugin } from '../runtime/pipeline.ts';

/**
 * The circuit breaker per (connector, account). Transient failures count against it; rejections,
 * throttling and successes do not. While it is open, the job waits until the half-open probe
 * without spending an attempt.
 */
export function breaker(breakers: BreakerRegistry): StagePlugin {
  return {
    name: 'breaker',
    stage: (next) => async (context) => {
      const entry = breakers.get(`${context.connector.name}:${context.tenant}`, context.connector.breaker);
      try {
        return (await entry.breaker.fire(async () => {
          const outcome = await next(context);
          if (outcome.kind === 'retry') throw new CountedFailure(outcome);
          return outcome;
        })) as Outcome;
      } catch (error) {
        if (error instanceof CountedFailure) return error.outcome as Outcome;
        if ((error as { code?: string }).code === 'EOPENBREAKER') return { kind: 'wait', ms: breakers.waitMs(entry), reason: 'breaker' };
        throw error;
      }
    },
  };
}
