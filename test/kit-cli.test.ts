import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { copyConnectors } from './helpers/connectors.ts';
import { kit } from './helpers/kit.ts';

describe('kit validate', () => {
  it('passes every shipped connector and says how each mapping runs', async () => {
    const { code, out } = await kit('validate');
    assert.equal(code, 0, out);
    for (const name of ['dynamics', 'hubspot', 'salesforce']) assert.match(out, new RegExp(`^✓ ${name} \\(version [0-9a-f]{12}\\)$`, 'm'));
    assert.match(out, /^ {4}contact: schemas\/contact\.internal\.json → mappings\/contact\.jsonata \[compiled\] → schemas\/contact\.hubspot\.json; \d+ fixtures$/m);
    assert.doesNotMatch(out, /warning/);
  });

  it('names file, line and field of a manifest error, exactly as the runtime loader does', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/manifest.yaml', (text) => text.replace('concurrency: 50', 'concurrency: many'));
    const { code, out } = await kit('validate', join(root, 'hubspot'));
    assert.equal(code, 1, out);
    assert.match(out, /^✗ .*hubspot: 1 error$/m);
    assert.match(out, /manifest\.yaml:13 concurrency: must be integer$/m);
  });

  it('names the line and column of a mapping that does not compile, and a folder whose name is not the manifest name', async () => {
    const { root, edit } = await copyConnectors(['salesforce', 'dynamics']);
    await edit('salesforce/mappings/account.jsonata', (text) => text.replace('"Name": name,', '"Name": name +,'));
    await edit('dynamics/manifest.yaml', (text) => text.replace('name: dynamics', 'name: dataverse'));
    const { code, out } = await kit('validate', join(root, 'salesforce'), join(root, 'dynamics'));
    assert.equal(code, 1, out);
    assert.match(out, /mappings\/account\.jsonata:4: JSONata S0211: The symbol "," cannot be used as a unary operator \(column 17\)$/m);
    assert.match(out, /dynamics\/manifest\.yaml:\d+ name: must equal the folder name "dynamics"$/m);
  });

  it('refuses a connector that imports the runtime beyond the SDK, naming the import line', async () => {
    const { root, edit } = await copyConnectors(['dynamics']);
    await edit('dynamics/connector.ts', (text) => `import { parseDuration } from '../../runtime/duration.ts';\nvoid parseDuration;\n${text}`);
    const { code, out } = await kit('validate', join(root, 'dynamics'));
    assert.equal(code, 1, out);
    assert.match(out, /dynamics\/connector\.ts:1: connector code imports "\.\.\/\.\.\/runtime\/duration\.ts"; it may import only/);
  });

  it('refuses a fixture that does not match the fixture schema, and a fixture folder of an unknown object', async () => {
    const { root } = await copyConnectors(['dynamics']);
    await writeFile(join(root, 'dynamics/fixtures/contact/99-bad.yaml'), 'input: {}\nexpect:\n  record: 3\n');
    await mkdir(join(root, 'dynamics/fixtures/lead'));
    const { code, out } = await kit('validate', join(root, 'dynamics'));
    assert.equal(code, 1, out);
    assert.match(out, /99-bad\.yaml:3 expect\.record: must be object,null$/m);
    assert.match(out, /fixtures\/lead: no object "lead" in the manifest \(objects: contact\)$/m);
  });
});

describe('kit test', () => {
  it('runs every shipped fixture through validate-input → transform → validate-output', async () => {
    const { code, out } = await kit('test');
    assert.equal(code, 0, out);
    for (const object of ['dynamics connectors/dynamics/fixtures/contact/', 'hubspot connectors/hubspot/fixtures/company/', 'salesforce connectors/salesforce/fixtures/account/']) {
      assert.ok(out.includes(`✓ ${object}`), `${object} ran`);
    }
    assert.match(out, /^\d+ passed, 0 failed$/m);
  });

  it('prints a diff when a mapping gives another record, and fails', async () => {
    const { root, edit } = await copyConnectors(['hubspot']);
    await edit('hubspot/mappings/company.jsonata', (text) => text.replace('"city": address.city', '"city": $uppercase(address.city)'));
    const { code, out } = await kit('test', join(root, 'hubspot'));
    assert.equal(code, 1, out);
    assert.match(out, /✗ hubspot .*company\/01-full\.yaml .*: the record differs \(\+ got, - expected\)/);
    assert.match(out, /^ +\+ +city: 'LONDON',$/m);
    assert.match(out, /^ +- +city: 'London',$/m);
    assert.match(out, /^\d+ passed, 1 failed$/m);
  });

  it('fails a case that expects an error the pipeline does not give, and one whose message differs', async () => {
    const { root, edit } = await copyConnectors(['salesforce']);
    await edit('salesforce/schemas/contact.salesforce.json', (text) => text.replace('"required": ["LastName", "Ext_Id__c"]', '"required": ["Ext_Id__c"]'));
    await edit('salesforce/fixtures/account/03-fractional-employees.yaml', (text) => text.replace('must be integer', 'must be a whole number'));
    const { code, out } = await kit('test', join(root, 'salesforce'));
    assert.equal(code, 1, out);
    assert.match(out, /03-no-last-name\.yaml .*: expected RECSYNC_ERR_OUTPUT_INVALID, got a record/);
    assert.match(out, /03-fractional-employees\.yaml .*: the RECSYNC_ERR_INPUT_INVALID message does not contain the expected text/);
  });
});

describe('kit rules', () => {
  it('shows, per connector with rules, which rules hold for each event and what it would receive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'recsync-kit-rules-'));
    const file = join(dir, 'events.json');
    await writeFile(file, JSON.stringify([
      { object: 'contact', recordId: 'c-1', op: 'update', version: 2, before: { email: 'ada@example.com', marketingConsent: true }, after: { email: 'ada@example.com', marketingConsent: false } },
      { object: 'company', recordId: 'co-1', op: 'insert', version: 1, after: { name: 'Analytical Engines' } },
    ]));
    const { code, out } = await kit('rules', file);
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 0, out);
    assert.match(out, /^ {2}hubspot: consented-contacts ·, consent-withdrawn ✓, companies ·$/m);
    assert.match(out, /^ {4}→ delete contact \(rule consent-withdrawn\)$/m);
    assert.match(out, /^ {4}→ skip contact \(rule contacts\): no field the mapping reads changed$/m);
    assert.match(out, /^ {4}would send \{"Name":"Analytical Engines","Ext_Id__c":"co-1"\}$/m);
    assert.doesNotMatch(out, /dynamics/, 'a connector without rules receives no events');
  });

  it('fails on an event a connector refuses, with the stage and code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'recsync-kit-rules-'));
    const file = join(dir, 'event.json');
    await writeFile(file, JSON.stringify({ object: 'contact', recordId: 'c-2', op: 'insert', version: 1, after: { email: 'not-an-email', marketingConsent: true } }));
    const { code, out } = await kit('rules', file);
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 1, out);
    assert.match(out, /refused at validate-input: RECSYNC_ERR_INPUT_INVALID payload\.email/);
  });
});

describe('kit usage', () => {
  it('exits 2 with the usage on an unknown command', async () => {
    const { code, out } = await kit('frobnicate');
    assert.equal(code, 2);
    assert.match(out, /unknown command "frobnicate"\nusage: npm run kit -- validate/);
  });

  it('mappings lists every shipped mapping as compiled', async () => {
    const { code, out } = await kit('mappings');
    assert.equal(code, 0, out);
    assert.match(out, /^connectors\/salesforce\/mappings\/account\.jsonata: compiled$/m);
  });
});
