import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConnector } from '../runtime/connectors/load-connector.ts';
import { ConnectorRegistry } from '../runtime/connectors/registry.ts';
import { isRecsyncError, type RecsyncError } from '../runtime/errors.ts';
import { copyConnectors, repoConnectors } from './helpers/connectors.ts';

const env = { HUBSPOT_BASE_URL: 'http://127.0.0.1:1', HUBSPOT_TOKEN: 'secret-token' };

async function loadError(dir: string, withEnv: Record<string, string> = env): Promise<RecsyncError> {
  try {
    await loadConnector(dir, withEnv);
  } catch (error) {
    assert.ok(isRecsyncError(error), `expected a RecsyncError, got ${String(error)}`);
    assert.equal(error.code, 'RECSYNC_ERR_CONFIG_INVALID');
    return error;
  }
  assert.fail('the connector loaded, but it should not have');
}

describe('loading a connector', () => {
  it('loads the HubSpot connector with its objects compiled and durations in ms', async () => {
    const hubspot = await loadConnector(join(repoConnectors, 'hubspot'), env);
    assert.equal(hubspot.name, 'hubspot');
    assert.match(hubspot.version, /^[0-9a-f]{12}$/);
    assert.deepEqual([...hubspot.objects.keys()], ['contact', 'company']);
    assert.deepEqual(hubspot.limits, [{ requests: 100, perMs: 10_000 }, { requests: 250_000, perMs: 86_400_000 }]);
    assert.equal(hubspot.timeoutMs, 10_000);
    assert.equal(hubspot.retry.initialMs, 500);
    assert.equal(hubspot.retry.maxMs, 300_000);
    assert.equal(hubspot.baseUrl, 'http://127.0.0.1:1');
    assert.deepEqual(hubspot.auth, { type: 'bearer', token: 'secret-token' });
    const contact = hubspot.objects.get('contact')!;
    assert.equal(contact.validateInput({ email: 'a@b.co', firstName: 'A' }), true);
    assert.equal(contact.validateInput({ email: 42 }), false);
    const mapped = (await contact.mapping.evaluate({ email: ' Ada@Example.com ', firstName: 'Ada', address: { country: 'gb' } }, { recordId: 'r-1' })) as Record<string, unknown>;
    assert.equal(contact.mapping.compiled, true, 'the shipped mapping runs compiled');
    assert.deepEqual({ ...mapped }, { email: 'ada@example.com', firstname: 'Ada', country: 'GB', recsync_id: 'r-1' });
    assert.equal(contact.validateOutput(mapped), true);
  });

  it('gives the same version for the same files, and a new one when a mapping changes', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    const first = await loadConnector(join(root, 'hubspot'), env);
    const again = await loadConnector(join(root, 'hubspot'), env);
    assert.equal(again.version, first.version);
    await edit('hubspot/mappings/contact.jsonata', (text) => text.replace('"firstname": firstName', '"firstname": $uppercase(firstName)'));
    const changed = await loadConnector(join(root, 'hubspot'), env);
    assert.notEqual(changed.version, first.version);
  });

  it('names the file and line of a YAML syntax error', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/manifest.yaml', (text) => text.replace('concurrency: 50', 'concurrency: [50'));
    const error = await loadError(join(root, 'hubspot'));
    assert.match(error.details[0]!.file!, /manifest\.yaml$/);
    assert.equal(typeof error.details[0]!.line, 'number');
  });

  it('names the field and line of a schema violation', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/manifest.yaml', (text) => text.replace('concurrency: 50', 'concurrency: many'));
    const error = await loadError(join(root, 'hubspot'));
    const detail = error.details.find((d) => d.field === 'concurrency');
    assert.ok(detail, JSON.stringify(error.details));
    assert.equal(detail.line, 13);
    assert.match(detail.message, /integer/);
  });

  it('refuses a duration without a unit, naming the field', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/manifest.yaml', (text) => text.replace('timeout: 10s', 'timeout: 10'));
    const error = await loadError(join(root, 'hubspot'));
    assert.ok(error.details.some((d) => d.field === 'timeout'), JSON.stringify(error.details));
  });

  it('names a missing environment variable and where it is used', async () => {
    const error = await loadError(join(repoConnectors, 'hubspot'), { HUBSPOT_BASE_URL: 'http://127.0.0.1:1' });
    const detail = error.details.find((d) => d.message.includes('HUBSPOT_TOKEN'));
    assert.ok(detail, JSON.stringify(error.details));
    assert.equal(detail.field, 'auth.token');
    assert.equal(detail.line, 11);
  });

  it('names a referenced file that does not exist', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/manifest.yaml', (text) => text.replace('mappings/company.jsonata', 'mappings/missing.jsonata'));
    const error = await loadError(join(root, 'hubspot'));
    assert.match(error.message, /missing\.jsonata: file not found/);
    assert.ok(error.details[0]!.line! > 0);
  });

  it('names the line and column of a JSONata syntax error', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/mappings/contact.jsonata', (text) => text.replace('"lastname": lastName,', '"lastname": lastName +,'));
    const error = await loadError(join(root, 'hubspot'));
    assert.match(error.details[0]!.file!, /contact\.jsonata$/);
    assert.equal(error.details[0]!.line, 5);
    assert.match(error.details[0]!.message, /JSONata S0\d+/);
  });

  it('names a JSON Schema that is not valid JSON, and one that is not a valid schema', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/schemas/company.internal.json', (text) => text.replace('"type": "object",', '"type": "object"'));
    const broken = await loadError(join(root, 'hubspot'));
    assert.match(broken.details[0]!.file!, /company\.internal\.json$/);
    assert.match(broken.details[0]!.message, /invalid JSON/);
    assert.equal(typeof broken.details[0]!.line, 'number');

    const second = await copyConnectors(['hubspot']);
    await second.edit('hubspot/schemas/company.internal.json', (text) => text.replace('"type": "object",', '"type": "thing",'));
    const invalid = await loadError(join(second.root, 'hubspot'));
    assert.match(invalid.details[0]!.message, /invalid JSON Schema/);
  });

  it('refuses a YAML alias bomb instead of expanding it', async () => {
    const { root } = await copyConnectors(['hubspot']);
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i += 1) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    await writeFile(join(root, 'hubspot', 'manifest.yaml'), `${bomb.join('\n')}\nname: hubspot\n`);
    const error = await loadError(join(root, 'hubspot'));
    assert.match(error.message, /alias/i);
  });

  it('requires the manifest name to equal its folder', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/manifest.yaml', (text) => text.replace('name: hubspot', 'name: hubspot2'));
    const error = await loadError(join(root, 'hubspot'));
    assert.equal(error.details[0]!.field, 'name');
  });

  it('requires the connector module to export upsert and delete', async () => {
    const { root } = await copyConnectors(['hubspot']);
    await writeFile(join(root, 'hubspot', 'connector.ts'), 'export default { upsert() {} };\n');
    const error = await loadError(join(root, 'hubspot'));
    assert.match(error.message, /defineConnector/);
  });
});

describe('the connector registry', () => {
  it('reports a broken connector and still loads the others', async () => {
    const { root } = await copyConnectors(['hubspot']);
    await mkdir(join(root, 'broken'));
    await writeFile(join(root, 'broken', 'manifest.yaml'), 'name: broken\nconnector: ./connector.ts\n');
    const registry = await ConnectorRegistry.load(root, env);
    assert.ok(registry.get('hubspot'));
    assert.equal(registry.get('broken'), undefined);
    const broken = registry.slot('broken')!;
    assert.ok(broken.errors.some((e) => e.field === 'baseUrl' && e.message === 'is required'), JSON.stringify(broken.errors));
  });

  it('keeps the good version in service when a reload fails', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    const registry = await ConnectorRegistry.load(root, env);
    const good = registry.get('hubspot')!;
    await edit('hubspot/mappings/contact.jsonata', (text) => text.replace('"firstname": firstName,', '"firstname": firstName ((,'));
    const result = await registry.reload('hubspot');
    assert.equal(result.ok, false);
    assert.equal(registry.get('hubspot'), good);
    assert.ok(registry.slot('hubspot')!.errors.length > 0);
  });
});

describe('manifest values the schema alone cannot judge', () => {
  it('refuses a zero duration and a repeated limit window, naming the field', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/manifest.yaml', (text) => text.replace('timeout: 10s', 'timeout: 0s'));
    assert.equal((await loadError(join(root, 'hubspot'))).details[0]!.field, 'timeout');
    const second = await copyConnectors(['hubspot']);
    await second.edit('hubspot/manifest.yaml', (text) => text.replace('{ requests: 250000, per: 1d }', '{ requests: 100, per: 10s }'));
    const repeated = await loadError(join(second.root, 'hubspot'));
    assert.equal(repeated.details[0]!.field, 'limits.1');
  });

  it('two objects may share one schema file', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/manifest.yaml', (text) => text.replace('input: schemas/company.internal.json', 'input: schemas/contact.internal.json').replace('mapping: mappings/company.jsonata', 'mapping: mappings/contact.jsonata').replace('output: schemas/company.hubspot.json', 'output: schemas/contact.hubspot.json'));
    const loaded = await loadConnector(join(root, 'hubspot'), env);
    assert.equal(loaded.objects.get('company')!.validateInput, loaded.objects.get('contact')!.validateInput);
  });
});
