import type { RetryPolicy } from '../connectors/load-connector.ts';

export type RetryDecision = { retry: true; waitMs: number } | { retry: false; reason: 'attempts-exhausted' };

/**
 * Decides what happens after a failed attempt: wait and try again, or give up. Exponential backoff
 * capped at `maxMs`; with full jitter the wait is uniform in [0, cap] (AWS's "full jitter"), so a
 * crowd of failed jobs does not come back at the same moment. A CRM's own Retry-After is a floor.
 */
export function decideRetry(policy: Pick<RetryPolicy, 'attempts' | 'initialMs' | 'maxMs' | 'jitter'>, attemptsSpent: number, crmAfterMs?: number, random: () => number = Math.random): RetryDecision {
  if (attemptsSpent >= policy.attempts) return { retry: false, reason: 'attempts-exhausted' };
  const cap = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attemptsSpent - 1));
  const backoff = policy.jitter === 'full' ? Math.round(random() * cap) : cap;
  return { retry: true, waitMs: Math.max(backoff, crmAfterMs ?? 0) };
}
