/**
 * Operators and path machinery called by generated code, each the synchronous twin of the
 * interpreter function named in its comment (jsonata 2.2 `evaluateX`).
 */
import { jerr, type JsonataError } from './errors.ts';
import {
  RESTART, Restart, append, boolean, deepEqual, flatten, isArrayOfNumbers, isFunction, isNumeric, isSeq, keysOf, seq, seq1, spush, string, tick,
  type Seq, type State,
} from './values.ts';

/** Place an error on an operator (the interpreter's evaluateBinary catch). */
export function at(error: JsonataError, position: number | undefined, token: string): JsonataError {
  if (error instanceof Restart) return error;
  error.position = position;
  error.token = token;
  return error;
}

/** evaluateNumericExpression (+ - * / %), errors placed on the operator. */
export function arith(l: unknown, r: unknown, op: string, position?: number): number | undefined {
  if (l !== undefined && !numericAt(l, op, position)) throw at(jerr('T2001', { value: l }), position, op);
  if (r !== undefined && !numericAt(r, op, position)) throw at(jerr('T2002', { value: r }), position, op);
  if (l === undefined || r === undefined) return undefined;
  const a = l as number;
  const b = r as number;
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return a / b;
    default: return a % b;
  }
}

function numericAt(v: unknown, op: string, position: number | undefined): boolean {
  try {
    return isNumeric(v);
  } catch (error) {
    throw at(error as JsonataError, position, op);
  }
}

/** evaluateComparisonExpression (< <= > >=). */
export function compare(l: unknown, r: unknown, op: string, position?: number): boolean | undefined {
  const lt = typeof l;
  const rt = typeof r;
  const lc = lt === 'undefined' || lt === 'string' || lt === 'number';
  const rc = rt === 'undefined' || rt === 'string' || rt === 'number';
  if (!lc || !rc) {
    throw at(jerr('T2010', { value: !(lt === 'string' || lt === 'number') ? l : r }), position, op);
  }
  if (lt === 'undefined' || rt === 'undefined') return undefined;
  if (lt !== rt) throw at(jerr('T2009', { value: l, value2: r }), position, op);
  const a = l as number;
  const b = r as number;
  switch (op) {
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    default: return a >= b;
  }
}

/** evaluateEqualityExpression. */
export function equal(l: unknown, r: unknown): boolean {
  if (l === undefined || r === undefined) return false;
  return deepEqual(l, r);
}

/** evaluateIncludesExpression (`in`): strict equality against each item. */
export function includes(l: unknown, r: unknown): boolean {
  if (l === undefined || r === undefined) return false;
  const items = Array.isArray(r) ? r : [r];
  for (let i = 0; i < items.length; i++) if (items[i] === l) return true;
  return false;
}

/** evaluateStringConcat (`&`). */
export function concat(l: unknown, r: unknown, position?: number): string {
  try {
    const a = l === undefined ? '' : typeof l === 'string' ? l : (string(l) as string);
    const b = r === undefined ? '' : typeof r === 'string' ? r : (string(r) as string);
    return a + b;
  } catch (error) {
    throw at(error as JsonataError, position, '&');
  }
}

/** The truth value used by `and`/`or` (boolize). */
export function boolize(v: unknown, position: number | undefined, op: string): boolean {
  try {
    return boolean(v) ?? false;
  } catch (error) {
    throw at(error as JsonataError, position, op);
  }
}

/** Unary minus. */
export function negate(v: unknown, position?: number): number | undefined {
  if (v === undefined) return undefined;
  if (isNumeric(v)) return -v;
  throw jerr('D1002', { position, token: '-', value: v });
}

/** evaluateRangeExpression (`..`). */
export function range(st: State, l: unknown, r: unknown, position?: number): Seq | undefined {
  try {
    if (l !== undefined && !Number.isInteger(l)) throw jerr('T2003', { value: l });
    if (r !== undefined && !Number.isInteger(r)) throw jerr('T2004', { value: r });
    if (l === undefined || r === undefined) return undefined;
    const lo = l as number;
    const hi = r as number;
    if (lo > hi) return undefined;
    const size = hi - lo + 1;
    if (size > 1e7) throw jerr('D2014', { value: size });
    if (size > st.limits.sequence) throw jerr('D2015', { value: size });
    const result = new Array(size) as Seq;
    for (let item = lo, i = 0; item <= hi; item++, i++) result[i] = item;
    result.sequence = true;
    return result;
  } catch (error) {
    throw at(error as JsonataError, position, '..');
  }
}

/** Array constructor: an item that is itself `[...]` is kept whole, others are appended (flattened). */
export function consPush(st: State, result: unknown[], value: unknown, whole: boolean): unknown[] {
  if (value === undefined) return result;
  if (whole) {
    result.push(value);
    return result;
  }
  return append(st, result, value) as unknown[];
}

export function markCons(result: unknown[]): unknown[] {
  Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
  return result;
}

/** The input sequence of a path: an array as is (unless the path starts with a variable), else a one-item sequence. */
export function pathInput(st: State, x: unknown): unknown[] {
  return Array.isArray(x) ? x : seq1(st, x);
}

/** The end of evaluateStep: a last step that gave one plain array returns it; otherwise flatten one level. */
export function stepResult(st: State, result: Seq, last: boolean): Seq {
  if (last && result.length === 1 && Array.isArray(result[0]) && !isSeq(result[0])) return result[0] as Seq;
  const out = seq();
  for (const res of result) {
    if (!Array.isArray(res) || (res as Seq).cons) spush(st, out, res);
    else for (const v of res) spush(st, out, v);
  }
  return out;
}

/** The end of evaluatePath for `[]`-marked paths (keepSingletonArray). */
export function keepPath(st: State, r: unknown): unknown {
  let rs = r as Seq;
  if (Array.isArray(rs) && rs.cons && !rs.sequence) rs = seq1(st, rs);
  rs.keepSingleton = true;
  return rs;
}

/** evaluateFilter for a literal number predicate. */
export function indexFilter(st: State, input: unknown, n: number): unknown {
  const items: unknown[] = Array.isArray(input) ? input : seq1(st, input);
  let index = Math.floor(n);
  if (index < 0) index = items.length + index;
  const item = items[index];
  const results = seq();
  if (item !== undefined) {
    if (Array.isArray(item)) return item;
    results.push(item);
  }
  return results;
}

/** The inner test of evaluateFilter: does predicate result `res` select the item at `index`? */
export function selects(res: unknown, index: number, length: number): number {
  let r = res;
  if (isNumeric(r)) r = [r];
  if (isArrayOfNumbers(r)) {
    let hits = 0;
    for (const n of r as number[]) {
      let i = Math.floor(n);
      if (i < 0) i = length + i;
      if (i === index) hits++;
    }
    return hits;
  }
  return boolean(r) ? 1 : 0;
}

/** evaluateFilter with a predicate compiled to `pred(item)`. */
export function filter(st: State, input: unknown, pred: (item: unknown) => unknown): Seq {
  const results = seq();
  if (input && (input as Seq).tupleStream) results.tupleStream = true;
  const items: unknown[] = Array.isArray(input) ? input : seq1(st, input);
  for (let index = 0; index < items.length; index++) {
    tick(st);
    const item = items[index];
    const hits = selects(pred(item), index, items.length);
    for (let h = 0; h < hits; h++) spush(st, results, item);
  }
  return results;
}

/** evaluateWildcard. */
export function wildcard(st: State, x: unknown): unknown {
  let results: unknown[] = seq();
  let input = x;
  if (Array.isArray(input) && (input as Seq).outerWrapper && input.length > 0) input = input[0];
  if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of Object.keys(input)) {
      const value = (input as Record<string, unknown>)[key];
      if (Array.isArray(value)) results = append(st, results, flatten(value)) as unknown[];
      else if (isSeq(results)) spush(st, results, value);
      else results.push(value);
    }
  }
  return results;
}

/** evaluateDescendants. */
export function descendants(st: State, x: unknown): unknown {
  if (x === undefined) return undefined;
  const results = seq();
  recurseDescendants(st, x, results);
  return results.length === 1 ? results[0] : results;
}

function recurseDescendants(st: State, input: unknown, results: Seq): void {
  if (!Array.isArray(input)) spush(st, results, input);
  if (Array.isArray(input)) {
    for (const member of input) recurseDescendants(st, member, results);
  } else if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of Object.keys(input)) recurseDescendants(st, (input as Record<string, unknown>)[key], results);
  }
}

/**
 * The contexts of an object constructor whose keys are all distinct string literals, applied to an
 * array: every item yields every key, so each pair's context is the items appended together.
 */
export function literalGroupContexts(st: State, input: unknown[], pairs: number): unknown[] {
  if (input.length === 0) input.push(undefined);
  const data: unknown[] = new Array(pairs);
  for (let i = 0; i < input.length; i++) {
    const item = input[i];
    for (let p = 0; p < pairs; p++) data[p] = i === 0 ? item : append(st, data[p], item);
  }
  return data;
}

/** evaluateGroupExpression with computed keys (no tuple stream): `key(item, pair)` then `value(context, pair)`. */
export function group(
  st: State,
  x: unknown,
  pairs: number,
  key: (item: unknown, pair: number) => unknown,
  value: (context: unknown, pair: number) => unknown,
  position?: number,
  depth = 0,
  perGroup = 0,
): Record<string, unknown> {
  const result = Object.create(null) as Record<string, unknown>;
  const groups = Object.create(null) as Record<string, { data: unknown; exprIndex: number }>;
  const input: unknown[] = Array.isArray(x) ? x : seq1(st, x);
  if (input.length === 0) input.push(undefined);
  for (let i = 0; i < input.length; i++) {
    tick(st);
    const item = input[i];
    for (let p = 0; p < pairs; p++) {
      const k = key(item, p);
      if (typeof k !== 'string' && k !== undefined) throw jerr('T1003', { position, value: k });
      if (k === undefined) continue;
      if (k === '_jsonata_lambda' || k === '_jsonata_function') throw jerr('D1013', { position, value: k });
      const found = groups[k];
      if (found !== undefined) {
        if (found.exprIndex !== p) throw jerr('D1009', { position, value: k });
        found.data = append(st, found.data, item);
      } else {
        groups[k] = { data: item, exprIndex: p };
      }
    }
  }
  const keys = keysOf(groups);
  // The interpreter evaluates the groups' values concurrently: near the stack limit, only it knows.
  if (perGroup > 0 && keys.length >= 2 && depth + keys.length * perGroup > st.limits.stack) throw RESTART;
  for (const k of keys) {
    const entry = groups[k] as { data: unknown; exprIndex: number };
    const v = value(entry.data, entry.exprIndex);
    if (v !== undefined) result[k] = v;
  }
  return result;
}
