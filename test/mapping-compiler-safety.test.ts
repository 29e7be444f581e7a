// Safety of compiled mappings: keys named like prototype members are plain data, nothing reaches
// a global, the generated source names only its own identifiers and the runtime's helpers, and
// the guardrails (timeout D1012, stack D1011, sequence D2015) stop runaway expressions with the
// interpreter's codes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileMapping, mappingSource, type MappingLimits } from '../runtime/mapping/index.ts';
import { runtime } from '../runtime/mapping/runtime.ts';
import { canonical, differ, randomExpression, rng, runtimeLimits } from './helpers/mapping-generators.ts';

function run(text: string, input: unknown = {}, limits: MappingLimits = runtimeLimits): { value?: unknown; code?: string } {
  const m = compileMapping(text, limits);
  assert.equal(m.compiled, true, `${text}: ${m.reason}`);
  try {
    return { value: m.evaluate(input) };
  } catch (error) {
    return { code: (error as { code?: string }).code };
  }
}

describe('prototype-named keys are plain data', () => {
  const input = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "prototype": {"a": 1}, "plain": {}}') as unknown;

  for (const [text, expected] of [
    ['plain.constructor', undefined],
    ['plain.toString', undefined],
    ['plain.hasOwnProperty', undefined],
    ['plain.__proto__', undefined],
    ['`__proto__`.x', 1],
    ['constructor', 'c'],
    ['prototype.a', 1],
    ['$lookup(plain, "constructor")', undefined],
    ['$keys($)', ['__proto__', 'constructor', 'prototype', 'plain']],
    ['$string.constructor', undefined],
  ] as const) {
    test(`${text} -> ${JSON.stringify(expected)}`, async () => {
      assert.equal(canonical(run(text, input).value), canonical(expected));
      assert.equal(await differ(text, input), undefined);
    });
  }

  test('an object constructor key "__proto__" is an own property and changes no prototype', () => {
    const result = run('{"__proto__": {"polluted": true}, "a": 1}').value as Record<string, unknown>;
    assert.ok(Object.hasOwn(result, '__proto__'));
    // Like the interpreter's Object.create(null): nothing inherited.
    assert.equal(Object.getPrototypeOf(Object.getPrototypeOf(result)), null);
    assert.equal(Object.getOwnPropertyNames(Object.getPrototypeOf(result)).length, 0);
    assert.equal((result as { polluted?: unknown }).polluted, undefined);
    assert.equal(JSON.stringify(result), '{"__proto__":{"polluted":true},"a":1}');
  });

  test('computed keys and transforms cannot set a prototype either', () => {
    const grouped = run('{k: v}', { k: '__proto__', v: { polluted: true } }).value as object;
    assert.equal(JSON.stringify(grouped), '{"__proto__":{"polluted":true}}');
    const transformed = run('$ ~> |$|{"__proto__": {"polluted": true}}|', { a: 1 }).value as object;
    assert.ok(Object.hasOwn(transformed, '__proto__'));
    assert.equal((transformed as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });
});

describe('nothing but the input and the bindings is reachable', () => {
  for (const text of [
    '$globalThis', '$process', '$require', '$Function', '$eval2', '$constructor',
    '$$.constructor.constructor', '$string.constructor.constructor', '$lookup($string, "constructor")',
    '$keys($string)', '$$.constructor.constructor("return process")()',
  ]) {
    test(`${text} finds nothing`, async () => {
      const result = run(text, {});
      assert.ok(result.value === undefined || (Array.isArray(result.value) && result.value.length === 0), canonical(result.value));
      assert.equal(await differ(text, {}), undefined);
    });
  }

  test('calling what such a path gives is a JSONata error, not a host call', () => {
    assert.deepEqual(run('($c := $$.constructor; $c("return process")())'), { code: 'T1006' });
  });

  test('built-in functions are opaque values, as in the interpreter', async () => {
    for (const text of ['$spread($map)', '$map ~> $spread()', '[$string] ~> $spread()', '$type($sum)', '$string($sum)']) {
      assert.equal(await differ(text, {}), undefined, text);
    }
  });

  test('generated source names only its own identifiers and the runtime helpers (no global)', () => {
    const helpers = new Set(Object.keys(runtime));
    const own = /^(?:[tvxdabkisp]\d+|R|K|st|input|bindings|root|main|e|h|pair)$/;
    const keywords = new Set(['use', 'strict', 'const', 'let', 'return', 'function', 'if', 'else', 'for', 'of', 'typeof', 'undefined',
      'null', 'true', 'false', 'new', 'try', 'catch', 'throw', 'break', 'switch', 'case', 'NaN', 'Infinity']);
    const keys = new Set(['descending', 'value', 'position', 'token']);
    const texts = [
      ...Array.from({ length: 400 }, (_, i) => randomExpression(rng(i), 3)),
      '{"email": $lowercase($trim(email)), "x": a.b[0], "f": function($v){ $v }}',
    ];
    let checked = 0;
    for (const text of texts) {
      let source: string | undefined;
      try {
        source = mappingSource(text, runtimeLimits);
      } catch {
        continue;
      }
      if (source === undefined) continue;
      checked++;
      const code = source.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
      for (const match of code.matchAll(/(?<![\w$.])[A-Za-z_$][\w$]*/g)) {
        const name = match[0];
        const after = code.slice((match.index ?? 0) + name.length).trimStart();
        if (helpers.has(name) || own.test(name) || keywords.has(name)) continue;
        if (keys.has(name) && after.startsWith(':')) continue;
        assert.fail(`${name} in the source of ${text}`);
      }
    }
    assert.ok(checked > 200);
  });
});

describe('guardrails', () => {
  test('an endless tail recursion stops with D1012 at about the timeout', () => {
    const started = Date.now();
    assert.deepEqual(run('($f := function() { $f() }; $f())', {}, { timeout: 100, stack: 200, sequence: 100_000 }), { code: 'D1012' });
    assert.ok(Date.now() - started < 1000);
  });

  test('an endless loop over a sequence stops with D1012', () => {
    const limits = { timeout: 50, stack: 200, sequence: 10_000_000 };
    assert.deepEqual(run('($f := function($n) { $n < 1e9 ? $f($n + 1) : $n }; $f(0))', {}, limits), { code: 'D1012' });
  });

  test('deep recursion stops with D1011, exactly where the interpreter does', async () => {
    const text = '($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(N))';
    assert.deepEqual(run(text.replace('N', '100000')), { code: 'D1011' });
    for (let n = 55; n <= 75; n++) {
      const t = text.replace('N', String(n));
      assert.equal(await differ(t, {}), undefined, t);
    }
  });

  test('without a stack limit, recursion deeper than the JS stack still gives the interpreter result', () => {
    const limits = { timeout: 30_000, stack: 0, sequence: 1e9 };
    assert.deepEqual(run('($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(20000))', {}, limits), { value: 20000 });
  });

  test('huge sequences stop with D2015', async () => {
    assert.deepEqual(run('[1..1000000]'), { code: 'D2015' });
    assert.deepEqual(run('($x := [1..60000]; $count([$x, $x]))'), { code: 'D2015' });
    // The same limit, made small: paths, $map, array constructors, filters.
    const small = { timeout: 5000, stack: 200, sequence: 1000 };
    for (const text of ['$count($map([1..600], function($v) { [$v, $v] }).$)', '[[1..600], [1..600]].$', '($x := [1..600]; [$x, $x])', '[1..2000][$ > 0]']) {
      assert.deepEqual(run(text, {}, small), { code: 'D2015' }, text);
      assert.equal(await differ(text, {}, undefined, small), undefined, text);
    }
  });

  test('a large but allowed sequence is fine', () => {
    assert.deepEqual(run('$sum([1..100000])'), { value: 5000050000 });
  });
});
