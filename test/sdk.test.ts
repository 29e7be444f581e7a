import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideRetry } from '../runtime/worker/retry-policy.ts';
import { parseDuration } from '../runtime/duration.ts';
import { outcomeFromStatus, retryAfterMs } from '../runtime/sdk/index.ts';

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-24T10:00:00Z');
  it('reads delay-seconds', () => assert.equal(retryAfterMs('120', now), 120_000));
  it('reads an HTTP-date', () => assert.equal(retryAfterMs('Tue, 24 Nov 2026 10:00:30 GMT', now), 30_000));
  it('never answers a negative wait for a date in the past', () => assert.equal(retryAfterMs('Tue, 24 Nov 2026 09:00:00 GMT', now), 0));
  it('ignores an absent or unreadable value', () => {
    assert.equal(retryAfterMs(undefined, now), undefined);
    assert.equal(retryAfterMs('soon', now), undefined);
  });
});

describe('outcomeFromStatus', () => {
  const response = (status: number, headers: Record<string, string> = {}) => ({ status, headers, body: undefined });
  it('2xx delivered', () => assert.deepEqual(outcomeFromStatus(response(204), 'm', 'id-1'), { kind: 'delivered', crmId: 'id-1' }));
  it('429 rate-limited with Retry-After', () => assert.deepEqual(outcomeFromStatus(response(429, { 'retry-after': '5' }), 'm'), { kind: 'rate-limited', message: 'm', status: 429, afterMs: 5000 }));
  it('503 with Retry-After holds the account back', () => assert.deepEqual(outcomeFromStatus(response(503, { 'retry-after': '2' }), 'm'), { kind: 'rate-limited', message: 'm', status: 503, afterMs: 2000 }));
  it('5xx, 408 and 425 retry', () => {
    for (const status of [500, 502, 503, 504, 408, 425]) assert.equal(outcomeFromStatus(response(status), 'm').kind, 'retry', String(status));
  });
  it('401 asks for a new token; 403 is a fatal auth error', () => {
    assert.deepEqual(outcomeFromStatus(response(401), 'm'), { kind: 'reauthenticate', message: 'm', status: 401 });
    assert.deepEqual(outcomeFromStatus(response(403), 'm'), { kind: 'fatal', code: 'RECSYNC_ERR_CRM_AUTH', message: 'm', status: 403 });
  });
  it('other 4xx are fatal rejections', () => assert.deepEqual(outcomeFromStatus(response(400), 'm'), { kind: 'fatal', code: 'RECSYNC_ERR_CRM_REJECTED', message: 'm', status: 400 }));
});

describe('decideRetry', () => {
  const policy = { attempts: 4, initialMs: 100, maxMs: 1000, jitter: 'none' as const };
  it('doubles the wait per attempt up to the cap', () => {
    assert.deepEqual([1, 2, 3].map((spent) => decideRetry(policy, spent)), [
      { retry: true, waitMs: 100 },
      { retry: true, waitMs: 200 },
      { retry: true, waitMs: 400 },
    ]);
    assert.deepEqual(decideRetry({ ...policy, attempts: 10 }, 6), { retry: true, waitMs: 1000 });
  });
  it('gives up when the attempts are spent', () => assert.deepEqual(decideRetry(policy, 4), { retry: false, reason: 'attempts-exhausted' }));
  it('full jitter stays within [0, cap]', () => {
    const jittered = { ...policy, jitter: 'full' as const };
    assert.deepEqual(decideRetry(jittered, 3, undefined, () => 0), { retry: true, waitMs: 0 });
    assert.deepEqual(decideRetry(jittered, 3, undefined, () => 0.999), { retry: true, waitMs: 400 });
  });
  it("a CRM's Retry-After is a floor", () => assert.deepEqual(decideRetry(policy, 1, 5000), { retry: true, waitMs: 5000 }));
});

describe('parseDuration', () => {
  it('reads every unit', () => assert.deepEqual(['500ms', '10s', '5m', '2h', '1d', '1.5s'].map(parseDuration), [500, 10_000, 300_000, 7_200_000, 86_400_000, 1500]));
  it('refuses a number without a unit, naming the rule', () => assert.throws(() => parseDuration('10'), /with a unit/));
});

describe('retryAfterMs refuses what is neither seconds nor an HTTP-date', () => {
  it('"1.5", "-1" and a bare date are unreadable', () => {
    for (const value of ['1.5', '-1', '2026-11-24']) assert.equal(retryAfterMs(value, 0), undefined, value);
  });
});
