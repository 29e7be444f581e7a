// The mapping compiler, construct by construct: each case compiles (compiled: true), evaluates
// synchronously, gives the expected value, and agrees with the jsonata interpreter (value, or
// error code). The last tests cover the interface: fallback with a reason, syntax errors thrown as
// jsonata throws them, bindings, and sync evaluation.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import jsonata from 'jsonata';
import { compileMapping, mappingSource, mappingStats } from '../runtime/mapping/index.ts';
import { canonical, differ, runtimeLimits } from './helpers/mapping-generators.ts';

const order = {
  Account: {
    Name: 'Firefly',
    Order: [
      { OrderID: 'o1', Product: [{ Name: 'Hat', Price: 34.45, Quantity: 2, Tags: ['a', 'b'] }, { Name: 'Cap', Price: 21.67, Quantity: 1 }] },
      { OrderID: 'o2', Product: [{ Name: 'Bag', Price: 107.99, Quantity: 1, Tags: ['c'] }] },
    ],
  },
  nested: [[1, 2], [3], [[4, 5]]],
  n: 5,
  s: 'Hello',
  z: null,
  e: [],
  one: [7],
};

type Case = [expr: string, expected: unknown, input?: unknown, bindings?: Record<string, unknown>];

/** Compiles, checks it compiled and runs synchronously, and compares with `expected` and with the interpreter. */
async function check(expr: string, expected: unknown, input: unknown = order, bindings?: Record<string, unknown>): Promise<void> {
  const m = compileMapping(expr, runtimeLimits);
  assert.equal(m.compiled, true, `${expr} should compile: ${m.reason}`);
  let got: unknown;
  let code: string | undefined;
  try {
    got = m.evaluate(structuredClone(input), bindings);
    assert.ok(!(got instanceof Promise), `${expr} evaluates synchronously`);
  } catch (error) {
    code = (error as { code?: string }).code;
  }
  if (typeof expected === 'object' && expected !== null && 'code' in expected) {
    assert.equal(code, (expected as { code: string }).code, expr);
  } else {
    assert.equal(code, undefined, `${expr} threw ${code}`);
    assert.equal(canonical(got), canonical(expected), expr);
  }
  assert.equal(await differ(expr, input, bindings), undefined);
}

function cases(name: string, list: Case[]): void {
  describe(name, () => {
    for (const [expr, expected, input, bindings] of list) test(expr, () => check(expr, expected, input, bindings));
  });
}

const err = (code: string) => ({ code });

cases('paths and sequences', [
  ['Account.Name', 'Firefly'],
  ['Account.Order.OrderID', ['o1', 'o2']],
  ['Account.Order.Product.Price', [34.45, 21.67, 107.99]],
  ['Account.Order[1].Product.Name', 'Bag'],
  ['Account.Order.Product.Tags', ['a', 'b', 'c']],
  ['Account.Missing.Field', undefined],
  ['one', [7]],
  ['one[]', [7]],
  ['Account.Name[]', ['Firefly']],
  ['nested', [[1, 2], [3], [[4, 5]]]],
  ['nested.$', [1, 2, 3, [4, 5]]],
  ['e', []],
  ['z', null],
  ['Account.*.OrderID', ['o1', 'o2']],
  ['**.Name', ['Firefly', 'Hat', 'Cap', 'Bag']],
  ['Account.Order.[OrderID]', [['o1'], ['o2']]],
  ['$.n', 5],
  ['$$.s', 'Hello'],
  ['"s"', 's'],
  ['Account.Order.Product.Name.$uppercase()', ['HAT', 'CAP', 'BAG']],
  ['Account.Order.Product^(Price).Name', ['Cap', 'Hat', 'Bag']],
  ['Account.Order.Product^(>Quantity, Name).Name', ['Hat', 'Bag', 'Cap']],
  ['a.b', [1, 2], [{ a: { b: 1 } }, { a: { b: 2 } }]],
  ['$[0]', 1, [1, 2]],
]);

cases('predicates', [
  ['Account.Order[0].OrderID', 'o1'],
  ['Account.Order[-1].OrderID', 'o2'],
  ['Account.Order.Product[0].Name', ['Hat', 'Bag']],
  ['(Account.Order.Product)[0].Name', 'Hat'],
  ['Account.Order.Product[Price > 30].Name', ['Hat', 'Bag']],
  ['Account.Order.Product[Quantity = 2 and Price < 50].Name', 'Hat'],
  ['Account.Order.Product[[0, 1]].Name', ['Hat', 'Cap', 'Bag']],
  ['nested[1]', [3]],
  ['[1, 2, 3][$ > 1]', [2, 3]],
  ['[1, 2, 3][1.7]', 2],
  ['[1, 2, 3][9]', undefined],
  ['Account.Order.Product[Tags].Name', ['Hat', 'Bag']],
]);

cases('operators', [
  ['1 + 2 * 3 - 4 / 2', 5],
  ['7 % 3', 1],
  ['n + 1', 6],
  ['missing + 1', undefined],
  ['"a" + 1', err('T2001')],
  ['1 + "a"', err('T2002')],
  ['-n', -5],
  ['-s', err('D1002')],
  ['s & " " & n & z & true', 'Hello 5nulltrue'],
  ['s & missing', 'Hello'],
  ['[1,2] & {"a":1}', '[1,2]{"a":1}'],
  ['n > 4 and s = "Hello"', true],
  ['n < 4 or missing', false],
  ['"a" < "b"', true],
  ['1 < "b"', err('T2009')],
  ['{} < 1', err('T2010')],
  ['n < missing', undefined],
  ['{"a": [1, {"b": 2}]} = {"a": [1, {"b": 2}]}', true],
  ['[1, 2] != [1, 2]', false],
  ['missing = missing', false],
  ['2 in [1, 2, 3]', true],
  ['"x" in "x"', true],
  ['[1..4]', [1, 2, 3, 4]],
  ['[1.5..3]', err('T2003')],
  ['1e308 * 10 + 1', err('D1001')],
  ['a ?? "default"', 'default'],
  ['z ?: "falsy"', 'falsy'],
]);

cases('conditionals', [
  ['n > 3 ? "big" : "small"', 'big'],
  ['n > 9 ? "big"', undefined],
  ['e ? "non-empty" : "empty"', 'empty'],
  ['Account.Order ? true : false', true],
]);

cases('object and array constructors', [
  ['{"a": 1, "b": missing, "c": z}', { a: 1, c: null }],
  ['{"n": n, "s": $lowercase(s)}', { n: 5, s: 'hello' }],
  ['Account.Order.{"id": OrderID, "count": $count(Product)}', [{ id: 'o1', count: 2 }, { id: 'o2', count: 1 }]],
  ['Account.Order{OrderID: $sum(Product.Quantity)}', { o1: 3, o2: 1 }],
  ['Account.Order.Product{Name: Price}', { Hat: 34.45, Cap: 21.67, Bag: 107.99 }],
  ['{n: 1}', err('T1003')],
  ['[1, [2, 3], [], missing, [[4]]]', [1, [2, 3], [], [[4]]]],
  ['[Account.Order.OrderID, "x"]', ['o1', 'o2', 'x']],
  ['[]', []],
  ['{"__proto__": 1, "constructor": 2}', { ['__proto__']: 1, constructor: 2 }],
]);

cases('variables and blocks', [
  ['($x := 2; $y := $x * 3; $y + 1)', 7],
  ['($x := 1; ($x := 2); $x)', 1],
  ['($x := 1; $f := function() { $x }; $x := 5; $f())', 5],
  ['($x := 1; ( $y := $x; $x := 2; $y ))', 1],
  ['()', undefined],
  ['$recordId', 'r1', {}, { recordId: 'r1' }],
  ['$undefinedBinding', undefined, {}, { recordId: 'r1' }],
  ['$', 5, 5],
]);

cases('built-in functions', [
  ['$string(n)', '5'],
  ['$string(1/3)', '0.333333333333333'],
  ['$string({"a": [1, true]})', '{"a":[1,true]}'],
  ['$number("12.5")', 12.5],
  ['$number("x")', err('D3030')],
  ['$boolean(e)', false],
  ['$not(s)', false],
  ['$exists(missing)', false],
  ['$uppercase(s)', 'HELLO'],
  ['$lowercase(s)', 'hello'],
  ['$lowercase(n)', err('T0410')],
  ['$trim("  a   b  ")', 'a b'],
  ['$substring(s, 1, 3)', 'ell'],
  ['$substring(s, -2)', 'lo'],
  ['$substringBefore("a-b-c", "-")', 'a'],
  ['$substringAfter("a-b-c", "-")', 'b-c'],
  ['$contains(s, "ell")', true],
  ['$split("a,b,c", ",")', ['a', 'b', 'c']],
  ['$join(["a", "b"], "-")', 'a-b'],
  ['$length("😀ab")', 3],
  ['$replace("a-b-c", "-", "+")', 'a+b+c'],
  ['$replace("abc", /b/, "[$0]")', 'a[b]c'],
  ['$count(Account.Order.Product)', 3],
  ['$sum(Account.Order.Product.Quantity)', 4],
  ['$max([3, 9, 2])', 9],
  ['$min([3, 9, 2])', 2],
  ['$average([1, 2, 3, 4])', 2.5],
  ['$round(2.5)', 2],
  ['$round(3.14159, 2)', 3.14],
  ['$floor(-1.5)', -2],
  ['$ceil(1.2)', 2],
  ['$abs(-3)', 3],
  ['$append([1], [2, 3])', [1, 2, 3]],
  ['$keys({"a": 1, "b": 2})', ['a', 'b']],
  ['$lookup({"a": 1}, "a")', 1],
  ['$merge([{"a": 1}, {"b": 2}, {"a": 3}])', { a: 3, b: 2 }],
  ['$distinct([1, 2, 1, [1], [1]])', [1, 2, [1]]],
  ['$reverse([1, 2, 3])', [3, 2, 1]],
  ['$sort([3, 1, 2])', [1, 2, 3]],
  ['$sort(Account.Order.Product, function($a, $b) { $a.Price > $b.Price }).Name', ['Cap', 'Hat', 'Bag']],
  ['$type(z) & $type(n) & $type(e) & $type($string)', 'nullnumberarrayfunction'],
  ['$sum(["a"])', err('T0412')],
  ['$formatNumber(1234.5, "#,##0.00")', '1,234.50'],
  ['$fromMillis(0)', '1970-01-01T00:00:00.000Z'],
  ['$now() = $now() and $millis() = $millis()', true],
  ['$string(?)("x")', err('S0208')],
]);

cases('lambdas and higher-order functions', [
  ['$map([1, 2, 3], function($v) { $v * 2 })', [2, 4, 6]],
  ['$map([1, 2, 3], function($v, $i, $a) { $v + $i + $count($a) })', [4, 6, 8]],
  ['$filter(Account.Order.Product, function($p) { $p.Price > 30 }).Name', ['Hat', 'Bag']],
  ['$reduce([1, 2, 3, 4], function($acc, $v) { $acc + $v })', 10],
  ['$reduce([1, 2], function($acc, $v) { $acc + $v }, 10)', 13],
  ['$reduce([1, 2], function($acc) { $acc })', err('D3050')],
  ['($f := function($n) { $n <= 1 ? 1 : $n * $f($n - 1) }; $f(10))', 3628800],
  ['($even := function($n) { $n = 0 ? true : $odd($n - 1) }; $odd := function($n) { $n = 0 ? false : $even($n - 1) }; $even(2000))', true],
  ['($add := function($a, $b) { $a + $b }; $inc := $add(?, 1); $inc(41))', 42],
  ['($f := $uppercase ~> $substring(?, 0, 2); $f("hello"))', 'HE'],
  ['s ~> $lowercase()', 'hello'],
  ['function($x)<n:n>{ $x }("a")', err('T0410')],
  ['($ ~> |Account.Order.Product|{"Price": Price * 2}, ["Tags"]|).Account.Order.Product', [
    { Name: 'Hat', Price: 68.9, Quantity: 2 }, { Name: 'Cap', Price: 43.34, Quantity: 1 }, { Name: 'Bag', Price: 215.98, Quantity: 1 },
  ]],
  ['($x := 3; [1, 2].($ * $x))', [3, 6]],
  ['$single([1, 2, 3], function($v) { $v = 2 })', 2],
  ['$sift({"a": 1, "b": 2}, function($v) { $v > 1 })', { b: 2 }],
  ['$each({"a": 1, "b": 2}, function($v, $k) { $k & $v })', ['a1', 'b2']],
]);

describe('concurrently evaluated constructor items', () => {
  test('when two items fail, the error is the one the interpreter reports first (by re-running it)', async () => {
    for (const text of ['[$number("x"), 1 + "a"]', '{"a": $number(a), "b": $uppercase(b)}', '[$uppercase(1), $number("x")]']) {
      const m = compileMapping(text, runtimeLimits);
      assert.equal(m.compiled, true);
      const before = mappingStats.reruns;
      assert.throws(() => m.evaluate({ a: 'x', b: 1 }));
      assert.equal(mappingStats.reruns, before + 1);
      assert.equal(await differ(text, { a: 'x', b: 1 }), undefined, text);
    }
  });

  test('without errors, nothing is re-run', () => {
    const m = compileMapping('{"a": $number(a), "b": $uppercase(b)}', runtimeLimits);
    const before = mappingStats.reruns;
    assert.equal(JSON.stringify(m.evaluate({ a: '1', b: 'x' })), '{"a":1,"b":"X"}');
    assert.equal(mappingStats.reruns, before);
  });

  test('a binding inside concurrent items falls back (its visibility depends on the interleaving)', () => {
    const m = compileMapping('[$x := 1, $x]', runtimeLimits);
    assert.equal(m.compiled, false);
    assert.match(m.reason ?? '', /variable binding inside an array constructor/);
  });

  test('near the stack limit, grouping and nested constructors give the interpreter result (D1011 or not)', async () => {
    // With 3 groups, the interpreter's shared depth count reaches the limit of 7 but not 8.
    const inputs = [{ items: [{ k: 'a', v: 1 }, { k: 'b', v: 2 }, { k: 'c', v: 3 }] }, { items: [{ k: 'a', v: 1 }] }];
    const before = mappingStats.reruns;
    for (const stack of [6, 7, 8, 9, 12]) {
      const tight = { timeout: 1000, stack, sequence: 1000 };
      for (const text of ['items{k: $sum(v)}', '($f := function($o) { {"x": $o.v, "y": [$o.k, $o.v]} }; items.$f($))']) {
        const m = compileMapping(text, tight);
        assert.equal(m.compiled, true, m.reason);
        for (const input of inputs) assert.equal(await differ(text, input, undefined, tight, m), undefined, `${text} (stack ${stack})`);
      }
    }
    assert.ok(mappingStats.reruns > before, 'some evaluations were handed to the interpreter');
  });
});

describe('the interface', () => {
  test('evaluate is synchronous for compiled mappings and returns a Promise when it falls back', async () => {
    const compiled = compileMapping('{"a": a}', runtimeLimits);
    assert.equal(compiled.compiled, true);
    assert.deepEqual({ ...(compiled.evaluate({ a: 1 }) as object) }, { a: 1 });
    const fallback = compileMapping('$eval("1 + 1")', runtimeLimits);
    assert.equal(fallback.compiled, false);
    const pending = fallback.evaluate({});
    assert.ok(pending instanceof Promise);
    assert.equal(await pending, 2);
  });

  test('an object constructor with a duplicate key falls back (the interpreter raises D1009)', async () => {
    const m = compileMapping('{"a": 1, "a": 2}', runtimeLimits);
    assert.equal(m.compiled, false);
    assert.match(m.reason ?? '', /duplicate key/);
    await assert.rejects(m.evaluate({}) as Promise<unknown>, { code: 'D1009' });
  });

  test('a fallback says why, with the position of the construct', () => {
    const m = compileMapping('Account.Order@$o.Product', runtimeLimits);
    assert.equal(m.compiled, false);
    assert.match(m.reason ?? '', /context\/positional variable bindings.*\(at position \d+\)/);
  });

  test('syntax errors are thrown exactly as jsonata throws them', () => {
    for (const text of ['{ "a": ', 'a.(', '$f(', '"unterminated']) {
      let expected: { code?: string; position?: number; message?: string } = {};
      try {
        jsonata(text);
      } catch (error) {
        expected = error as typeof expected;
      }
      assert.throws(() => compileMapping(text, runtimeLimits), (error: typeof expected) => {
        assert.equal(error.code, expected.code);
        assert.equal(error.position, expected.position);
        assert.equal(error.message, expected.message);
        return true;
      });
    }
  });

  test('runtime errors carry the interpreter code, message and position', async () => {
    const text = '{"x": $number(a)}';
    const m = compileMapping(text, runtimeLimits);
    const fromCompiled = (() => {
      try {
        m.evaluate({ a: 'abc' });
      } catch (error) {
        return error as { code: string; message: string; position: number };
      }
    })();
    const fromInterpreter = await jsonata(text).evaluate({ a: 'abc' }).catch((error: unknown) => error as { code: string; message: string; position: number });
    assert.equal(fromCompiled?.code, 'D3030');
    assert.equal(fromCompiled?.message, fromInterpreter.message);
    assert.equal(fromCompiled?.position, fromInterpreter.position);
  });

  test('a function passed as a binding is handed to the interpreter (it may be asynchronous)', async () => {
    const m = compileMapping('$f(1)', runtimeLimits);
    assert.equal(m.compiled, true);
    const result = m.evaluate({}, { f: async (x: number) => x + 1 });
    assert.ok(result instanceof Promise);
    assert.equal(await result, 2);
  });

  test('a binding that shadows a built-in is honoured (through the interpreter)', async () => {
    const m = compileMapping('$uppercase', runtimeLimits);
    assert.equal(await m.evaluate({}, { uppercase: 'shadowed' }), 'shadowed');
  });

  test('the command line lists every connector mapping as compiled', () => {
    const out = execFileSync(process.execPath, ['runtime/kit/cli.ts', 'mappings'], { cwd: resolve(import.meta.dirname, '..'), encoding: 'utf8' });
    const lines = out.trim().split('\n');
    assert.ok(lines.length >= 2);
    for (const line of lines) assert.match(line, /^connectors\/.+\/mappings\/.+\.jsonata: compiled$/);
  });

  test('the generated source embeds expression strings as JSON literals only', () => {
    const source = mappingSource('{"a\\"); globalThis.x = 1; (\\"": `we"ird`.b}', runtimeLimits) ?? '';
    assert.ok(source.includes(JSON.stringify('a"); globalThis.x = 1; ("')));
    assert.ok(!source.includes('globalThis.x = 1;\n'));
  });
});
