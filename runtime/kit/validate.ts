import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConnector, type ConnectorVersion } from '../connectors/load-connector.ts';
import { isRecsyncError, type ErrorDetail } from '../errors.ts';
import { importProblems } from './imports.ts';
import { loadFixtures, type Fixture } from './fixtures.ts';

export interface Validation {
  dir: string;
  /** Loaded the way the runtime loads it; undefined when that failed. */
  connector: ConnectorVersion | undefined;
  fixtures: Fixture[];
  errors: ErrorDetail[];
  /** What is worth knowing but does not fail: a mapping that runs in the interpreter, an object without fixtures. */
  warnings: string[];
  /** One line per object: its files and how its mapping runs. */
  notes: string[];
}

/**
 * Lints one connector folder. The manifest, schemas, mappings and the connector module go through
 * the runtime's own loader (runtime/connectors/load-connector.ts), so `kit validate` and the
 * runtime cannot disagree; on top of that: the import rule, the sandbox module's export, and the
 * fixtures' shape. Environment variables are not the connector's business here: each `${VAR}`
 * without a default gets a placeholder URL.
 */
export async function validateConnector(dir: string): Promise<Validation> {
  const result: Validation = { dir, connector: undefined, fixtures: [], errors: [], warnings: [], notes: [] };
  try {
    result.connector = await loadConnector(dir, await placeholderEnv(dir));
  } catch (error) {
    result.errors.push(...(isRecsyncError(error) ? error.details : [{ file: dir, message: (error as Error).message }]));
    return result;
  }
  const connector = result.connector;
  const display = (file: string) => relative(process.cwd(), file) || file;
  const manifestFile = display(connector.manifestFile);

  result.errors.push(...(await importProblems(dir, connector.connectorFile)));
  if (connector.sandboxFile !== undefined) {
    try {
      const module = (await import(pathToFileURL(connector.sandboxFile).href)) as { startSandbox?: unknown };
      if (typeof module.startSandbox !== 'function') result.errors.push({ file: display(connector.sandboxFile), message: 'must export a function startSandbox (see SandboxModule in runtime/sdk/index.ts)' });
    } catch (error) {
      result.errors.push({ file: display(connector.sandboxFile), message: `cannot load the sandbox module: ${(error as Error).message}` });
    }
  } else {
    result.warnings.push(`${manifestFile}: no sandbox; npm start and the conformance suite need one`);
  }

  const fixtures = await loadFixtures(dir, [...connector.objects.keys()]);
  result.fixtures = fixtures.fixtures;
  result.errors.push(...fixtures.errors);
  for (const plan of connector.objects.values()) {
    const count = fixtures.fixtures.filter((f) => f.object === plan.name).length;
    const mapping = plan.mapping.compiled ? 'compiled' : `interpreter (${plan.mapping.reason})`;
    result.notes.push(`${plan.name}: ${relative(dir, plan.files.input)} → ${relative(dir, plan.files.mapping)} [${mapping}] → ${relative(dir, plan.files.output)}; ${count} fixture${count === 1 ? '' : 's'}`);
    if (!plan.mapping.compiled) result.warnings.push(`${display(plan.files.mapping)}: runs in the jsonata interpreter, about 30 times slower: ${plan.mapping.reason}`);
    if (count === 0) result.warnings.push(`${join(display(dir), 'fixtures', plan.name)}: no fixtures for object "${plan.name}"`);
  }
  return result;
}

/** A value for every `${VAR}` of the manifest that has no default, so that loading checks everything else. */
async function placeholderEnv(dir: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.yaml'), 'utf8');
  } catch {
    return {}; // the loader reports the missing manifest
  }
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)) env[m[1]!] = `http://${m[1]!.toLowerCase().replaceAll('_', '-')}.invalid`;
  return env;
}
