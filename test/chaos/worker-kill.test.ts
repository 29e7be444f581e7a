import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertNothingLost, reportLine, Scenario } from './harness.ts';

it('kill -9 a worker process mid-load, start a new one: nothing lost, duplicates only as idempotent rewrites', async (t) => {
  const scenario = await Scenario.start({ sandbox: { limits: false }, workers: 2 });
  const load = scenario.load({ tasks: 3000, records: 600, perSecond: 600 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const victim = scenario.workers()[0]!;
  const killedAt = performance.now();
  await scenario.kill(victim);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await scenario.startWorker();
  await load;
  const report = await scenario.audit(60_000);
  const recovery = (performance.now() - killedAt) / 1000;
  t.diagnostic(reportLine('kill -9 one of two workers at +2 s, replacement after 1 s', report, recovery));
  // Every acknowledged record's newest version reached the CRM, and no record got two objects.
  assert.equal(report.neverWritten, 0, 'a newest version never reached the CRM');
  assert.equal(report.duplicateObjects, 0);
  assert.equal(report.deadLettered, 0);
  // Known gap (docs/reliability.md): a request in flight from the killed worker can reach the CRM
  // after the replacement delivered a newer version, and no late-write window covers a dead worker
  // yet, so the CRM can end on that older version. Reported, not yet guaranteed.
  t.diagnostic(`records whose last word at the CRM is not their newest version: ${report.orderViolations} (late overwrites ${report.lateOverwrites})`);
});
