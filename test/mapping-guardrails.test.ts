import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { copyConnectors } from './helpers/connectors.ts';
import { pollUntil } from './helpers/poll.ts';
import { useRedis } from './helpers/redis.ts';

// A mapping that compiles but recurses forever when it meets certain data: the guardrails stop it,
// the version is dead-lettered naming the file and line, and the worker goes on with the others.
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
await connectors.edit('hubspot/mappings/contact.jsonata', (text) =>
  text.replace('"firstname": firstName,', '"firstname": firstName = "loop"\n    ? ($f := function($x) { $f($x) + 1 }; $f(1))\n    : firstName,'),
);
const recsync = await createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, env: sandbox.env });
onCleanup(() => recsync.close());

it('a mapping that recurses forever is stopped by the guardrails and dead-lettered with its file and line', async () => {
  const tasks = [
    { connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'loop', version: 1, payload: { email: 'loop@example.com', firstName: 'loop' } },
    { connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'fine', version: 1, payload: { email: 'fine@example.com', firstName: 'Fine' } },
  ];
  const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tasks) });
  assert.equal(response.status, 202);
  const letter = await pollUntil(() => recsync.services.store.getDeadLetter('hubspot', 'default|contact|loop|1'), { timeoutMs: 10_000 });
  assert.equal(letter.error.code, 'RECSYNC_ERR_MAPPING_FAILED');
  assert.match(letter.error.message, /mappings\/contact\.jsonata:\d+: JSONata (D1011|D1012|U1001)/);
  await pollUntil(async () => ((await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'fine' }))?.deliveredVersion === 1 ? true : undefined), { timeoutMs: 10_000 });
  assert.equal(sandbox.objects('contacts').some((o) => o.properties['email'] === 'loop@example.com'), false);
});
