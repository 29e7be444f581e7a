/**
 * Which mappings run compiled: `node runtime/mapping/cli.ts [file.jsonata ...]` (default: every
 * connectors/**\/mappings/*.jsonata) prints, for each, "compiled" or "interpreter: <reason>", with
 * the runtime's limits. `--source` also prints the generated JavaScript.
 */
import { globSync, readFileSync } from 'node:fs';
import { mappingLimits } from '../connectors/load-connector.ts';
import { compileMapping, mappingSource } from './index.ts';

const args = process.argv.slice(2);
const showSource = args.includes('--source');
const files = args.filter((a) => !a.startsWith('--'));
const list = files.length > 0 ? files : globSync('connectors/**/mappings/*.jsonata').sort();
let fallbacks = 0;
for (const file of list) {
  const text = readFileSync(file, 'utf8');
  const mapping = compileMapping(text, { ...mappingLimits });
  if (!mapping.compiled) fallbacks++;
  console.log(`${file}: ${mapping.compiled ? 'compiled' : `interpreter: ${mapping.reason}`}`);
  if (showSource && mapping.compiled) console.log(mappingSource(text, { ...mappingLimits }));
}
process.exitCode = fallbacks === 0 ? 0 : 1;
