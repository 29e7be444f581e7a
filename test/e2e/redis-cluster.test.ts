import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startSandbox } from '../../connectors/hubspot/sandbox.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { copyConnectors } from '../helpers/connectors.ts';
import { pollUntil } from '../helpers/poll.ts';
import { useRedisCluster } from '../helpers/redis-cluster.ts';
import { startRuntimeProcess } from '../helpers/runtime-process.ts';

// recsync on a real 3-node Redis Cluster: two instances (API and workers each) deliver to the
// HubSpot sandbox with its real rate limit on. Every key carries a hash tag, so a connector's
// record state, queue and scripts share one slot while other connectors and rate-limit accounts
// spread over the nodes.
const cluster = await useRedisCluster(3);
const sandbox = await startSandbox({});
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
const start = () => startRuntimeProcess({ redisUrl: cluster.url, connectorsDir: connectors.root, env: sandbox.env });
const [a, b] = await Promise.all([start(), start()]);

async function call(url: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${url}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return response.json();
}

it('delivers on a 3-node Redis Cluster with two instances: nothing lost, newest version last, the CRM rate limit never exceeded', async () => {
  // More writes than HubSpot's 100 per 10 s: the second window is needed, and the limit is tested.
  const records = 120;
  const contact = (i: number, version: number) => ({ connector: 'hubspot', object: 'contact', action: 'upsert', recordId: `k-${i}`, version, payload: { email: `k-${i}@example.com`, firstName: `F${version}`, lastName: `L${version}` } });
  for (const version of [1, 2]) {
    await call(version === 1 ? a.url : b.url, 'POST', '/v1/tasks', Array.from({ length: records }, (_, i) => contact(i, version)));
  }
  const counters = await pollUntil(async () => {
    const status = await call(a.url, 'GET', '/v1/connectors/hubspot');
    return status.counters.open === 0 ? status.counters : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200 });
  assert.equal(counters.accepted, 2 * records);
  assert.equal(counters.deadLettered, 0);
  assert.equal(counters.delivered + counters.superseded, 2 * records);

  const byEmail = new Map(sandbox.objects('contacts').map((o) => [o.properties['email'], o.properties]));
  assert.equal(byEmail.size, records, 'one contact per record');
  for (let i = 0; i < records; i += 1) assert.equal(byEmail.get(`k-${i}@example.com`)?.['lastname'], 'L2', `k-${i}: the newest version has the last word`);
  assert.ok(sandbox.stats().requests > 100, `${sandbox.stats().requests} CRM requests: more than one window's budget`);
  assert.equal(sandbox.stats().byStatus['429'] ?? 0, 0, 'the shared rate budget kept both instances under HubSpot\'s limit');

  // The keys really are spread: more than one node holds recsync's keys, each connector's keys in one slot.
  const perNode = await Promise.all(cluster.clients.map((client) => client.dbsize()));
  assert.ok(perNode.filter((n) => n > 0).length >= 2, `keys per node: ${perNode.join(', ')}`);
  const slotOf = (key: string) => cluster.clients[0]!.call('CLUSTER', 'KEYSLOT', key) as Promise<number>;
  assert.equal(await slotOf('rs:{hubspot}:counters'), await slotOf('rs:q:{hubspot}:wait'), 'record state and queue of a connector share a slot');
  const status = await call(b.url, 'GET', '/v1/connectors/hubspot');
  assert.equal(status.instances.length, 2);
});
