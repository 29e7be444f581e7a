// Differential tests: compiled mappings against the jsonata interpreter, on
//  - every mapping in connectors/**/mappings/*.jsonata (discovered at run time), with inputs
//    generated from the object's input schema (and mutated: wrong types, missing fields, arrays,
//    prototype-named keys), free random JSON, and edge inputs;
//  - seeded random expressions over the compiled subset, with the runtime limits and tight ones;
// The JSONata project's own test suite is run by `npm run mapping:suite` (it lives outside this
// repository; see test/bench/jsonata-suite.ts).
// Results are compared as JSON (sequence markers do not show), errors by code.
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { mappingLimits } from '../runtime/connectors/load-connector.ts';
import { compileMapping, type MappingLimits } from '../runtime/mapping/index.ts';
import { differ, fromSchema, randomExpression, randomJson, rng } from './helpers/mapping-generators.ts';

const root = resolve(import.meta.dirname, '..');
const limits: MappingLimits = { ...mappingLimits };

interface Discovered {
  file: string;
  text: string;
  schema: object | undefined;
}

/** Every mapping file, with the input schema of the manifest object that uses it (if any). */
function discoverMappings(): Discovered[] {
  const schemas = new Map<string, object>();
  for (const manifest of globSync('connectors/*/manifest.yaml', { cwd: root })) {
    const dir = join(root, dirname(manifest));
    const doc = parse(readFileSync(join(root, manifest), 'utf8')) as { objects?: Record<string, { input?: string; mapping?: string }> };
    for (const object of Object.values(doc.objects ?? {})) {
      if (object.input && object.mapping) {
        schemas.set(resolve(dir, object.mapping), JSON.parse(readFileSync(resolve(dir, object.input), 'utf8')) as object);
      }
    }
  }
  return globSync('connectors/**/mappings/*.jsonata', { cwd: root }).sort().map((file) => ({
    file,
    text: readFileSync(join(root, file), 'utf8'),
    schema: schemas.get(join(root, file)),
  }));
}

const edgeInputs: unknown[] = [
  {}, null, undefined, 0, 'text', [], [{}], true,
  JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "prototype": {"a": 1}, "toString": 5}'),
];

const mappings = discoverMappings();

describe('connector mappings: compiled against the interpreter', () => {
  test('there are mappings to check', () => {
    assert.ok(mappings.length >= 2, 'connectors/**/mappings/*.jsonata');
  });
  for (const mapping of mappings) {
    test(`${mapping.file} compiles and agrees on generated inputs`, async () => {
      const compiled = compileMapping(mapping.text, limits);
      assert.equal(compiled.compiled, true, `${mapping.file} falls back: ${compiled.reason}`);
      const r = rng(0x5eed ^ mapping.file.length);
      const inputs: unknown[] = [...edgeInputs];
      if (mapping.schema) {
        for (let i = 0; i < 250; i++) inputs.push(fromSchema(r, mapping.schema, i < 100 ? 0 : 0.2));
        inputs.push(Array.from({ length: 3 }, () => fromSchema(r, mapping.schema as object, 0)));
      }
      for (let i = 0; i < 150; i++) inputs.push(randomJson(r, 4));
      const bindingsList: (Record<string, unknown> | undefined)[] = [{ recordId: 'rec-1' }, undefined, { recordId: 42 }, { recordId: { a: [1] } }];
      const failures: string[] = [];
      for (const [i, input] of inputs.entries()) {
        const d = await differ(mapping.text, input, bindingsList[i % bindingsList.length], limits, compiled);
        if (d) failures.push(d);
      }
      assert.deepEqual(failures, [], `${relative(root, mapping.file)}: ${failures.length} differences`);
    });
  }
});

/** Every rule condition (`rules[].when`) of every manifest, with the input schema of each object. */
function discoverRules(): Array<{ where: string; text: string; schemas: object[] }> {
  const out: Array<{ where: string; text: string; schemas: object[] }> = [];
  for (const manifest of globSync('connectors/*/manifest.yaml', { cwd: root }).sort()) {
    const dir = join(root, dirname(manifest));
    const doc = parse(readFileSync(join(root, manifest), 'utf8')) as { objects?: Record<string, { input?: string }>; rules?: Array<{ name: string; when?: string }> };
    const schemas = Object.values(doc.objects ?? {}).flatMap((o) => (o.input ? [JSON.parse(readFileSync(resolve(dir, o.input), 'utf8')) as object] : []));
    for (const rule of doc.rules ?? []) if (rule.when) out.push({ where: `${manifest} rule ${rule.name}`, text: rule.when, schemas });
  }
  return out;
}

describe('connector rules: compiled against the interpreter', () => {
  const rules = discoverRules();
  test('there are rules to check', () => {
    assert.ok(rules.length >= 4, 'connectors/*/manifest.yaml rules[].when');
  });
  for (const rule of rules) {
    test(`${rule.where} compiles and agrees on generated change events`, async () => {
      const compiled = compileMapping(rule.text, limits);
      assert.equal(compiled.compiled, true, `${rule.where} falls back: ${compiled.reason}`);
      const r = rng(0x7e1e ^ rule.text.length);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
      const failures: string[] = [];
      for (let i = 0; i < 300; i++) {
        const schema = pick(rule.schemas);
        const side = () => (r() < 0.2 ? (r() < 0.5 ? null : undefined) : { ...(fromSchema(r, schema, i < 150 ? 0 : 0.2) as object), ...(r() < 0.6 ? { marketingConsent: r() < 0.5 } : {}) });
        const event = { object: pick(['contact', 'company', 'invoice']), recordId: `r-${i}`, op: pick(['insert', 'update', 'delete']), version: i, before: side(), after: side(), tenant: pick(['default', 'acme', 'acme-test', undefined]) };
        const d = await differ(rule.text, i % 25 === 0 ? randomJson(r, 3) : event, undefined, limits, compiled);
        if (d) failures.push(d);
      }
      assert.deepEqual(failures, [], `${rule.where}: ${failures.length} differences`);
    });
  }
});

describe('random expressions: compiled against the interpreter', () => {
  // Short timeouts: a generated `$f(missing)` recursion never ends, and both sides must then say D1012.
  const runtime: MappingLimits = { ...limits, timeout: 60 };
  const tight = (r: () => number): MappingLimits => ({ timeout: 60, stack: 8 + Math.floor(r() * 40), sequence: 2 + Math.floor(r() * 30) });
  for (const [seed, label] of [[101, 'runtime limits'], [202, 'tight stack and sequence limits']] as const) {
    test(`600 expressions, ${label}`, async () => {
      const r = rng(seed);
      const failures: string[] = [];
      let compiled = 0;
      for (let i = 0; i < 600; i++) {
        const text = randomExpression(r, 3);
        const l = seed === 101 ? runtime : tight(r);
        const m = compileMapping(text, l);
        if (!m.compiled) continue;
        compiled++;
        for (let j = 0; j < 2; j++) {
          const d = await differ(text, randomJson(r, 3), { x: 1 }, l, m);
          if (d) failures.push(d);
        }
      }
      assert.deepEqual(failures, []);
      assert.ok(compiled > 300, `only ${compiled} of 600 compiled`);
    });
  }
});
