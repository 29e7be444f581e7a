import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { discover } from '../runtime/connectors/registry.ts';
import { importProblems, importsOf } from '../runtime/kit/imports.ts';
import { copyConnectors, repoConnectors } from './helpers/connectors.ts';

// The dependency rule of docs/reference/connector-sdk.md: a connector's code imports nothing from
// recsync but the SDK, and its sandbox nothing but the SDK and the sandbox kit.

it('every connector under connectors/ imports only the SDK (its sandbox also the sandbox kit)', async () => {
  const names = await discover(repoConnectors);
  assert.ok(names.length >= 3, `found ${names.join(', ')}`);
  for (const name of names) {
    assert.deepEqual(await importProblems(join(repoConnectors, name), join(repoConnectors, name, 'connector.ts')), [], name);
  }
});

it('reads static, type-only, re-export, side-effect and dynamic imports, not those in comments', () => {
  const text = "import {\n  a,\n} from '../x.ts';\n// import 'commented';\n/* import 'block' */\nexport type { A } from \"./t.ts\";\nconst m = await import('jsonata');\nimport 'side';\n";
  assert.deepEqual(importsOf(text), [
    { specifier: '../x.ts', line: 1 },
    { specifier: './t.ts', line: 6 },
    { specifier: 'jsonata', line: 7 },
    { specifier: 'side', line: 8 },
  ]);
});

it('catches a package, a runtime internal in a helper the connector imports, and the kit in connector code', async () => {
  const { root } = await copyConnectors(['hubspot']);
  const dir = join(root, 'hubspot');
  await mkdir(join(dir, 'lib'));
  await writeFile(join(dir, 'lib', 'helper.ts'), "import { Queue } from 'bullmq';\nimport { parseDuration } from '../../../runtime/duration.ts';\nexport const x = [Queue, parseDuration];\n");
  await writeFile(join(dir, 'connector.ts'), `import { x } from './lib/helper.ts';\nimport { intFlag } from '../../runtime/sdk/sandbox-kit/index.ts';\nvoid x; void intFlag;\n`);
  const problems = (await importProblems(dir, join(dir, 'connector.ts'))).map((p) => `${p.file!.replace(/.*hubspot\//, '')}:${p.line} ${p.message.replace(/;.*/, '')}`);
  assert.deepEqual(problems, [
    'connector.ts:2 connector code imports "../../runtime/sdk/sandbox-kit/index.ts"',
    'lib/helper.ts:1 connector code imports the package "bullmq"',
    'lib/helper.ts:2 connector code imports "../../../runtime/duration.ts"',
  ]);
});
