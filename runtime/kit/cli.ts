/**
 * The connector kit: `npm run kit -- <command>`. See docs/guides/add-a-crm.md and
 * docs/reference/connector-sdk.md#the-connector-kit.
 *
 *   validate [dir...]            lint connectors (default: every folder of connectors/)
 *   test [dir...]                run their mapping fixtures through the runtime's stages
 *   new <name> [--dir folder]    scaffold connectors/<name> (or <folder>/<name>)
 *   mappings [file...] [--source]  which mappings run compiled (every connectors/**\/mappings/*.jsonata)
 *   rules <event.json> [dir...]  which rules hold for change events and what each connector would receive
 *
 * Exit codes: 0 all good, 1 a connector failed, 2 a usage error.
 */
import { globSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mappingLimits } from '../connectors/load-connector.ts';
import { discover } from '../connectors/registry.ts';
import type { ErrorDetail } from '../errors.ts';
import type { ConnectorVersion } from '../connectors/load-connector.ts';
import { compileMapping, mappingSource } from '../mapping/index.ts';
import { explainEvent } from '../rules/events.ts';
import type { ChangeEvent } from '../rules/rules.ts';
import { runFixture } from './fixtures.ts';
import { scaffoldConnector } from './scaffold.ts';
import { validateConnector } from './validate.ts';

const repoConnectors = resolve(new URL('../../connectors', import.meta.url).pathname);
const usage = `usage: npm run kit -- validate [connector-dir...]
       npm run kit -- test [connector-dir...]
       npm run kit -- new <name> [--dir <folder>]
       npm run kit -- mappings [file.jsonata...] [--source]
       npm run kit -- rules <event.json> [connector-dir...]`;

const show = (file: string) => relative(process.cwd(), file) || file;
const line = (d: ErrorDetail) => `${d.file ?? ''}${d.line === undefined ? '' : `:${d.line}`}${d.field === undefined ? '' : ` ${d.field}`}: ${d.message}`;

async function dirsOf(args: string[]): Promise<string[]> {
  if (args.length > 0) return args.map((a) => resolve(a));
  return (await discover(repoConnectors)).map((name) => join(repoConnectors, name));
}

async function validate(args: string[]): Promise<number> {
  let failed = 0;
  for (const dir of await dirsOf(args)) {
    const v = await validateConnector(dir);
    const name = v.connector?.name ?? show(dir);
    if (v.errors.length > 0) {
      failed += 1;
      console.log(`✗ ${name}: ${v.errors.length} error${v.errors.length === 1 ? '' : 's'}`);
      for (const error of v.errors) console.log(`    ${line(error)}`);
    } else {
      console.log(`✓ ${name} (version ${v.connector!.version})`);
    }
    for (const note of v.notes) console.log(`    ${note}`);
    for (const warning of v.warnings) console.log(`    warning: ${warning}`);
  }
  return failed === 0 ? 0 : 1;
}

async function test(args: string[]): Promise<number> {
  let failed = 0;
  let passed = 0;
  for (const dir of await dirsOf(args)) {
    const v = await validateConnector(dir);
    const name = v.connector?.name ?? show(dir);
    if (v.connector === undefined || v.errors.length > 0) {
      failed += 1;
      console.log(`✗ ${name}: does not validate (npm run kit -- validate ${show(dir)})`);
      for (const error of v.errors) console.log(`    ${line(error)}`);
      continue;
    }
    if (v.fixtures.length === 0) console.log(`  ${name}: no fixtures under ${show(join(dir, 'fixtures'))}`);
    for (const fixture of v.fixtures) {
      const result = await runFixture(v.connector, fixture);
      if (result.ok) {
        passed += 1;
        console.log(`✓ ${name} ${show(fixture.file)}`);
      } else {
        failed += 1;
        console.log(`✗ ${name} ${show(fixture.file)}${fixture.description ? ` (${fixture.description})` : ''}: ${result.summary}`);
        console.log(result.diff.split('\n').map((l) => `    ${l}`).join('\n'));
      }
    }
  }
  console.log(`\n${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

async function scaffold(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { dir: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new TypeError('new needs exactly one connector name');
  const created = await scaffoldConnector(positionals[0]!, resolve(values.dir ?? repoConnectors));
  console.log(`created ${show(created.dir)}:\n${created.files.map((f) => `  ${f}`).join('\n')}\n\nnext: npm run kit -- validate ${show(created.dir)} && npm run kit -- test ${show(created.dir)}`);
  return 0;
}

/** The former `runtime/mapping/cli.ts`: exit 1 when a mapping falls back to the interpreter. */
function mappings(args: string[]): number {
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
  return fallbacks === 0 ? 0 : 1;
}

/**
 * The event dry run of `POST /v1/events/dry-run`, on the connectors on disk, without a server: for
 * each event of the file (one or an array), per connector with rules, which rules hold, the
 * decision and what the connector would receive. Exit 1 when a connector does not load or an
 * event is refused (a failing condition, a payload its object refuses).
 */
async function rules(args: string[]): Promise<number> {
  const [file, ...dirs] = args;
  if (file === undefined) throw new TypeError('rules needs a JSON file of one change event or an array of them');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const events = (Array.isArray(parsed) ? parsed : [parsed]) as ChangeEvent[];
  const connectors: ConnectorVersion[] = [];
  let failed = 0;
  for (const dir of await dirsOf(dirs)) {
    const v = await validateConnector(dir);
    if (v.connector === undefined || v.errors.length > 0) {
      failed += 1;
      console.log(`✗ ${v.connector?.name ?? show(dir)} does not load (npm run kit -- validate ${show(dir)})`);
      continue;
    }
    connectors.push(v.connector);
  }
  for (const [index, event] of events.entries()) {
    console.log(`event ${index}: ${event.op} ${event.object} ${event.recordId} v${event.version}${event.tenant ? ` (tenant ${event.tenant})` : ''}`);
    for (const e of await explainEvent(connectors, event)) {
      console.log(`  ${e.connector}: ${e.rules.map((r) => `${r.name}${r.matches === true ? ' ✓' : r.matches === false ? ' ·' : ` ✗ ${r.matches}`}`).join(', ')}`);
      if ('error' in e.decision) {
        failed += 1;
        console.log(`    refused: ${e.decision.error}`);
        continue;
      }
      const d = e.decision;
      console.log(`    → ${d.decision} ${d.object}${d.rule ? ` (rule ${d.rule})` : ''}${d.reason ? `: ${d.reason}` : ''}`);
      if (e.wouldSend?.ok) console.log(`    would send ${JSON.stringify(e.wouldSend.record)}`);
      else if (e.wouldSend) {
        failed += 1;
        console.log(`    refused at ${e.wouldSend.stage}: ${e.wouldSend.error.code} ${e.wouldSend.error.message}`);
      }
    }
  }
  return failed === 0 ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'validate': return await validate(args);
      case 'test': return await test(args);
      case 'new': return await scaffold(args);
      case 'mappings': return mappings(args);
      case 'rules': return await rules(args);
      default:
        console.error(command === undefined ? usage : `unknown command "${command}"\n${usage}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof TypeError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(error as Error).message}\n${usage}`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
