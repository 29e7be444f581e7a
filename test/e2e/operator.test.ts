import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startSandbox } from '../../connectors/hubspot/sandbox.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { copyConnectors } from '../helpers/connectors.ts';
import { pollUntil } from '../helpers/poll.ts';
import { useRedis } from '../helpers/redis.ts';
import { startRuntimeProcess, type RuntimeProcess } from '../helpers/runtime-process.ts';

// Two recsync instances in their own processes on one Redis, as an operator runs them: pause and
// resume reach both (and survive a restart), and a mapping changed on disk under load switches
// both instances with every task sent by exactly one complete version.
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false, requestLogSize: 20_000 });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
// The load below is about switching versions, not about HubSpot's budget of 100 per 10 s.
await connectors.edit('hubspot/manifest.yaml', (text) => text.replace('{ requests: 100, per: 10s }', '{ requests: 5000, per: 10s }'));
const start = () => startRuntimeProcess({ redisUrl: redis.url, connectorsDir: connectors.root, env: sandbox.env, watch: true });
let [a, b] = await Promise.all([start(), start()]);

async function call(instance: RuntimeProcess, method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${instance.url}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

const contact = (recordId: string, version: number) => ({
  connector: 'hubspot', object: 'contact', action: 'upsert', recordId, version,
  payload: { email: `${recordId}@example.com`, firstName: `First${version}`, lastName: `Last${version}` },
});

const settled = () => pollUntil(async () => {
  const counters = (await call(a, 'GET', '/v1/connectors/hubspot')).counters;
  return counters.open === 0 ? counters : undefined;
}, { timeoutMs: 60_000 });

it('pause on one instance holds every instance, survives a restart, and resume on another delivers', async () => {
  await call(a, 'POST', '/v1/connectors/hubspot/pause');
  assert.equal((await call(b, 'GET', '/v1/connectors/hubspot')).state, 'paused', 'the other instance sees the pause');
  const before = sandbox.stats().requests;
  await call(b, 'POST', '/v1/tasks', Array.from({ length: 10 }, (_, i) => contact(`p-${i}`, 1)));
  await pollUntil(async () => ((await call(a, 'GET', '/v1/connectors/hubspot')).queue.waiting === 10 ? true : undefined), { timeoutMs: 5000 });

  await b.stop();
  b = await start();
  const restarted = await call(b, 'GET', '/v1/connectors/hubspot');
  assert.deepEqual([restarted.state, restarted.queue.waiting], ['paused', 10], 'a restarted instance stays paused');
  assert.equal(sandbox.stats().requests, before, 'nothing reached the CRM while paused');

  await call(b, 'POST', '/v1/connectors/hubspot/resume');
  const counters = await settled();
  assert.equal(counters.delivered, 10);
  assert.equal((await call(a, 'GET', '/v1/connectors/hubspot')).state, 'running');
});

it('a mapping changed on disk under load: both instances switch, every task is sent by exactly one complete version; a broken mapping changes nothing but the reported error', async () => {
  const oldVersion = (await call(a, 'GET', '/v1/connectors/hubspot')).version;
  const firstRequest = sandbox.requests().length;
  const records = 250;
  let sent = 0;
  const load = (async () => {
    for (let version = 1; version <= 4; version += 1) {
      for (let offset = 0; offset < records; offset += 50) {
        const batch = Array.from({ length: 50 }, (_, i) => contact(`h-${offset + i}`, version));
        await call(sent % 100 === 0 ? a : b, 'POST', '/v1/tasks', batch);
        sent += batch.length;
      }
    }
  })();
  await pollUntil(() => (sent >= 400 ? true : undefined), { timeoutMs: 20_000 });
  // Both fields change together: a request mixing versions would show one prefixed, one not.
  await connectors.edit('hubspot/mappings/contact.jsonata', (text) => text.replace('"firstname": firstName', '"firstname": "N:" & firstName').replace('"lastname": lastName', '"lastname": "N:" & lastName'));
  const newVersion = await pollUntil(async () => {
    const status = await call(b, 'GET', '/v1/connectors/hubspot');
    const versions = new Set(status.instances.map((i: { version: string }) => i.version));
    return status.instances.length === 2 && versions.size === 1 && !versions.has(oldVersion) ? status.version : undefined;
  }, { timeoutMs: 10_000 });
  await load;
  const counters = await settled();
  assert.equal(counters.deadLettered, 0);

  const bodies = sandbox.requests().slice(firstRequest).filter((r) => r.path.startsWith('/crm/v3/objects/contacts')).flatMap((r) => propertiesIn(r.body));
  assert.ok(bodies.length >= records, `${bodies.length} contact writes`);
  const kinds = bodies.map((p) => [String(p['firstname']).startsWith('N:'), String(p['lastname']).startsWith('N:')]);
  assert.ok(kinds.every(([first, last]) => first === last), 'no write mixes the two mappings');
  assert.ok(kinds.some(([first]) => first) && kinds.some(([first]) => !first), 'writes of both versions: the change happened under load');
  // Both instances run the new version now: the next change of every record goes out by it.
  for (let offset = 0; offset < records; offset += 50) await call(offset % 100 === 0 ? a : b, 'POST', '/v1/tasks', Array.from({ length: 50 }, (_, i) => contact(`h-${offset + i}`, 5)));
  await settled();
  const byEmail = new Map(sandbox.objects('contacts').map((o) => [o.properties['email'], o.properties]));
  for (let i = 0; i < records; i += 1) {
    assert.equal(byEmail.get(`h-${i}@example.com`)?.['lastname'], 'N:Last5', `h-${i} ends on its newest data, by the new mapping`);
  }

  // A broken mapping dropped into the folder: refused on both instances, the good version keeps serving.
  await connectors.edit('hubspot/mappings/contact.jsonata', (text) => `${text}\n  ( broken`);
  await pollUntil(async () => {
    const statuses = await Promise.all([a, b].map((instance) => call(instance, 'GET', '/v1/connectors/hubspot')));
    return statuses.every((s) => s.errors.length > 0) ? statuses : undefined;
  }, { timeoutMs: 10_000 }).then((statuses) => {
    for (const status of statuses) {
      assert.deepEqual([status.state, status.version], ['running', newVersion]);
      assert.match(status.errors[0].file, /contact\.jsonata$/);
    }
  });
  await call(a, 'POST', '/v1/tasks', contact('after-broken', 1));
  await pollUntil(async () => ((await call(a, 'GET', '/v1/records/hubspot/after-broken?object=contact')).deliveredVersion === 1 ? true : undefined), { timeoutMs: 10_000 });
});

/** Every object of a request body that holds contact properties (single or batch shapes). */
function propertiesIn(body: unknown): Array<Record<string, unknown>> {
  if (body === null || typeof body !== 'object') return [];
  if (Array.isArray(body)) return body.flatMap(propertiesIn);
  const record = body as Record<string, unknown>;
  if ('firstname' in record || 'lastname' in record) return [record];
  return Object.values(record).flatMap(propertiesIn);
}
