import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { SandboxObject, SandboxStats } from '../../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../../runtime/app.ts';
import { copyConnectors } from '../helpers/connectors.ts';
import { pollUntil, seededRandom } from '../helpers/poll.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { useRedis } from '../helpers/redis.ts';
import { startSandboxProcess } from '../helpers/sandbox-process.ts';

// The walking skeleton end to end: HTTP ingest → Redis record state → BullMQ → pipeline →
// HubSpot sandbox, with the sandbox enforcing the same 10-second limit the manifest declares.
const limitPerTenSeconds = 200;
// Tasks arrive over ~6 s (a batch of 50 every 150 ms), so records change while earlier versions
// are in flight and the CRM limit, not coalescing alone, decides the pace.
const batchEveryMs = 150;
const records = 300;
const totalTasks = 2000;

const redis = await useRedis({ appendOnly: true });
// The CRM runs in its own process, as a real one would: the times it counts are its own.
const sandbox = await startSandboxProcess(new URL('../../connectors/hubspot/sandbox.ts', import.meta.url).pathname, ['--per-ten-seconds', String(limitPerTenSeconds), '--daily', '1000000']);
const connectors = await copyConnectors(['hubspot']);
await connectors.edit('hubspot/manifest.yaml', (text) =>
  text.replace('{ requests: 100, per: 10s }', `{ requests: ${limitPerTenSeconds}, per: 10s }`).replace('{ requests: 250000, per: 1d }', '{ requests: 1000000, per: 1d }'),
);
const recsync = await createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, env: sandbox.env });
onCleanup(() => recsync.close());

interface Task {
  connector: 'hubspot';
  object: 'contact';
  action: 'upsert' | 'delete';
  recordId: string;
  version: number;
  payload?: Record<string, string>;
}

/** 300 records, each with several versions (some ending in a delete), interleaved, some out of order, some sent twice. */
function workload(): { stream: Task[]; newest: Map<string, Task> } {
  const random = seededRandom(20261124);
  const perRecord: Task[][] = [];
  for (let i = 0; i < records; i += 1) {
    const recordId = `e2e-${i}`;
    const versions = 3 + Math.floor(random() * 7);
    const tasks: Task[] = [];
    for (let version = 1; version <= versions; version += 1) {
      const deleting = version === versions && i % 10 === 3;
      tasks.push(
        deleting
          ? { connector: 'hubspot', object: 'contact', action: 'delete', recordId, version }
          : { connector: 'hubspot', object: 'contact', action: 'upsert', recordId, version, payload: { email: `person${i}@example.com`, firstName: `v${version}`, lastName: `L${i}` } },
      );
    }
    perRecord.push(tasks);
  }
  const newest = new Map(perRecord.map((tasks) => [tasks[0]!.recordId, tasks[tasks.length - 1]!]));
  const stream: Task[] = [];
  const cursors = perRecord.map(() => 0);
  let left = perRecord.reduce((n, tasks) => n + tasks.length, 0);
  while (left > 0) {
    const i = Math.floor(random() * records);
    if (cursors[i]! < perRecord[i]!.length) {
      stream.push(perRecord[i]![cursors[i]!]!);
      cursors[i]! += 1;
      left -= 1;
    }
  }
  // Out of order: a newer version overtakes an older one of the same record.
  for (let n = 0; n < 60; n += 1) {
    const a = Math.floor(random() * (stream.length - 1));
    const b = stream.findIndex((task, index) => index > a && task.recordId === stream[a]!.recordId);
    if (b > 0) [stream[a], stream[b]] = [stream[b]!, stream[a]!];
  }
  // Sent twice: a producer retrying after a timeout.
  while (stream.length < totalTasks) {
    const copy = stream[Math.floor(random() * stream.length)]!;
    stream.splice(Math.floor(random() * stream.length), 0, copy);
  }
  return { stream: stream.slice(0, totalTasks), newest };
}

it('delivers 2,000 tasks over 300 records: newest versions only, deletes archived, no duplicates, the limit kept, every task accounted for', async (t) => {
  const { stream, newest } = workload();
  assert.equal(stream.length, totalTasks);
  // Versions that never reached the stream (cut by the slice) cannot be expected.
  for (const [recordId, task] of newest) {
    const sent = stream.filter((s) => s.recordId === recordId);
    newest.set(recordId, sent.reduce((a, b) => (b.version > a.version ? b : a)));
  }

  const started = performance.now();
  const batches: Task[][] = [];
  for (let i = 0; i < stream.length; i += 50) batches.push(stream.slice(i, i + 50));
  const sends: Promise<void>[] = [];
  for (const batch of batches) {
    sends.push(
      (async () => {
        const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
        assert.equal(response.status, 202, await response.text());
      })(),
    );
    await new Promise((resolve) => setTimeout(resolve, batchEveryMs));
  }
  await Promise.all(sends);
  const ingested = performance.now();

  const counters = await pollUntil(
    async () => {
      const c = await recsync.services.store.counters('hubspot');
      return c.accepted === totalTasks && c.open === 0 ? c : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 100, describe: async () => JSON.stringify(await recsync.services.store.counters('hubspot')) },
  );
  const drained = performance.now();

  // Every task accounted for, by arithmetic.
  assert.equal(counters.deadLettered, 0);
  assert.equal(counters.accepted, counters.delivered + counters.superseded);

  // The sandbox's own state: newest versions, deletes archived, no duplicates.
  const all = await sandbox.control<SandboxObject[]>('/objects/contacts?archived=true'); // live and archived
  const byRecord = new Map<string, typeof all>();
  for (const object of all) {
    const key = object.properties['recsync_id']!;
    byRecord.set(key, [...(byRecord.get(key) ?? []), object]);
  }
  for (const [key, objects] of byRecord) assert.equal(objects.length, 1, `record ${key} has ${objects.length} contacts`);
  const emails = all.map((o) => o.properties['email']);
  assert.equal(new Set(emails).size, emails.length, 'no two contacts share an email');
  for (const [recordId, task] of newest) {
    const object = byRecord.get(recordId)?.[0];
    const status = await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId });
    assert.equal(status?.deliveredVersion, task.version, `record ${recordId}: delivered version`);
    if (task.action === 'delete') {
      assert.ok(object === undefined || object.archived, `record ${recordId} should be deleted`);
      assert.equal(status?.crmId, null);
    } else {
      assert.ok(object && !object.archived, `record ${recordId} should exist`);
      assert.equal(object.properties['firstname'], `v${task.version}`, `record ${recordId} holds its newest version`);
      assert.equal(status?.crmId, object.id);
    }
  }

  // The CRM never saw more than the manifest allows per 10 s, and never had to say so.
  const stats = await sandbox.control<SandboxStats>('/stats');
  assert.ok(stats.maxInTenSecondWindow <= limitPerTenSeconds, `max ${stats.maxInTenSecondWindow} requests in 10 s`);
  assert.equal(stats.throttled, 0);

  const seconds = (drained - started) / 1000;
  t.diagnostic(
    `2,000 tasks over 300 records: ingested in ${((ingested - started) / 1000).toFixed(2)} s, drained in ${seconds.toFixed(2)} s ` +
      `(${Math.round(totalTasks / seconds)} tasks/s under a ${limitPerTenSeconds}/10 s CRM limit); CRM requests ${stats.requests}, ` +
      `max in any 10 s ${stats.maxInTenSecondWindow}; delivered ${counters.delivered}, superseded (coalesced, stale or repeated) ${counters.superseded}`,
  );
});
