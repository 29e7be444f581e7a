// Seeded generators for the mapping compiler's differential tests: random JSON inputs (free-form
// or following a JSON Schema, with type mutations), random JSONata expressions over the compiled
// subset, and the comparison of a compiled mapping with the jsonata interpreter. Their own tests
// are in test/mapping-compiler-generator.test.ts.
import jsonata from 'jsonata';
import { compileMapping, type CompiledMapping, type MappingLimits } from '../../runtime/mapping/index.ts';
import { seededRandom } from './poll.ts';

export type Rng = () => number;

/** A seeded PRNG (mulberry32, shared with the workload generators). */
export const rng: (seed: number) => Rng = seededRandom;

const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
const chance = (r: Rng, p: number) => r() < p;

export const fieldNames = ['a', 'b', 'c', 'name', 'price', 'qty', 'tags', 'items', 'x', 'constructor', '__proto__', 'prototype', 'toString'] as const;
const strings = ['', 'a', 'abc', 'Hello World', '  padded  ', '42', '1e3', 'ÄÖü', '😀x', 'a,b,c', 'true', 'null'];
const numbers = [0, 1, -1, 2, 3.5, -0.5, 10, 100, 1e21, 0.1, 7, 1e300];

/** A random JSON value (objects may use prototype-ish key names as plain data). */
export function randomJson(r: Rng, depth = 3): unknown {
  const kind = depth <= 0 ? Math.floor(r() * 4) : Math.floor(r() * 7);
  switch (kind) {
    case 0: return pick(r, numbers);
    case 1: return pick(r, strings);
    case 2: return pick(r, [true, false, null]);
    case 3: return Math.round(r() * 200 - 100) / (chance(r, 0.5) ? 1 : 4);
    case 4: return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++) {
        Object.defineProperty(o, pick(r, fieldNames), { value: randomJson(r, depth - 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  required?: string[];
}

/** A value following `schema` (mostly), with occasional missing fields (`presence`) and wrong types (`mutate`). */
export function fromSchema(r: Rng, schema: Schema, mutate = 0.1, depth = 4, presence = 0.75): unknown {
  if (chance(r, mutate)) return randomJson(r, Math.min(depth, 2));
  if (schema.enum) return pick(r, schema.enum);
  const type = Array.isArray(schema.type) ? pick(r, schema.type) : schema.type;
  switch (type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(schema.properties ?? {})) {
        if (schema.required?.includes(key) || chance(r, presence)) o[key] = fromSchema(r, sub, mutate, depth - 1, presence);
      }
      return o;
    }
    case 'array': return Array.from({ length: Math.floor(r() * 4) }, () => fromSchema(r, schema.items ?? {}, mutate, depth - 1, presence));
    case 'string': return pick(r, ['', 'x', ' Mixed Case ', 'ü@example.com', 'acme.com', 'fr', 'Paris', `${Math.floor(r() * 1e6)}`]);
    case 'integer': return Math.floor(r() * 1e6);
    case 'number': return Math.round(r() * 1e8) / 100;
    case 'boolean': return chance(r, 0.5);
    default: return randomJson(r, 2);
  }
}

/** A random expression over the compiled subset (it may still fall back, or fail at run time). */
export function randomExpression(r: Rng, depth = 3, vars: string[] = []): string {
  const leaf = (): string => {
    switch (Math.floor(r() * 8)) {
      case 0: return JSON.stringify(pick(r, strings));
      case 1: return String(pick(r, [0, 1, 2, -1, 3.5, 10]));
      case 2: return pick(r, ['true', 'false', 'null']);
      case 3: return vars.length > 0 ? `$${pick(r, vars)}` : '$';
      case 4: return pick(r, ['$', '$$', '*', '**.a']);
      default: return path();
    }
  };
  const name = () => {
    const n = pick(r, fieldNames);
    return /^[a-z]+$/.test(n) ? n : `\`${n}\``;
  };
  const path = (): string => {
    let p = name();
    const steps = Math.floor(r() * 3);
    for (let i = 0; i < steps; i++) p += `.${name()}`;
    if (chance(r, 0.25)) p += `[${pick(r, ['0', '-1', '1', '$ > 1', '$boolean($)', 'a'])}]`;
    if (chance(r, 0.05)) p = `(${p}[])`; // bare, `a[] / b` would read as a regex
    return p;
  };
  if (depth <= 0) return leaf();
  const e = (d = depth - 1) => randomExpression(r, d, vars);
  switch (Math.floor(r() * 34)) {
    case 0: case 1: return leaf();
    case 2: return `(${e()} ${pick(r, ['+', '-', '*', '/', '%'])} ${e()})`;
    case 3: return `(${e()} ${pick(r, ['=', '!=', '<', '<=', '>', '>='])} ${e()})`;
    case 4: return `(${e()} ${pick(r, ['and', 'or', '&', 'in'])} ${e()})`;
    case 5: return `(${e()} ? ${e()}${chance(r, 0.7) ? ` : ${e()}` : ''})`;
    case 6: return `[${Array.from({ length: Math.floor(r() * 3) + 1 }, () => e()).join(', ')}]`;
    case 7: return `{${Array.from({ length: Math.floor(r() * 3) + 1 }, (_, i) => `"k${i}": ${e()}`).join(', ')}}`;
    case 8: {
      const v = `v${vars.length}`;
      return `($${v} := ${e()}; ${randomExpression(r, depth - 1, [...vars, v])})`;
    }
    case 9: return `$${pick(r, ['string', 'number', 'boolean', 'not', 'exists', 'lowercase', 'uppercase', 'trim', 'length', 'count', 'sum', 'max', 'min', 'average', 'keys', 'reverse', 'distinct', 'type', 'abs', 'floor', 'ceil', 'round', 'sort'])}(${e()})`;
    case 10: return `$${pick(r, ['substring', 'substringBefore', 'substringAfter', 'contains', 'split', 'join', 'lookup', 'append', 'round'])}(${e()}, ${e()})`;
    case 11: return `$substring(${e()}, ${e()}, ${e()})`;
    case 12: return `$replace(${e()}, ${JSON.stringify(pick(r, ['a', 'b', ' ', '1']))}, ${e()})`;
    case 13: return `$map(${e()}, function($v, $i) { ${randomExpression(r, depth - 1, [...vars, 'v', 'i'])} })`;
    case 14: return `$filter(${e()}, function($v) { ${randomExpression(r, depth - 1, [...vars, 'v'])} })`;
    case 15: return `$reduce(${e()}, function($acc, $v) { ${randomExpression(r, depth - 1, [...vars, 'acc', 'v'])} }${chance(r, 0.5) ? `, ${e()}` : ''})`;
    case 16: return `${path()}.${pick(r, ['{"n": $count($)}', '$string()', '($ + 1)', '[$]', '{name: price}'])}`;
    case 17: return `(${path()}^(${pick(r, ['$', '>a', 'name', '<price'])}))`;
    case 18: return `-(${e()})`;
    case 19: return `(${e()} ${pick(r, ['??', '?:'])} ${e()})`;
    case 20: return `$merge([${e()}, ${e()}])`;
    case 21: return `[1..${pick(r, ['3', '0', '$count($)'])}]`;
    case 22: return `(${e()} ~> $${pick(r, ['string', 'count', 'exists', 'type'])}())`;
    case 23: return `${path()}.[${e()}, ${e()}]`;
    case 24: return `(${path()}{${pick(r, ['name', '$string(a)', '"k"', '$type($)'])}: ${e()}})`;
    case 25: return `$${pick(r, ['sift', 'each'])}(${e()}, function($v, $k) { ${randomExpression(r, depth - 1, [...vars, 'v', 'k'])} })`;
    case 26: return `$sort(${e()}, function($l, $r) { ${pick(r, ['$l > $r', '$l < $r', '$string($l) > $string($r)', '$l.a > $r.a'])} })`;
    case 27: return `($f := function($n) { $n <= 0 ? ${e()} : $f($n - 1) }; $f(${pick(r, ['3', '30', '$count($)', 'a'])}))`;
    case 28: return `($f := function($n) { $n <= 0 ? 0 : 1 + $f($n - 1) }; $f(${pick(r, ['3', '12', '40'])}))`;
    case 29: return `($g := $${pick(r, ['substring', 'join', 'split', 'string', 'append'])}(?, ${e()}); $g(${e()}))`;
    case 30: return `($u := $${pick(r, ['uppercase', 'string', 'count'])} ~> $${pick(r, ['lowercase', 'string', 'exists'])}; $u(${e()}))`;
    case 31: return `$${pick(r, ['contains', 'split', 'match', 'replace'])}(${e()}, /${pick(r, ['a', 'b+', '[0-9]', '^a', 'x?'])}/${pick(r, ['', 'i'])}${chance(r, 0.5) ? `, ${e()}` : ''})`;
    case 32: return `($ ~> |${pick(r, ['$', 'a', 'items', '**'])}|{"z": ${e()}}${chance(r, 0.5) ? ', ["a", "b"]' : ''}|)`;
    default: return `${path()}[${e()}]`;
  }
}

/** JSON of a value with functions made comparable (the interpreter's lambdas are objects). */
export function canonical(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'function') return '<function>';
    if (v !== null && typeof v === 'object' && ('_jsonata_lambda' in v || '_jsonata_function' in v)) return '<function>';
    return v;
  });
}

export type Outcome = { ok: string | undefined } | { code: string | undefined };

export async function outcome(run: () => unknown): Promise<Outcome> {
  try {
    return { ok: canonical(await run()) };
  } catch (error) {
    return { code: (error as { code?: string }).code ?? `(no code: ${(error as Error).name})` };
  }
}

export const runtimeLimits: MappingLimits = { timeout: 250, stack: 200, sequence: 100_000 };

/** Evaluate both ways; returns a description of the difference, or undefined when they agree. */
export async function differ(
  text: string, input: unknown, bindings?: Record<string, unknown>, limits = runtimeLimits, mapping?: CompiledMapping,
): Promise<string | undefined> {
  const compiled = mapping ?? compileMapping(text, limits);
  if (!compiled.compiled) return undefined;
  const interpreter = jsonata(text, { ...limits });
  const expected = await outcome(() => interpreter.evaluate(structuredClone(input), structuredClone(bindings)));
  const got = await outcome(() => compiled.evaluate(structuredClone(input), structuredClone(bindings)));
  if (JSON.stringify(expected) === JSON.stringify(got)) return undefined;
  // A timeout of the interpreter against a result of the compiled code is not a difference of meaning.
  if ('code' in expected && expected.code === 'D1012') return undefined;
  return `${text}\n  input ${JSON.stringify(input)}\n  interpreter ${JSON.stringify(expected)}\n  compiled    ${JSON.stringify(got)}`;
}

