/**
 * Everything generated code may call, gathered in one object (passed to the generated module as
 * its only link to the outside: no globals are reachable from generated code), plus the helpers
 * that exist only for generated code: fast field paths, lambdas, partial application, chains and
 * transforms.
 */
import { apply, call, sortBy } from './apply.ts';
import { builtins, transformSignature, type Builtin } from './builtins.ts';
import { jerr, populateMessage } from './errors.ts';
import {
  arith, at, boolize, compare, concat, consPush, descendants, equal, group, includes, indexFilter, keepPath,
  literalGroupContexts, markCons, negate, pathInput, range, selects, stepResult, wildcard,
} from './ops.ts';
import { makeRegex } from './strings.ts';
import {
  Fn, RESTART, Thunk, binding, restart, boolean, ctx, isArrayOfStrings, isFunction, isSeq, keysOf, lookup, newState, norm, normKeep,
  overflow, seq, seq1, spush, tcheck, tick, type FnRun, type State,
} from './values.ts';

const hasOwn = Object.prototype.hasOwnProperty;

/** Marks a variable of a frame that has not been bound yet (lookups then go to the enclosing frame). */
export const U: unique symbol = Symbol('unset');

/** The `?` of a partial application. */
export const PLACEHOLDER: unique symbol = Symbol('placeholder');

export function dchk(st: State, depth: number): void {
  if (st.limits.stack > 0 && depth > st.limits.stack) overflow(st);
}

/** A field of a non-array value: own properties of objects only (lookup without the array case). */
export function field(v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object' || !hasOwn.call(v, key) || isFunction(v)) return undefined;
  return (v as Record<string, unknown>)[key];
}

/** evaluatePath for a path of plain field names, where `depth` is the steps' depth (0: checked at compile time). */
export function names(st: State, x: unknown, keys: string[], depth: number): unknown {
  let cur = x;
  for (let i = 0; i < keys.length; i++) {
    if (Array.isArray(cur)) return namesGeneral(st, x, keys, depth);
    if (depth !== 0) dchk(st, depth);
    if (cur === null || typeof cur !== 'object') return undefined;
    const key = keys[i] as string;
    if (!hasOwn.call(cur, key) || isFunction(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
    if (cur === undefined) return undefined;
  }
  if (Array.isArray(cur) && isSeq(cur)) return namesGeneral(st, x, keys, depth);
  return cur;
}

function namesGeneral(st: State, x: unknown, keys: string[], depth: number): unknown {
  let input: unknown[] = pathInput(st, x);
  let rs: unknown[] = input;
  for (let i = 0; i < keys.length; i++) {
    const res = seq();
    for (let j = 0; j < input.length; j++) {
      tick(st);
      if (depth !== 0) dchk(st, depth);
      const v = norm(lookup(st, input[j], keys[i] as string));
      if (v !== undefined) spush(st, res, v);
    }
    rs = stepResult(st, res, i === keys.length - 1);
    if (rs.length === 0) break;
    input = rs;
  }
  return rs;
}

export function lambda(arity: number, sig: Fn['sig'], run: FnRun): Fn {
  return new Fn(arity, sig, run, arity, run);
}

/** partialApplyProcedure / partialApplyNativeFunction. */
export function partial(proc: unknown, args: unknown[], position: number | undefined, token: string | undefined): Fn {
  if (proc instanceof Fn && proc.perr !== undefined) {
    const { code, ...fields } = proc.perr;
    throw jerr(code, { ...fields });
  }
  if (proc instanceof Fn && proc.slots !== undefined && proc.prun !== undefined) {
    const slots = proc.slots;
    const prun = proc.prun;
    let unbound = 0;
    for (let i = 0; i < slots; i++) if (args[i] === PLACEHOLDER) unbound++;
    const run: FnRun = (st, dep, a, input) => {
      const full = new Array<unknown>(slots);
      let k = 0;
      for (let i = 0; i < slots; i++) full[i] = args[i] === PLACEHOLDER ? a[k++] : args[i];
      return prun(st, dep, full, input);
    };
    const fn = new Fn(unbound, undefined, run, unbound, run);
    fn.kind = 'partial';
    return fn;
  }
  // A host function or a regex: the interpreter partially applies it from its source text; let it.
  if (isFunction(proc)) throw RESTART;
  throw jerr('T1008', { position, token });
}

/** `$f ~> $g`: the interpreter's λ($x){ $g($f($x)) }, a tail call. */
export function chain(f: unknown, g: unknown): Fn {
  const run: FnRun = (st, dep, a) => {
    tcheck(st);
    dchk(st, dep + 1);
    return new Thunk(
      (d) => {
        dchk(st, d + 1);
        return g;
      },
      (d) => {
        dchk(st, d + 1);
        dchk(st, d + 2);
        return [norm(call(st, d + 1, f, [a[0]], null, undefined, 'f'))];
      },
    );
  };
  return new Fn(1, undefined, run, 1, run);
}

export function transformer(run: FnRun): Fn {
  const fn = new Fn(1, transformSignature, run, 1, run);
  fn.kind = 'native';
  return fn;
}

function setProp(target: unknown, key: string, value: unknown): void {
  if (target === null || (typeof target !== 'object' && typeof target !== 'function')) {
    throw new TypeError(`Cannot create property '${key}' on ${typeof target}`);
  }
  // A key named __proto__ stays data: never a prototype change.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else (target as Record<string, unknown>)[key] = value;
}

export function transformUpdate(match: unknown, update: unknown, position: number | undefined): void {
  if (update === undefined) return;
  if (typeof update !== 'object' || update === null || Array.isArray(update)) throw jerr('T2011', { position, value: update });
  if (isFunction(update)) throw RESTART;
  for (const key of keysOf(update)) setProp(match, key, (update as Record<string, unknown>)[key]);
}

export function transformDelete(match: unknown, deletions: unknown, position: number | undefined): void {
  if (deletions === undefined) return;
  const list = Array.isArray(deletions) ? deletions : [deletions];
  if (!isArrayOfStrings(list)) throw jerr('T2012', { position, value: deletions });
  for (const key of list as string[]) {
    if (typeof match === 'object' && match !== null) delete (match as Record<string, unknown>)[key];
  }
}

/** fn.trim on a string (the regex is skipped when it would change nothing). */
export function trimString(str: string): string {
  let plain = true;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c === 9 || c === 10 || c === 13 || (c === 32 && str.charCodeAt(i + 1) === 32)) {
      plain = false;
      break;
    }
  }
  let result = plain ? str : str.replace(/[ \t\n\r]+/gm, ' ');
  if (result.charAt(0) === ' ') result = result.substring(1);
  if (result.charAt(result.length - 1) === ' ') result = result.substring(0, result.length - 1);
  return result;
}

/** fn.string on a finite number: integers as they are, others to 15 significant digits. */
export function numberString(n: number): string {
  return JSON.stringify(Number.isInteger(n) ? n : Number(n.toPrecision(15)));
}

/** fn.length on a string: code points. */
export function stringLength(str: string): number {
  let n = 0;
  for (const _ of str) n++;
  return n;
}

/** The input as the interpreter sees it: an array is wrapped in a one-item sequence. */
export function wrapInput(st: State, input: unknown): unknown {
  if (Array.isArray(input) && !isSeq(input)) {
    const wrapper = seq1(st, input);
    wrapper.outerWrapper = true;
    return wrapper;
  }
  return input;
}

const B = Object.create(null) as Record<string, Builtin>;
for (const [name, b] of builtins) B[name] = b;

const isArray = Array.isArray;

/**
 * The objects of object constructors with literal keys: like Object.create(null), nothing is
 * inherited (the prototype is an empty null-prototype object), but V8 gives them a fast layout.
 */
function Obj(this: object): void {}
Obj.prototype = Object.create(null) as object;

export const runtime = Object.freeze({
  isArray, hasOwn, Obj, U, PLACEHOLDER, B, Fn, Thunk, RESTART, restart,
  newState, tcheck, tick, overflow, dchk, seq, seq1, spush, isSeq, norm, normKeep, isFunction, lookup, boolean, ctx,
  binding, jerr, populateMessage, wrapInput,
  arith, at, boolize, compare, concat, consPush, descendants, equal, group, includes, indexFilter, keepPath,
  literalGroupContexts, markCons, negate, pathInput, range, selects, stepResult, wildcard,
  apply, call, sortBy, makeRegex, names, field, lambda, partial, chain, transformer, transformUpdate, transformDelete,
  trimString, stringLength, numberString,
});
