import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { onCleanup } from '../helpers/cleanup.ts';
import { conformanceSuite } from '../helpers/conformance.ts';
import { kit } from '../helpers/kit.ts';
import { useRedis } from '../helpers/redis.ts';

// docs/guides/add-a-crm.md, followed to the letter: `kit new pipecrm` in a temporary folder, every
// file and edit the guide shows applied, then kit validate, kit test and the conformance suite
// (create, update, delete, faults) against the connector's own sandbox through the real runtime.
const repo = resolve(import.meta.dirname, '../..');
// At the repository's top (git-ignored), so the scaffold's relative imports of runtime/sdk resolve.
const root = await mkdtemp(join(repo, '.tmp-scaffold-'));
onCleanup(() => rm(root, { recursive: true, force: true }));
const dir = join(root, 'pipecrm');


/** The guide's `<!-- guide-file: F -->` and `<!-- guide-edit: F -->` blocks, in order. */
async function guideSteps(): Promise<Array<{ kind: 'file' | 'edit'; file: string; body: string }>> {
  const guide = await readFile(join(repo, 'docs/guides/add-a-crm.md'), 'utf8');
  return [...guide.matchAll(/<!-- guide-(file|edit): (\S+) -->\n```[a-z]*\n([\s\S]*?)```\n/g)].map((m) => ({ kind: m[1] as 'file' | 'edit', file: m[2]!, body: m[3]! }));
}

// The guide's steps run here, before the conformance suite loads the connector, and the tests
// below check what each step printed.
const scaffolded = await kit('new', 'pipecrm', '--dir', root);
assert.equal(scaffolded.code, 0, scaffolded.out);
const asScaffolded = { validate: await kit('validate', dir), test: await kit('test', dir) };
const steps = await guideSteps();
for (const step of steps.filter((s) => !s.file.startsWith('fixtures/'))) await apply(step);
const afterMapping = await kit('test', dir);
for (const step of steps.filter((s) => s.file.startsWith('fixtures/'))) await apply(step);
const atTheEnd = { validate: await kit('validate', dir), test: await kit('test', dir) };

async function apply(step: { kind: 'file' | 'edit'; file: string; body: string }): Promise<void> {
  const path = join(dir, step.file);
  if (step.kind === 'file') return writeFile(path, step.body);
  const lines = step.body.split('\n');
  const from = lines.filter((l) => l.startsWith('-')).map((l) => l.slice(1)).join('\n');
  const to = lines.filter((l) => l.startsWith('+')).map((l) => l.slice(1)).join('\n');
  const text = await readFile(path, 'utf8');
  assert.ok(text.includes(from), `${step.file} holds the lines the guide replaces`);
  await writeFile(path, text.replace(from, to));
}

describe('the scaffold as it comes', () => {
  it('passes kit validate and kit test', () => {
    assert.equal(asScaffolded.validate.code, 0, asScaffolded.validate.out);
    assert.match(asScaffolded.validate.out, /^✓ pipecrm \(version [0-9a-f]{12}\)$/m);
    assert.doesNotMatch(asScaffolded.validate.out, /warning/);
    assert.equal(asScaffolded.test.code, 0, asScaffolded.test.out);
    assert.match(asScaffolded.test.out, /^4 passed, 0 failed$/m);
  });

  it('refuses a name that is not a connector name, and a folder that exists', async () => {
    assert.equal((await kit('new', 'Pipe CRM', '--dir', root)).code, 2);
    const again = await kit('new', 'pipecrm', '--dir', root);
    assert.equal(again.code, 2);
    assert.match(again.out, /pipecrm exists already/);
  });
});

describe('following docs/guides/add-a-crm.md', () => {
  it('the guide shows the manifest, sandbox, schema, mapping and fixture changes', () => {
    assert.deepEqual(steps.map((s) => `${s.kind} ${s.file}`), [
      'file manifest.yaml', 'edit sandbox.ts', 'file schemas/contact.crm.json', 'file mappings/contact.jsonata',
      'file fixtures/contact/01-create.yaml', 'file fixtures/contact/02-email-only.yaml', 'file fixtures/contact/05-empty-phone.yaml',
    ]);
  });

  it('the mapping change makes the old fixtures fail with a diff, as the guide says', () => {
    assert.equal(afterMapping.code, 1, afterMapping.out);
    assert.match(afterMapping.out, /✗ pipecrm .*01-create\.yaml \(every field of our contact\): the record differs \(\+ got, - expected\)/);
    assert.match(afterMapping.out, /^2 passed, 2 failed$/m);
  });

  it('then kit validate and kit test pass', () => {
    assert.equal(atTheEnd.validate.code, 0, atTheEnd.validate.out);
    assert.equal(atTheEnd.test.code, 0, atTheEnd.test.out);
    assert.match(atTheEnd.test.out, /^5 passed, 0 failed$/m);
  });
});

// The connector the guide ends with (persons, Pipecrm's model), through the real runtime against its own sandbox.
await conformanceSuite(await useRedis(), root);

it('the edited sandbox serves persons, and no longer contacts', async () => {
  const { startSandbox } = (await import(join(dir, 'sandbox.ts'))) as { startSandbox: () => Promise<{ url: string; env: Record<string, string>; close(): Promise<void> }> };
  const sandbox = await startSandbox();
  onCleanup(() => sandbox.close());
  const put = (collection: string) =>
    fetch(`${sandbox.url}/v1/${collection}/by-external-id/p-1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${sandbox.env['PIPECRM_TOKEN']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada', email: [{ value: 'ada@example.com', primary: true }] }),
    });
  assert.equal((await put('contacts')).status, 404);
  assert.equal((await put('persons')).status, 201);
});
