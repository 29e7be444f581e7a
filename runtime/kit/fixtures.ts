import { AssertionError, deepStrictEqual } from 'node:assert';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import fixtureSchema from '../../config/schemas/fixture.schema.json' with { type: 'json' };
import { createAjv, schemaErrors } from '../config/json-schema.ts';
import { parseYamlFile } from '../config/yaml-file.ts';
import type { ConnectorVersion } from '../connectors/load-connector.ts';
import { isRecsyncError, type ErrorDetail } from '../errors.ts';
import { dryRun } from '../dry-run.ts';

/** One mapping test case: a payload and what the runtime's first three stages must make of it. */
export interface Fixture {
  file: string;
  object: string;
  description?: string;
  action: 'upsert' | 'delete';
  recordId: string;
  tenant: string;
  version: number;
  /** null: a delete without a payload, as the record store hands it to the pipeline. */
  input: unknown;
  expect: { record: Record<string, unknown> | null } | { error: { code: string; message?: string } };
}

export type FixtureResult =
  | { fixture: Fixture; ok: true; summary: string }
  | { fixture: Fixture; ok: false; summary: string; diff: string };

const ajv = createAjv({ useDefaults: true, allErrors: true });
const validateFixture = ajv.compile(fixtureSchema);

/**
 * Reads `<dir>/fixtures/<object>/*.{yaml,yml,json}`. A folder named after an object the manifest
 * does not declare, or a file that does not match config/schemas/fixture.schema.json, is an error
 * naming the file, line and field. Fixtures are optional: an object without any is reported by
 * `kit validate`, not refused.
 */
export async function loadFixtures(dir: string, objects: readonly string[]): Promise<{ fixtures: Fixture[]; errors: ErrorDetail[] }> {
  const root = join(dir, 'fixtures');
  const display = (file: string) => relative(process.cwd(), file) || file;
  const fixtures: Fixture[] = [];
  const errors: ErrorDetail[] = [];
  let folders: string[];
  try {
    folders = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return { fixtures, errors };
  }
  for (const object of folders) {
    if (!objects.includes(object)) {
      errors.push({ file: display(join(root, object)), message: `no object "${object}" in the manifest (objects: ${objects.join(', ')})` });
      continue;
    }
    const names = (await readdir(join(root, object))).filter((name) => /\.(ya?ml|json)$/.test(name)).sort();
    for (const name of names) {
      const file = join(root, object, name);
      try {
        const yaml = parseYamlFile(display(file), await readFile(file, 'utf8'));
        if (!validateFixture(yaml.value)) {
          // The `if` keyword's own error ("must match else schema") repeats the real one.
          errors.push(...schemaErrors(validateFixture.errors?.filter((e) => e.keyword !== 'if'), { file: yaml.file, lineOf: yaml.lineOf }));
          continue;
        }
        const value = yaml.value as Omit<Fixture, 'file' | 'object' | 'input'> & { input?: unknown };
        fixtures.push({ ...value, file: yaml.file, object, input: value.input ?? null });
      } catch (error) {
        errors.push(...(isRecsyncError(error) ? error.details : [{ file: display(file), message: (error as Error).message }]));
      }
    }
  }
  return { fixtures, errors };
}

/**
 * What the runtime's first three stages make of a fixture's input: the record the connector would
 * receive (null for a delete without a payload), or the fatal error the record is dead-lettered with.
 */
export async function mapFixture(connector: ConnectorVersion, fixture: Omit<Fixture, 'expect' | 'file'>): Promise<{ record: Record<string, unknown> | null; error?: undefined } | { error: { code: string; message: string } }> {
  const result = await dryRun(connector, { object: fixture.object, action: fixture.action, recordId: fixture.recordId, tenant: fixture.tenant, version: fixture.version, payload: structuredClone(fixture.input) });
  if (!result.ok) return { error: { code: result.error.code, message: result.error.message } };
  return { record: result.record };
}

/** Runs one fixture through validate-input → transform → validate-output, the runtime's own stages. */
export async function runFixture(connector: ConnectorVersion, fixture: Fixture): Promise<FixtureResult> {
  const got = await mapFixture(connector, fixture);
  const error = got.error;
  const record = got.error === undefined ? got.record : null;

  if ('record' in fixture.expect) {
    if (error !== undefined) return { fixture, ok: false, summary: `expected a record, got ${error.code}`, diff: error.message };
    return compare(fixture, record, fixture.expect.record, 'record');
  }
  const expected = fixture.expect.error;
  if (error === undefined) return { fixture, ok: false, summary: `expected ${expected.code}, got a record`, diff: JSON.stringify(record, null, 2) };
  if (error.code !== expected.code) return { fixture, ok: false, summary: `expected ${expected.code}, got ${error.code}`, diff: error.message };
  if (expected.message !== undefined && !error.message.includes(expected.message)) {
    return { fixture, ok: false, summary: `the ${error.code} message does not contain the expected text`, diff: `expected a part: ${expected.message}\nmessage:         ${error.message}` };
  }
  return { fixture, ok: true, summary: `${error.code}: ${error.message}` };
}

function compare(fixture: Fixture, actual: unknown, expected: unknown, what: string): FixtureResult {
  try {
    deepStrictEqual(actual, expected);
    return { fixture, ok: true, summary: what };
  } catch (error) {
    if (!(error instanceof AssertionError)) throw error;
    // node:assert's diff: "+ actual - expected", line by line.
    return { fixture, ok: false, summary: `the ${what} differs (+ got, - expected)`, diff: error.message.replace(/^[\s\S]*?\+ actual - expected\n/, '').replace(/^\n+/, '').trimEnd() };
  }
}
