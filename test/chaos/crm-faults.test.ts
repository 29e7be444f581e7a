import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replayDeadLetters } from '../../runtime/dead-letters.ts';
import { assertNothingLost, reportLine, Scenario } from './harness.ts';

const fastTimeout: Array<[string, string]> = [
  ['{ requests: 100, per: 10s }', '{ requests: 5000, per: 10s }'],
  ['timeout: 10s', 'timeout: 1s'],
  // Timeouts count against the breaker: probe every 2 s instead of 30 s so the test drains quickly.
  ['resetTimeout: 30s', 'resetTimeout: 2s'],
  // The sandbox shares the test process, whose busy moments delay a timed-out request by up to ~2 s.
  ['lateWriteWindow: 100s', 'lateWriteWindow: 4s'],
];

describe('CRM faults', () => {
  it('the CRM hangs: requests are aborted at the timeout and retried; a late write never has the last word; nothing lost', async (t) => {
    const scenario = await Scenario.start({ sandbox: { limits: false }, manifest: fastTimeout });
    scenario.sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, hang: true, times: 40 });
    const started = performance.now();
    await scenario.load({ tasks: 1000, records: 200, perSecond: 400 });
    const report = await scenario.audit(60_000);
    t.diagnostic(reportLine('CRM hangs on 40 requests (timeout 1 s)', report, (performance.now() - started) / 1000));
    assertNothingLost(report);
    assert.equal(report.deadLettered, 0);
    assert.equal(scenario.sandbox.requests().filter((r) => r.fault === 'hang').length, 40);
  });

  it('the CRM answers after the timeout but the write landed: the retry rewrites it, no duplicate object', async (t) => {
    const scenario = await Scenario.start({ sandbox: { limits: false }, manifest: fastTimeout });
    scenario.sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, delayMs: 1500, apply: true, times: 40 });
    const started = performance.now();
    await scenario.load({ tasks: 1000, records: 200, perSecond: 400 });
    const report = await scenario.audit(60_000);
    t.diagnostic(reportLine('CRM slow success on 40 requests (1.5 s, timeout 1 s, write applied)', report, (performance.now() - started) / 1000));
    assertNothingLost(report);
    assert.equal(report.deadLettered, 0);
    assert.equal(report.duplicateObjects, 0, 'the idempotent upsert made no second contact');
  });

  for (const withRetryAfter of [true, false]) {
    it(`the CRM throttles for 12 s ${withRetryAfter ? 'with Retry-After: 1' : 'without Retry-After'}: every instance holds back, one probe at a time, no attempt spent, nothing lost`, async (t) => {
      const scenario = await Scenario.start({ sandbox: { limits: false } });
      scenario.sandbox.injectFault({
        match: { pathPrefix: '/crm/v3/objects/contacts' },
        status: 429,
        ...(withRetryAfter ? { headers: { 'Retry-After': '1' } } : {}),
        body: { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', correlationId: 'c', policyName: 'TEN_SECONDLY_ROLLING' },
        times: Infinity,
      });
      const started = performance.now();
      const load = scenario.load({ tasks: 1000, records: 200, perSecond: 400 });
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      scenario.sandbox.clearFaults();
      await load;
      const report = await scenario.audit(60_000);
      const throttled = scenario.sandbox.stats().byStatus['429'] ?? 0;
      t.diagnostic(reportLine(`CRM 429 for 12 s, ${withRetryAfter ? 'Retry-After: 1' : 'no Retry-After (10 s push back)'}; ${throttled} requests met a 429`, report, (performance.now() - started) / 1000));
      assertNothingLost(report);
      assert.equal(report.deadLettered, 0, '429s spend no attempt');
      // The first wave is in flight before the first 429 returns (2 workers × concurrency 50);
      // after it, the shared push back lets one probe through per hold.
      const holdSeconds = withRetryAfter ? 1 : 10;
      assert.ok(throttled <= 100 + 2 * Math.ceil(12 / holdSeconds) + 2, `${throttled} requests met a 429: the CRM was hammered`);
    });
  }

  it('a poison task crashes its worker process again and again: it ends in the DLQ, nothing is lost, collateral dead letters replay cleanly', async (t) => {
    const scenario = await Scenario.start({
      sandbox: { limits: false },
      connectorEdit: (text) => text.replace('  async upsert(context) {', "  async upsert(context) {\n    if (context.recordId === 'r7') process.exit(1); // chaos: a poison record\n"),
    });
    const supervisor = scenario.supervise();
    const started = performance.now();
    await scenario.load({ tasks: 400, records: 100, perSecond: 200 });
    const report = await scenario.audit(120_000);
    const dead = (await scenario.api.services.store.deadLetters('hubspot', { limit: 500, state: 'dead' })).items;
    t.diagnostic(reportLine(`poison record crashing its worker (${supervisor.restarts()} restarts, ${dead.length - 1} collateral)`, report, (performance.now() - started) / 1000));
    assert.equal(report.lost, 0);
    assert.ok(dead.some((d) => d.recordId === 'r7'), 'the poison record is dead-lettered');
    assert.ok(dead.every((d) => d.error.code === 'RECSYNC_ERR_INTERNAL'), 'only crash-loop dead letters');
    assert.ok(supervisor.restarts() >= 2, `${supervisor.restarts()} restarts`);
    // Records that merely shared a crashing worker with the poison stalled with it; BullMQ gave
    // up on them too. They are in the DLQ with the reason, and a replay delivers them.
    const collateral = dead.filter((d) => d.recordId !== 'r7').map((d) => d.id);
    const replay = await replayDeadLetters(scenario.api.services.store, scenario.api.services.queues, 'hubspot', { ids: collateral });
    assert.equal(replay.replayed, collateral.length);
    const after = await scenario.audit(60_000);
    assert.equal(after.deadLettered, 1, 'after the replay only the poison record is still dead');
    assert.equal(after.lost, 0);
    supervisor.stop();
  });
});
