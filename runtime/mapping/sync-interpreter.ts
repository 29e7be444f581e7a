/**
 * The jsonata interpreter, run synchronously. jsonata evaluates with async functions, but nothing
 * in it waits for I/O or timers: every await resolves through the microtask queue. A vm context
 * created with `microtaskMode: 'afterEvaluate'` drains its own microtask queue before
 * `runInContext` returns, so an evaluation started inside it has settled by then.
 *
 * Compiled mappings use it in one rare case: when an error is raised inside a constructor whose
 * items the interpreter evaluates concurrently (which error surfaces first, and with which depth
 * count, depends on the interleaving). The evaluation is then re-run here, so the answer is the
 * interpreter's own. Only the jsonata package's code runs in the context; the expression is data
 * given to its parser.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';

interface Realm {
  context: vm.Context;
  arrayPrototype: object;
  objectPrototype: object;
}

let realm: Realm | undefined;
const start = new vm.Script('__out = undefined; __expr.evaluate(__input, __bindings).then((v) => { __out = { ok: v }; }, (e) => { __out = { err: e }; });');

function getRealm(): Realm {
  if (realm !== undefined) return realm;
  const source = readFileSync(createRequire(import.meta.url).resolve('jsonata'), 'utf8');
  const context = vm.createContext(Object.create(null) as object, { microtaskMode: 'afterEvaluate', codeGeneration: { strings: false, wasm: false } });
  vm.runInContext(`var module = { exports: {} }; var exports = module.exports;\n${source}\n;globalThis.jsonata = module.exports;`, context);
  realm = {
    context,
    arrayPrototype: vm.runInContext('Array.prototype', context) as object,
    objectPrototype: vm.runInContext('Object.prototype', context) as object,
  };
  return realm;
}

/** Values made in the context become values of this realm (null-prototype objects stay so). */
function adopt(r: Realm, value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 10_000) return value;
  const proto = Object.getPrototypeOf(value) as object | null;
  if (Array.isArray(value)) {
    if (proto !== r.arrayPrototype) return value;
    return value.map((item: unknown) => adopt(r, item, depth + 1));
  }
  if (proto !== null && proto !== r.objectPrototype) return value;
  if ('_jsonata_lambda' in value || '_jsonata_function' in value) return value;
  const copy = (proto === null ? Object.create(null) : {}) as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    Object.defineProperty(copy, key, { value: adopt(r, (value as Record<string, unknown>)[key], depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

export interface SyncExpression {
  evaluate(input: unknown, bindings?: Record<string, unknown>): unknown;
}

export function syncInterpreter(text: string, options: { timeout: number; stack: number; sequence: number }): SyncExpression {
  let expression: unknown;
  return {
    evaluate(input, bindings) {
      const r = getRealm();
      const ctx = r.context as Record<string, unknown>;
      expression ??= (ctx.jsonata as (t: string, o: object) => unknown)(text, { ...options });
      ctx.__expr = expression;
      ctx.__input = input;
      ctx.__bindings = bindings;
      start.runInContext(r.context);
      const out = ctx.__out as { ok?: unknown; err?: unknown } | undefined;
      ctx.__input = ctx.__bindings = ctx.__out = undefined;
      if (out === undefined) throw new Error('the interpreter did not settle synchronously');
      if ('err' in out) throw adopt(r, out.err);
      return adopt(r, out.ok);
    },
  };
}
