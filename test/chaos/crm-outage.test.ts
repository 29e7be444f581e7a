import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertNothingLost, reportLine, Scenario } from './harness.ts';

const limit = 500;

it('the CRM answers 503 for two minutes under load, then recovers: no dead letters, all delivered in per-record order, drained at the limit without a herd', async (t) => {
  const scenario = await Scenario.start({
    sandbox: { limits: { perTenSeconds: limit, daily: 10_000_000 } },
    manifest: [
      ['{ requests: 100, per: 10s }', `{ requests: ${limit}, per: 10s }`],
      ['resetTimeout: 30s', 'resetTimeout: 5s'],
    ],
  });
  const load = scenario.load({ tasks: 4000, records: 1000, perSecond: 100 });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  scenario.sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 503, times: Infinity });
  await new Promise((resolve) => setTimeout(resolve, 120_000));
  scenario.sandbox.clearFaults();
  const recoveredAt = performance.now();
  await load;
  const report = await scenario.audit(120_000);
  const drainSeconds = (performance.now() - recoveredAt) / 1000;
  t.diagnostic(reportLine('CRM 503 for 120 s under 100 tasks/s, then healthy', report, drainSeconds));
  assertNothingLost(report);
  assert.equal(report.lateOverwrites, 0, 'no timeouts here, so no version ever overwrote a newer one');
  assert.equal(report.deadLettered, 0, 'an outage is not a failure');
  assert.ok(report.maxInTenSeconds <= limit, `${report.maxInTenSeconds} requests in 10 s after recovery`);
  assert.equal(scenario.sandbox.stats().throttled, 0, 'no thundering herd: the CRM never had to throttle');
  const failed = scenario.sandbox.stats().byStatus['503'] ?? 0;
  t.diagnostic(`requests that met the outage: ${failed} (breaker probes and the failures that opened it)`);
});
