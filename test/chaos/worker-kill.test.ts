import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertNothingLost, reportLine, Scenario } from './harness.ts';

it('kill -9 a worker process mid-load, start a new one: nothing lost, the newest version has the last word, duplicates only as idempotent rewrites', async (t) => {
  const scenario = await Scenario.start({
    sandbox: { limits: false },
    workers: 2,
    // A request the killed worker left on the wire may land late; the replacement keeps each record
    // it finds stalled unsettled for this window and then sends the newest version again.
    manifest: [
      ['{ requests: 100, per: 10s }', '{ requests: 5000, per: 10s }'],
      ['lateWriteWindow: 100s', 'lateWriteWindow: 4s'],
    ],
  });
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
  assertNothingLost(report);
  assert.equal(report.duplicateObjects, 0);
  assert.equal(report.deadLettered, 0);
});
