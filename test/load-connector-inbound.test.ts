import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { loadConnector } from '../runtime/connectors/load-connector.ts';
import { isRecsyncError } from '../runtime/errors.ts';
import { copyConnectors } from './helpers/connectors.ts';

const env = { HUBSPOT_BASE_URL: 'http://127.0.0.1:9', HUBSPOT_TOKEN: 't' };

it('inbound is off while the secret is empty, and on with the inbound plan compiled when it is set', async () => {
  const { root } = await copyConnectors(['hubspot']);
  assert.equal((await loadConnector(join(root, 'hubspot'), env)).inbound, undefined);
  const on = await loadConnector(join(root, 'hubspot'), { ...env, HUBSPOT_WEBHOOK_SECRET: 's3cret', RECSYNC_INBOUND_SINK_URL: 'http://127.0.0.1:1/in' });
  const plan = on.inbound!.objects.get('contact')!;
  assert.equal(plan.conflict, 'lastWriter');
  assert.equal(plan.mapping.compiled, true);
  assert.ok(plan.properties.includes('recsync_id') && plan.properties.includes('firstname'));
  assert.equal(on.inbound!.sink.timeoutMs, 10_000);
  const mapped = plan.mapping.evaluate({ id: '5', properties: { email: 'a@b.co', firstname: 'Ada', lastname: null, company: '' } }, {});
  assert.deepEqual(JSON.parse(JSON.stringify(mapped)), { email: 'a@b.co', firstName: 'Ada' });
  assert.equal(plan.validateOutput(mapped), true);
});

it('refuses an inbound object the manifest does not declare, naming the field', async () => {
  const connectors = await copyConnectors(['hubspot']);
  await connectors.edit('hubspot/manifest.yaml', (text) => text.replace('  objects:\n    contact:\n      input: schemas/contact.hubspot-read.json', '  objects:\n    person:\n      input: schemas/contact.hubspot-read.json'));
  await assert.rejects(loadConnector(join(connectors.root, 'hubspot'), { ...env, HUBSPOT_WEBHOOK_SECRET: 's' }), (error) => {
    assert.ok(isRecsyncError(error));
    assert.equal(error.details[0]?.field, 'inbound.objects.person');
    return true;
  });
});
