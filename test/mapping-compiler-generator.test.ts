// The generators behind the mapping compiler's differential tests (test/helpers/mapping-generators.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsonata from 'jsonata';
import { fromSchema, randomExpression, randomJson, rng, type Schema } from './helpers/mapping-generators.ts';

test('the PRNG is deterministic for a seed', () => {
  const a = rng(42);
  const b = rng(42);
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test('random JSON and expressions are reproducible from the seed', () => {
  assert.equal(JSON.stringify(randomJson(rng(7))), JSON.stringify(randomJson(rng(7))));
  assert.equal(randomExpression(rng(7)), randomExpression(rng(7)));
});

test('random expressions parse (the generator only writes valid JSONata)', () => {
  const r = rng(1);
  for (let i = 0; i < 300; i++) {
    const text = randomExpression(r);
    assert.doesNotThrow(() => jsonata(text), text);
  }
});

test('schema inputs follow the schema unless mutated', () => {
  const schema: Schema = { type: 'object', required: ['email'], properties: { email: { type: 'string' }, n: { type: 'integer' } } };
  const value = fromSchema(rng(3), schema, 0) as Record<string, unknown>;
  assert.equal(typeof value.email, 'string');
  if ('n' in value) assert.ok(Number.isInteger(value.n));
});
