/**
 * Function application as the interpreter does it (apply / applyInner with its tail-call
 * trampoline, argument wrapping, error decoration), the higher-order built-ins and order-by,
 * all synchronous. `dep` is always the depth of the node that makes the call: a lambda body
 * runs at dep + 1, exactly where the interpreter's depth counter would be.
 */
import { jerr, type JsonataError } from './errors.ts';
import {
  Fn, RESTART, Restart, Thunk, bool, getArity, isArrayOfNumbers, isArrayOfStrings, isFunction, keysOf, seq, spush, tick,
  type Seq, type State,
} from './values.ts';

const hasOwn = Object.prototype.hasOwnProperty;

function field(v: unknown, key: string): unknown {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && hasOwn.call(v, key)
    ? (v as Record<string, unknown>)[key]
    : undefined;
}

function isThenable(v: unknown): boolean {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** applyInner: validate against the signature, then run a lambda, a built-in or a host function. */
function applyInner(st: State, dep: number, proc: unknown, args: unknown[], input: unknown): unknown {
  if (proc instanceof Fn) {
    const validated = proc.sig === undefined ? args : proc.sig.validate(args, input);
    return proc.run(st, dep, validated, input);
  }
  if (typeof proc === 'function') {
    const sig = field(proc, 'signature') as { validate?: (a: unknown[], c: unknown) => unknown[] } | undefined;
    const validated = sig === undefined ? args : (sig.validate as (a: unknown[], c: unknown) => unknown[])(args, input);
    const result: unknown = proc.apply(input, validated);
    if (isThenable(result)) throw new TypeError('a compiled mapping cannot call a function that returns a promise');
    return result;
  }
  // Data that imitates an interpreter function (`{"_jsonata_lambda": true}`): the interpreter decides.
  if (proc !== null && typeof proc === 'object' && isFunction(proc)) throw RESTART;
  throw jerr('T1006');
}

/** apply: applyInner, then resolve tail calls (thunks) at the caller's depth. */
export function apply(st: State, dep: number, proc: unknown, args: unknown[], input: unknown): unknown {
  let result = applyInner(st, dep, proc, args, input);
  while (result instanceof Thunk) {
    tick(st);
    const next = result.proc(dep);
    if (next === undefined || next === null || (typeof next !== 'object' && typeof next !== 'function')) {
      throw new TypeError(`Cannot set properties of ${String(next)} (setting 'token')`);
    }
    result = applyInner(st, dep, next, result.args(dep), input);
  }
  return result;
}

/** A function passed as an argument reaches the callee wrapped, as the interpreter's closure does. */
export function wrap(f: unknown): Fn {
  const fn = new Fn(getArity(f), undefined, (st, dep, args) => apply(st, dep, f, args, null));
  fn.kind = 'wrapper';
  return fn;
}

/**
 * A built-in calling a function argument with `func.apply(this, args)`, as jsonata's do. A partial
 * application or a built-in reaching it unwrapped (through a tail call) has no `apply` method there.
 */
export function applyArg(st: State, dep: number, func: unknown, args: unknown[]): unknown {
  if (func instanceof Fn && (func.kind === 'partial' || func.kind === 'native')) throw new TypeError('func.apply is not a function');
  return apply(st, dep, func, args, null);
}

/** evaluateFunction once the procedure and arguments are known: wrap function arguments, apply, decorate errors. */
export function call(
  st: State, dep: number, proc: unknown, args: unknown[], input: unknown, position: number | undefined, name: string | undefined, from = 0,
): unknown {
  for (let i = from; i < args.length; i++) if (isFunction(args[i])) args[i] = wrap(args[i]);
  try {
    return apply(st, dep, proc, args, input);
  } catch (error) {
    throw decorate(error, position, name);
  }
}

export function decorate(error: unknown, position: number | undefined, name: string | undefined): unknown {
  if (error !== null && typeof error === 'object' && !(error instanceof Restart)) {
    const e = error as JsonataError;
    if (!e.position) e.position = position;
    if (!e.token) e.token = name;
  }
  return error;
}

/** hofFuncArgs: the value, then the index and the whole array if the function takes them. */
function hofArgs(func: unknown, a1: unknown, a2: unknown, a3: unknown): unknown[] {
  const args = [a1];
  const arity = getArity(func);
  if (arity >= 2) args.push(a2);
  if (arity >= 3) args.push(a3);
  return args;
}

export function map(st: State, dep: number, arr: unknown[] | undefined, func: unknown): Seq | undefined {
  if (arr === undefined) return undefined;
  const result = seq();
  for (let i = 0; i < arr.length; i++) {
    const res = applyArg(st, dep, func, hofArgs(func, arr[i], i, arr));
    if (res !== undefined) spush(st, result, res);
  }
  return result;
}

export function filterFn(st: State, dep: number, arr: unknown[] | undefined, func: unknown): Seq | undefined {
  if (arr === undefined) return undefined;
  const result = seq();
  for (let i = 0; i < arr.length; i++) {
    const entry = arr[i];
    if (bool(applyArg(st, dep, func, hofArgs(func, entry, i, arr)))) spush(st, result, entry);
  }
  return result;
}

export function single(st: State, dep: number, arr: unknown[] | undefined, func: unknown): unknown {
  if (arr === undefined) return undefined;
  let found = false;
  let result: unknown;
  for (let i = 0; i < arr.length; i++) {
    const entry = arr[i];
    let positive = true;
    if (func !== undefined) positive = bool(applyArg(st, dep, func, hofArgs(func, entry, i, arr)));
    if (positive) {
      if (found) throw jerr('D3138', { index: i });
      result = entry;
      found = true;
    }
  }
  if (!found) throw jerr('D3139');
  return result;
}

export function reduce(st: State, dep: number, sequence: unknown[] | undefined, func: unknown, init: unknown): unknown {
  if (sequence === undefined) return undefined;
  const arity = getArity(func);
  if (arity < 2) throw jerr('D3050', { index: 1 });
  let result: unknown;
  let index: number;
  if (init === undefined && sequence.length > 0) {
    result = sequence[0];
    index = 1;
  } else {
    result = init;
    index = 0;
  }
  while (index < sequence.length) {
    const args = [result, sequence[index]];
    if (arity >= 3) args.push(index);
    if (arity >= 4) args.push(sequence);
    result = applyArg(st, dep, func, args);
    index++;
  }
  return result;
}

export function sift(st: State, dep: number, arg: unknown, func: unknown): unknown {
  let result: Record<string, unknown> | undefined = Object.create(null) as Record<string, unknown>;
  for (const key of keysOf(arg)) {
    const entry = (arg as Record<string, unknown>)[key];
    if (bool(applyArg(st, dep, func, hofArgs(func, entry, key, arg)))) result[key] = entry;
  }
  if (keysOf(result).length === 0) result = undefined;
  return result;
}

export function each(st: State, dep: number, obj: unknown, func: unknown): Seq {
  const result = seq();
  for (const key of keysOf(obj)) {
    const val = applyArg(st, dep, func, hofArgs(func, (obj as Record<string, unknown>)[key], key, obj));
    if (val !== undefined) spush(st, result, val);
  }
  return result;
}

/** fn.sort's stable merge sort, comparing in exactly the same order (iterative merge). */
function mergeSort(st: State, array: unknown[], swap: (a: unknown, b: unknown) => boolean): unknown[] {
  if (array.length <= 1) return array;
  const middle = Math.floor(array.length / 2);
  const left = mergeSort(st, array.slice(0, middle), swap);
  const right = mergeSort(st, array.slice(middle), swap);
  const merged: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    if (swap(left[i], right[j])) merged.push(right[j++]);
    else merged.push(left[i++]);
  }
  while (j < right.length) merged.push(right[j++]);
  while (i < left.length) merged.push(left[i++]);
  return merged;
}

/** `$sort(array, function?)`. */
export function sortFn(st: State, dep: number, arr: unknown[] | undefined, comparator: unknown): unknown {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  if (comparator === undefined) {
    if (!isArrayOfNumbers(arr) && !isArrayOfStrings(arr)) throw jerr('D3070', { index: 1 });
    return mergeSort(st, arr, (a, b) => (a as number) > (b as number));
  }
  // fn.sort calls its comparator directly: only a wrapper (a JS function in the interpreter) can be.
  return mergeSort(st, arr, (a, b) => {
    if (comparator instanceof Fn && comparator.kind !== 'wrapper') throw new TypeError('comp is not a function');
    return Boolean(apply(st, dep, comparator, [a, b], null));
  });
}

export interface SortTerm {
  descending: boolean;
  value: (item: unknown) => unknown;
}

/** evaluateSortExpression (`^(...)`) over an input sequence. */
export function sortBy(st: State, input: unknown[], terms: SortTerm[], position?: number): unknown[] {
  const swap = (a: unknown, b: unknown): boolean => {
    tick(st);
    let comp = 0;
    for (let index = 0; comp === 0 && index < terms.length; index++) {
      const term = terms[index] as SortTerm;
      const aa = term.value(a);
      const bb = term.value(b);
      const at = typeof aa;
      const bt = typeof bb;
      if (at === 'undefined') {
        comp = bt === 'undefined' ? 0 : 1;
        continue;
      }
      if (bt === 'undefined') {
        comp = -1;
        continue;
      }
      if (!(at === 'string' || at === 'number') || !(bt === 'string' || bt === 'number')) {
        throw jerr('T2008', { position, value: !(at === 'string' || at === 'number') ? aa : bb });
      }
      if (at !== bt) throw jerr('T2007', { position, value: aa, value2: bb });
      if (aa === bb) continue;
      comp = (aa as number) < (bb as number) ? -1 : 1;
      if (term.descending) comp = -comp;
    }
    return comp === 1;
  };
  if (input.length <= 1) return input;
  return mergeSort(st, input, swap);
}
