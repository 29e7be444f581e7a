import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { jobIdOf, owedKey, recordKey } from '../runtime/records/record-store.ts';
import { Sweeper } from '../runtime/worker/sweeper.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { pollUntil } from './helpers/poll.ts';
import { useRedis } from './helpers/redis.ts';

// "Ingest writes the record, then queues its job": a crash between the two must not leave the
// change waiting for the record's next change.
const redis = await useRedis();
const client = await redis.client();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const recsync = await createRecsync({ redisUrl: redis.url, env: sandbox.env });
onCleanup(() => recsync.close());
const { store, queues } = recsync.services;
const sweeper = new Sweeper({ store, queues, connectors: () => ['hubspot'], recoverFailed: async () => {}, graceMs: 0 });
const ref = (recordId: string) => ({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId });
const payload = (recordId: string) => ({ email: `${recordId}@example.com`, firstName: 'Sweep' });
const owed = () => client.zrange(owedKey('rs', 'hubspot'), 0, -1);

it('a record owes a job from ingest until its job closes (the owed set)', async () => {
  const accepted = await recsync.server!.inject({ method: 'POST', url: '/v1/tasks', payload: { connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'o-1', version: 1, payload: payload('o-1') } });
  assert.equal(accepted.statusCode, 202);
  await pollUntil(async () => ((await store.status(ref('o-1')))?.deliveredVersion === 1 ? true : undefined), { timeoutMs: 10_000 });
  assert.ok(!(await owed()).includes(recordKey('rs', ref('o-1'))), 'a delivered record owes nothing');
});

it('a record whose job was never queued is found by the sweeper and delivered; a healthy job is left alone', async () => {
  // The crash: the record state is written, the job never queued.
  const written = await store.ingest(ref('lost-1'), { version: 1, action: 'upsert', payload: payload('lost-1') });
  assert.ok(written.seq > 0);
  assert.ok((await owed()).includes(recordKey('rs', ref('lost-1'))));
  assert.equal(await queues.jobState('hubspot', jobIdOf(ref('lost-1'), written.seq)), 'missing');

  const repaired = await sweeper.sweep();
  assert.equal(repaired.requeued, 1);
  await pollUntil(async () => ((await store.status(ref('lost-1')))?.deliveredVersion === 1 ? true : undefined), { timeoutMs: 10_000 });
  assert.equal(sandbox.objects('contacts').filter((o) => o.properties['email'] === 'lost-1@example.com').length, 1);

  // Paused, a queued job waits: it is owed and present, and the sweeper queues nothing twice.
  await queues.pause('hubspot');
  onCleanup(() => queues.resume('hubspot'));
  const accepted = await recsync.server!.inject({ method: 'POST', url: '/v1/tasks', payload: { connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'fine-1', version: 1, payload: payload('fine-1') } });
  assert.equal(accepted.statusCode, 202);
  assert.deepEqual(await sweeper.sweep(), { requeued: 0, recovered: 0 });
  await queues.resume('hubspot');
});
