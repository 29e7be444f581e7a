/**
 * The built-in functions for compiled mappings. Each built-in keeps jsonata's own signature
 * validator (same T0410/T0411/T0412 errors, same context substitution). Synchronous built-ins run
 * jsonata's own implementation (so `$formatNumber`, `$fromMillis`, ... are the interpreter's code);
 * the ones jsonata implements asynchronously (the higher-order functions and the pattern
 * functions) are synchronous ports here, in apply.ts and strings.ts. `$eval` is not supported.
 */
import jsonata from 'jsonata';
import { each, filterFn, map, reduce, sift, single, sortFn } from './apply.ts';
import { contains, match, replace, split } from './strings.ts';
import { Fn, RESTART, focusOf, nowOf, type State, type Validator } from './values.ts';

interface Definition {
  _jsonata_function: true;
  implementation: (...args: unknown[]) => unknown;
  signature: Validator;
}

type Impl = (st: State, dep: number, args: unknown[], input: unknown) => unknown;

export interface Builtin {
  name: string;
  /** The value of `$name`. */
  fn: Fn;
  /** Calls a function argument (runs user code): the depth matters. */
  hof: boolean;
  /** Parameter names of jsonata's implementation (partial application binds by these). */
  params: string[];
  /** The implementation on already validated arguments. */
  impl: Impl;
  /** The implementation a partial application calls (no validation, no `options` in `this`). */
  partial: Impl;
}

const names = [
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase',
  'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase',
  'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round', 'abs', 'sqrt', 'power', 'random', 'boolean', 'not',
  'map', 'zip', 'filter', 'single', 'reduce', 'sift', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse',
  'each', 'error', 'assert', 'type', 'sort', 'shuffle', 'distinct', 'base64encode', 'base64decode', 'encodeUrlComponent',
  'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'toMillis', 'fromMillis', 'clone',
] as const;

/** The built-ins that call functions given as arguments. */
const higherOrder = new Set(['map', 'filter', 'single', 'reduce', 'sift', 'each', 'sort', 'match', 'contains', 'replace', 'split']);

// jsonata's own function definitions, read once through its public API (evaluating `$name` returns the function).
const definitions = (await jsonata(`[${names.map((n) => `$${n}`).join(', ')}]`).evaluate(undefined)) as Definition[];
const nowSignature = (jsonata('function()<s?s?:s>{0}').ast() as unknown as { signature: Validator }).signature;
const millisSignature = (jsonata('function()<:n>{0}').ast() as unknown as { signature: Validator }).signature;
/** The signature of the function a transform expression makes. */
export const transformSignature = (jsonata('function()<(oa):o>{0}').ast() as unknown as { signature: Validator }).signature;

/** Whether $spread would walk into a built-in function (the interpreter spreads its definition object's keys). */
function spreadsNative(arg: unknown): boolean {
  if (arg instanceof Fn) return arg.native;
  return Array.isArray(arg) && arg.some(spreadsNative);
}

const ported: Record<string, Impl> = {
  map: (st, dep, a) => map(st, dep, a[0] as unknown[] | undefined, a[1]),
  filter: (st, dep, a) => filterFn(st, dep, a[0] as unknown[] | undefined, a[1]),
  single: (st, dep, a) => single(st, dep, a[0] as unknown[] | undefined, a[1]),
  reduce: (st, dep, a) => reduce(st, dep, a[0] as unknown[] | undefined, a[1], a[2]),
  sift: (st, dep, a) => sift(st, dep, a[0], a[1]),
  each: (st, dep, a) => each(st, dep, a[0], a[1]),
  sort: (st, dep, a) => sortFn(st, dep, a[0] as unknown[] | undefined, a[1]),
  match: (st, dep, a) => match(st, dep, a[0] as string | undefined, a[1], a[2] as number | undefined),
  contains: (st, dep, a) => contains(st, dep, a[0] as string | undefined, a[1]),
  replace: (st, dep, a) => replace(st, dep, a[0] as string | undefined, a[1], a[2], a[3] as number | undefined),
  split: (st, dep, a) => split(st, dep, a[0] as string | undefined, a[1], a[2] as number | undefined),
};

/** getNativeFunctionArguments: the names between the first parentheses of the source. */
function paramsOf(f: (...args: unknown[]) => unknown): string[] {
  const inside = /\(([^)]*)\)/.exec(f.toString())?.[1] ?? '';
  return inside.split(',').map((p) => p.trim());
}

/** partialApplyNativeFunction parses `function($p1, $p2){ _ }` from the source's parameter names; some fail. */
function partialError(params: string[]): Fn['perr'] {
  try {
    jsonata(`function(${params.map((p) => `$${p}`).join(', ')}){ _ }`);
    return undefined;
  } catch (error) {
    const { code, position, token, value } = error as { code: string; position?: number; token?: string; value?: unknown };
    return { code, position, token, value };
  }
}

function make(name: string, def: Definition): Builtin {
  const impl = def.implementation;
  const own = ported[name];
  const isAsync = impl.constructor.name === 'AsyncFunction';
  let run: Impl = own ?? ((st, _dep, args) => impl.apply(focusOf(st), args));
  if (name === 'spread') {
    const base = run;
    run = (st, dep, args, input) => {
      if (spreadsNative(args[0])) throw RESTART;
      return base(st, dep, args, input);
    };
  }
  const partial: Impl = own ?? ((st, _dep, args) => impl.apply({ createSequence: focusOf(st).createSequence, environment: focusOf(st).environment }, args));
  if (isAsync && own === undefined) throw new Error(`no synchronous implementation of $${name}`);
  const fn = new Fn(impl.length, def.signature, run, paramsOf(impl).length, partial);
  fn.perr = partialError(paramsOf(impl));
  fn.kind = 'native';
  return {
    name,
    fn,
    hof: higherOrder.has(name),
    params: paramsOf(impl),
    impl: run,
    partial,
  };
}

export const builtins = new Map<string, Builtin>();
names.forEach((name, i) => builtins.set(name, make(name, definitions[i] as Definition)));

const fromMillis = (definitions[names.indexOf('fromMillis')] as Definition).implementation;
const nowImpl: Impl = (st, _dep, args) => fromMillis.call(focusOf(st), nowOf(st), args[0], args[1]);
const millisImpl: Impl = (st) => nowOf(st);
for (const [name, fn, params, impl] of [
  ['now', new Fn(2, nowSignature, nowImpl, 2, nowImpl), ['picture', 'timezone'], nowImpl],
  ['millis', new Fn(0, millisSignature, millisImpl, 1, millisImpl), [''], millisImpl],
] as const) {
  fn.kind = 'native';
  builtins.set(name, { name, fn, hof: false, params: [...params], impl, partial: impl });
}

/** Names that resolve to functions the compiler cannot run: the expression falls back to the interpreter. */
export const unsupportedBuiltins = new Set(['eval']);
