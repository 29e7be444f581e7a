import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startSandbox as startDynamics } from '../../connectors/dynamics/sandbox.ts';
import { startSandbox as startHubSpot } from '../../connectors/hubspot/sandbox.ts';
import { startSandbox as startSalesforce } from '../../connectors/salesforce/sandbox.ts';
import { createRecsync } from '../../runtime/app.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { pollUntil } from '../helpers/poll.ts';
import { useRedis } from '../helpers/redis.ts';

// Every connector under connectors/, end to end through the runtime against its own sandbox,
// including an expired OAuth2 session/token replaced by the runtime on the CRM's 401.
const redis = await useRedis();
const [hubspot, salesforce, dynamics] = await Promise.all([startHubSpot({ limits: false }), startSalesforce(), startDynamics()]);
onCleanup(() => Promise.all([hubspot.close(), salesforce.close(), dynamics.close()]));
const recsync = await createRecsync({ redisUrl: redis.url, env: { ...hubspot.env, ...salesforce.env, ...dynamics.env } });
onCleanup(() => recsync.close());

const contact = (connector: string, recordId: string, version: number, lastName: string) => ({
  connector,
  object: 'contact',
  action: 'upsert',
  recordId,
  version,
  payload: { email: `${recordId}@example.com`, firstName: 'Ada', lastName },
});

async function deliver(tasks: unknown[]): Promise<void> {
  const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tasks) });
  assert.equal(response.status, 202, await response.text());
  await pollUntil(
    async () => {
      const c = await Promise.all(['hubspot', 'salesforce', 'dynamics'].map((name) => recsync.services.store.counters(name)));
      return c.every((x) => x.open === 0) ? true : undefined;
    },
    { timeoutMs: 20_000 },
  );
}

it('loads all three connectors', () => {
  assert.deepEqual(recsync.services.registry.slots().map((s) => [s.name, s.current !== undefined, s.errors]), [
    ['dynamics', true, []],
    ['hubspot', true, []],
    ['salesforce', true, []],
  ]);
});

it('delivers creates and updates to HubSpot, Salesforce and Dynamics, one CRM object per record', async () => {
  await deliver(['hubspot', 'salesforce', 'dynamics'].map((name) => contact(name, `${name}-1`, 1, 'Lovelace')));
  await deliver(['hubspot', 'salesforce', 'dynamics'].map((name) => contact(name, `${name}-1`, 2, 'King')));
  assert.deepEqual(hubspot.objects('contacts').map((o) => o.properties['lastname']), ['King']);
  assert.deepEqual(salesforce.objects('Contact').map((o) => o.fields['LastName']), ['King']);
  assert.deepEqual(dynamics.objects('contacts').map((o) => o.attributes['lastname']), ['King']);
  for (const name of ['hubspot', 'salesforce', 'dynamics']) {
    const status = await recsync.services.store.status({ connector: name, tenant: 'default', object: 'contact', recordId: `${name}-1` });
    assert.equal(status?.deliveredVersion, 2, name);
    assert.ok(status?.crmId, `${name} stored a CRM id`);
  }
});

it('an expired Salesforce session and Dynamics token are replaced on the 401, and the change is delivered', async () => {
  salesforce.expireSessions();
  dynamics.expireTokens();
  await deliver([contact('salesforce', 'salesforce-1', 3, 'Byron'), contact('dynamics', 'dynamics-1', 3, 'Byron')]);
  assert.deepEqual(salesforce.objects('Contact').map((o) => o.fields['LastName']), ['Byron']);
  assert.deepEqual(dynamics.objects('contacts').map((o) => o.attributes['lastname']), ['Byron']);
  const counters = await Promise.all(['salesforce', 'dynamics'].map((name) => recsync.services.store.counters(name)));
  assert.ok(counters.every((c) => c.deadLettered === 0));
});
