import assert from 'node:assert/strict';
import { once } from 'node:events';
import { it } from 'node:test';
import { assertNothingLost, reportLine, Scenario } from './harness.ts';

it('a rolling restart (SIGTERM each worker in turn under load) finishes in-flight work: nothing lost, nothing sent twice', async (t) => {
  const scenario = await Scenario.start({ sandbox: { limits: false, latencyMs: 20 }, workers: 2 });
  const started = performance.now();
  const load = scenario.load({ tasks: 3000, records: 600, perSecond: 500 });
  for (const delay of [1500, 1500]) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    const [oldest] = scenario.workers();
    const exited = once(oldest!, 'exit');
    oldest!.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, 'the worker stopped cleanly within its grace period');
    await scenario.startWorker();
  }
  await load;
  const report = await scenario.audit(60_000);
  t.diagnostic(reportLine('rolling restart of both workers (SIGTERM) under 500 tasks/s', report, (performance.now() - started) / 1000));
  assertNothingLost(report);
  assert.equal(report.deadLettered, 0);
  assert.equal(report.duplicateWrites, 0, 'a graceful stop finishes its jobs: none is run twice');
});
