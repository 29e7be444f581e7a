/**
 * The value model of JSONata, shared by generated code: sequences (arrays flagged `sequence`),
 * singleton unwrapping, flattening, own-property lookup, deep equality, and the evaluation state
 * that carries the guardrails. Each function mirrors the jsonata 2.2 interpreter line for line;
 * they are synchronous versions of the same algorithms.
 */
import { jerr } from './errors.ts';

/** An array as the interpreter builds it, with its marker fields. */
export type Seq = unknown[] & {
  sequence?: boolean;
  keepSingleton?: boolean;
  cons?: boolean;
  outerWrapper?: boolean;
  tupleStream?: boolean;
};

/** What a compiled function needs when it runs. */
export type FnRun = (st: State, dep: number, args: unknown[], input: unknown) => unknown;

/**
 * A function value made by compiled code: a lambda, a built-in referenced as a value, a partial
 * application, a chain. `run` receives the depth of the calling node (the body runs one deeper).
 */
export class Fn {
  arity: number;
  sig: Validator | undefined;
  run: FnRun;
  /** For partial application: how many parameters, and the run that takes them all unvalidated. */
  slots: number | undefined;
  prun: FnRun | undefined;
  /**
   * What the interpreter's value would be, which decides how its built-ins can call it when it is
   * passed unwrapped (by a tail call or a partial application): a lambda object has an `apply`
   * method but cannot be called directly; a partial application and a built-in (or transform)
   * definition have neither; a wrapper (what a normal call passes) is a plain JS function.
   */
  kind: 'lambda' | 'partial' | 'native' | 'wrapper' = 'lambda';
  /** A built-in (or transform) function: the interpreter's `_jsonata_function`, not a lambda. */
  get native(): boolean {
    return this.kind === 'native';
  }
  /** The error a partial application raises (jsonata parses a signature from the source of some built-ins and fails). */
  perr: { code: string; position?: number; token?: string; value?: unknown } | undefined;
  constructor(arity: number, sig: Validator | undefined, run: FnRun, slots?: number, prun?: FnRun) {
    this.arity = arity;
    this.sig = sig;
    this.run = run;
    this.slots = slots;
    this.prun = prun;
    this.perr = undefined;
  }
}
// jsonata's own helpers (signature validation, reused built-ins) see a Fn as a lambda.
Object.defineProperty(Fn.prototype, '_jsonata_lambda', { value: true, enumerable: false });

/** The tail call of a lambda body, resolved by `apply` at the depth of the caller (jsonata's thunk). */
export class Thunk {
  proc: (dep: number) => unknown;
  args: (dep: number) => unknown[];
  constructor(proc: (dep: number) => unknown, args: (dep: number) => unknown[]) {
    this.proc = proc;
    this.args = args;
  }
}

/**
 * Thrown by compiled code when only the interpreter can give the exact answer (an error inside
 * concurrently evaluated items, or a depth count near the limit there): the evaluation is re-run
 * by the interpreter. Never visible to callers.
 */
export class Restart {}
export const RESTART = new Restart();

/** What an error inside guarded items becomes (timeouts stay timeouts: re-running would double the budget). */
export function restart(error: unknown): unknown {
  if (error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'D1012') return error;
  return RESTART;
}

/** A jsonata signature validator (the object its parser attaches to lambdas and built-ins). */
export interface Validator {
  definition: string;
  validate(args: unknown[], context: unknown): unknown[];
}

export interface Limits {
  timeout: number;
  stack: number;
  sequence: number;
}

/** The `this` the interpreter gives built-ins (reused jsonata implementations read it). */
export interface Focus {
  options: Limits;
  createSequence: (...items: unknown[]) => Seq;
  environment: { timestamp: Date };
}

/**
 * Per-evaluation state: guardrails, the `$now()` timestamp, the focus of reused built-ins. The clock
 * is read on first need: by the first guardrail check (the code before it runs no loop and calls
 * no function, so it is bounded by the size of the expression) or by `$now()` / `$millis()`, which
 * then return that same instant for the rest of the evaluation, as the interpreter's do.
 */
export interface State {
  limits: Limits;
  start: number;
  now: number;
  ticks: number;
  focus: Focus | undefined;
}

const hasOwn = Object.prototype.hasOwnProperty;

export function newState(limits: Limits): State {
  return { limits, start: 0, now: 0, ticks: 0, focus: undefined };
}

/** The timestamp of `$now()` and `$millis()`: fixed for the evaluation. */
export function nowOf(st: State): number {
  if (st.now === 0) st.now = Date.now();
  return st.now;
}

export function focusOf(st: State): Focus {
  if (st.focus !== undefined) return st.focus;
  const { limits } = st;
  const createSequence = (...items: unknown[]): Seq => {
    // The sequence the interpreter hands to its built-ins: `push` refuses to pass the limit.
    const s = [] as Seq;
    if (limits.sequence) {
      Object.defineProperty(s, 'push', {
        value: (...more: unknown[]) => {
          if (s.length + more.length > limits.sequence) throw jerr('D2015', { value: limits.sequence });
          return Array.prototype.push.apply(s, more);
        },
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    s.sequence = true;
    if (items.length === 1) s.push(items[0]);
    return s;
  };
  st.focus = {
    options: limits,
    createSequence,
    environment: {
      get timestamp() {
        return new Date(nowOf(st));
      },
    },
  };
  return st.focus;
}

/** The timeout guardrail (D1012); called on lambda entry, trampoline turns and every 1024 loop turns. */
export function tcheck(st: State): void {
  const { timeout } = st.limits;
  if (!(timeout > 0)) return;
  if (st.start === 0) {
    st.start = Date.now();
    return;
  }
  if (Date.now() - st.start > timeout) throw jerr('D1012', { value: timeout });
}

export function tick(st: State): void {
  if ((++st.ticks & 1023) === 1) tcheck(st);
}

export function overflow(st: State): never {
  throw jerr('D1011', { value: st.limits.stack });
}

export function seq(): Seq {
  const s = [] as Seq;
  s.sequence = true;
  return s;
}

/** `createSequence(item)`: a one-item sequence (the item may be undefined). */
export function seq1(st: State, item: unknown): Seq {
  const s = seq();
  spush(st, s, item);
  return s;
}

/** Push into a sequence, with the D2015 guardrail of the interpreter's sequences. */
export function spush(st: State, s: Seq, item: unknown): void {
  const limit = st.limits.sequence;
  if (limit && s.length + 1 > limit) throw jerr('D2015', { value: limit });
  s.push(item);
}

export function isSeq(v: unknown): v is Seq {
  return Array.isArray(v) && (v as Seq).sequence === true;
}

/** The end of the interpreter's `evaluate`: empty sequences vanish, singletons unwrap. */
export function norm(r: unknown): unknown {
  if (Array.isArray(r) && (r as Seq).sequence === true && !(r as Seq).tupleStream) {
    if (r.length === 0) return undefined;
    if (r.length === 1 && !(r as Seq).keepSingleton) return r[0];
  }
  return r;
}

/** `norm` for a node marked `keepArray` (`expr[]`). */
export function normKeep(r: unknown): unknown {
  if (Array.isArray(r) && (r as Seq).sequence === true && !(r as Seq).tupleStream) {
    (r as Seq).keepSingleton = true;
    if (r.length === 0) return undefined;
  }
  return r;
}

/** An own `_jsonata_function` / `_jsonata_lambda` flag (the read is only a fast first test; ownership decides). */
function flagged(v: object): boolean {
  const o = v as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return (o._jsonata_function === true && hasOwn.call(v, '_jsonata_function')) ||
    (o._jsonata_lambda === true && hasOwn.call(v, '_jsonata_lambda'));
}

export function isFunction(v: unknown): boolean {
  if (typeof v === 'function') return true;
  if (v === null || typeof v !== 'object') return false;
  return v instanceof Fn || flagged(v);
}



/** jsonata's isNumeric: a number that is not NaN; infinities are an error (D1001). */
export function isNumeric(n: unknown): n is number {
  if (typeof n !== 'number' || Number.isNaN(n)) return false;
  if (!Number.isFinite(n)) throw jerr('D1001', { value: n });
  return true;
}

export function isArrayOfNumbers(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  let ok = true;
  for (const item of v) if (!isNumeric(item)) ok = false;
  return ok;
}

export function isArrayOfStrings(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const item of v) if (typeof item !== 'string') return false;
  return true;
}

/** Own keys of an object (utils.keys). */
export function keysOf(v: unknown): string[] {
  return typeof v === 'object' && v !== null ? Object.keys(v) : [];
}

/** A field step: own properties only, arrays mapped and flattened one level. */
export function lookup(st: State, input: unknown, key: string): unknown {
  if (Array.isArray(input)) {
    const result = seq();
    for (let i = 0; i < input.length; i++) {
      const res = lookup(st, input[i], key);
      if (res !== undefined) {
        if (Array.isArray(res)) for (const v of res) spush(st, result, v);
        else spush(st, result, res);
      }
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && hasOwn.call(input, key) && !isFunction(input)) {
    return (input as Record<string, unknown>)[key];
  }
  return undefined;
}

/** `$append` and the array constructor: concatenation with the sequence limit. */
export function append(st: State, a: unknown, b: unknown): unknown {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const left: unknown[] = Array.isArray(a) ? a : seq1(st, a);
  const right: unknown[] = Array.isArray(b) ? b : [b];
  const size = left.length + right.length;
  if (size > st.limits.sequence) throw jerr('D2015', { value: size });
  return left.concat(right);
}

export function flatten(arg: unknown, into: unknown[] = []): unknown[] {
  if (Array.isArray(arg)) for (const item of arg) flatten(item, into);
  else into.push(arg);
  return into;
}

/** Effective boolean value ($boolean); undefined stays undefined. */
export function boolean(arg: unknown): boolean | undefined {
  if (arg === undefined) return undefined;
  if (typeof arg === 'boolean') return arg;
  if (typeof arg === 'string') return arg.length > 0;
  if (Array.isArray(arg)) {
    if (arg.length === 1) return boolean(arg[0]) as boolean;
    if (arg.length > 1) {
      let trues = 0;
      for (const v of arg) if (boolean(v)) trues++;
      return trues > 0;
    }
    return false;
  }
  if (isNumeric(arg)) return arg !== 0;
  if (arg !== null && typeof arg === 'object' && !isFunction(arg)) return Object.keys(arg).length > 0;
  return false;
}

export function bool(arg: unknown): boolean {
  return boolean(arg) ?? false;
}

function stringifyReplacer(_key: string, val: unknown): unknown {
  if (val !== undefined && val !== null && isNumeric(val)) {
    return !Number.isInteger(val) ? Number(val.toPrecision(15)) : val;
  }
  return val && isFunction(val) ? '' : val;
}

/** `$string`: strings unchanged, functions '', numbers to 15 significant digits, the rest as JSON. */
export function string(arg: unknown, prettify = false): string | undefined {
  if (arg === undefined) return undefined;
  if (typeof arg === 'string') return arg;
  if (isFunction(arg)) return '';
  if (typeof arg === 'number' && !Number.isFinite(arg)) throw jerr('D3001', { value: arg });
  let value = arg;
  if (Array.isArray(value) && (value as Seq).outerWrapper) value = value[0];
  return JSON.stringify(value, stringifyReplacer, prettify ? 2 : 0) as string;
}

export function deepEqual(lhs: unknown, rhs: unknown): boolean {
  if (lhs === rhs) return true;
  if (lhs instanceof Fn || rhs instanceof Fn) return false;
  if (typeof lhs === 'object' && typeof rhs === 'object' && lhs !== null && rhs !== null) {
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false;
      for (let i = 0; i < lhs.length; i++) if (!deepEqual(lhs[i], rhs[i])) return false;
      return true;
    }
    const lkeys = Object.getOwnPropertyNames(lhs).sort();
    const rkeys = Object.getOwnPropertyNames(rhs).sort();
    if (lkeys.length !== rkeys.length) return false;
    for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
    for (const key of lkeys) {
      if (!deepEqual((lhs as Record<string, unknown>)[key], (rhs as Record<string, unknown>)[key])) return false;
    }
    return true;
  }
  return false;
}

/** The value of `$`: the context, without the wrapper the interpreter puts around an input array. */
export function ctx(x: unknown): unknown {
  return x !== null && typeof x === 'object' && hasOwn.call(x, 'outerWrapper') && (x as Seq).outerWrapper ? (x as unknown[])[0] : x;
}

/** A binding passed at evaluation time (own enumerable keys only, as the interpreter copies them). */
export function binding(bindings: unknown, name: string): unknown {
  if (typeof bindings === 'object' && bindings !== null && Object.prototype.propertyIsEnumerable.call(bindings, name)) {
    return (bindings as Record<string, unknown>)[name];
  }
  return undefined;
}

export function getArity(f: unknown): number {
  if (f instanceof Fn) return f.arity;
  const g = f as { arity?: unknown; implementation?: unknown; length?: unknown; arguments?: { length: number } };
  if (typeof g.arity === 'number') return g.arity;
  if (typeof g.implementation === 'function') return g.implementation.length;
  if (typeof g.length === 'number') return g.length;
  return (g.arguments as { length: number }).length;
}
