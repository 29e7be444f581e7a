/**
 * Code generation infrastructure: the AST node shape, the emitter (statements + temporaries),
 * frames of JSONata variables, constants, and the depth guardrail. Generated code only names
 * identifiers made here (t1, v2, x3, d4, k5, b6) and the helpers of runtime.ts; every string that
 * comes from the expression is embedded through JSON.stringify, and objects (regexes, signature
 * validators) are passed as constants, never as source text.
 */
import type { Validator } from './values.ts';

export interface Stage {
  type: 'filter' | 'index';
  expr: Node;
  position?: number;
  value?: string;
}

export interface Node {
  type: string;
  value?: unknown;
  position?: number;
  steps?: Node[];
  stages?: Stage[];
  predicate?: Stage[];
  group?: { lhs: [Node, Node][]; position?: number };
  keepArray?: boolean;
  keepSingletonArray?: boolean;
  consarray?: boolean;
  tuple?: boolean;
  focus?: string;
  index?: string;
  ancestor?: unknown;
  seekingParent?: unknown;
  lhs?: unknown;
  rhs?: Node;
  expression?: Node;
  expressions?: Node[];
  condition?: Node;
  then?: Node;
  else?: Node;
  procedure?: Node;
  arguments?: Node[];
  body?: Node;
  signature?: Validator;
  thunk?: boolean;
  terms?: { descending: boolean; expression: Node }[];
  pattern?: Node;
  update?: Node;
  delete?: Node;
}

/** The compiler cannot (or must not) compile this construct: the expression falls back. */
export class Unsupported extends Error {
  position: number | undefined;
  constructor(what: string, position?: number) {
    super(position === undefined ? what : `${what} (at position ${position})`);
    this.position = position;
  }
}

/**
 * A constructor whose items the interpreter evaluates concurrently, compiled with a guard:
 * `errors`: an error raised by its items re-runs the evaluation in the interpreter;
 * `depth`: the items' combined height, checked at run time against the stack limit.
 */
export interface Guard {
  errors?: boolean;
  depth?: number;
  /** Computed keys: the height of one group's value; the count of groups is known at run time. */
  perGroup?: number;
}

/** Keyed by the array constructor node, or by the key/value pairs of an object constructor or grouping. */
export type Guards = Map<object, Guard>;

/** A JSONata variable frame (the top level, a block, a lambda invocation). */
export interface Frame {
  parent: Frame | null;
  /** name -> JS identifier; `always` when the variable is bound on entry (lambda parameters). */
  vars: Map<string, { id: string; always: boolean }>;
}

/** Where a node is being compiled. */
export interface Cx {
  /** JS identifier holding the context value (the interpreter's `input`). */
  x: string;
  /** JS identifier of the base depth, or null at the top level (base 0, depths known statically). */
  base: string | null;
  frame: Frame;
  /** Inside a lambda body (or a thunk): depth errors are possible at run time. */
  dynamic: boolean;
}

export type GenFn = (g: Gen, node: Node, cx: Cx, off: number) => string;

const identifier = /^[A-Za-z_$][\w$]*$/;

export function lit(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return '-0';
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return String(v);
  }
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  throw new Unsupported(`literal of type ${typeof v}`);
}

export class Gen {
  lines: string[] = [];
  consts: unknown[] = [];
  stack: number;
  private counter = 0;
  /** Free variable names read from the evaluation bindings, with their identifiers. */
  freeBindings = new Map<string, string>();
  /** Built-in names referenced (a binding of the same name would shadow them). */
  builtinRefs = new Set<string>();
  guards: Guards = new Map();
  /** Set by compile.ts: the dispatcher that compiles any node. */
  dispatch: GenFn = () => {
    throw new Error('no dispatcher');
  };

  constructor(stack: number) {
    this.stack = stack;
  }

  id(prefix: string): string {
    return `${prefix}${++this.counter}`;
  }

  emit(line: string): void {
    this.lines.push(line);
  }

  /** An identifier or literal holding `expr`, evaluated once, here. */
  atom(expr: string): string {
    if (identifier.test(expr) || /^-?[\d.e+]+$|^"(?:[^"\\]|\\.)*"$|^(?:true|false|null|undefined)$/.test(expr)) return expr;
    const t = this.id('t');
    this.emit(`const ${t} = ${expr};`);
    return t;
  }

  konst(value: unknown): string {
    let i = this.consts.indexOf(value);
    if (i < 0) {
      i = this.consts.length;
      this.consts.push(value);
    }
    return `k${i}`;
  }

  /** Compile `node` at depth offset `off`: statements are emitted, an atom is returned. */
  gen(node: Node, cx: Cx, off: number): string {
    return this.dispatch(this, node, cx, off);
  }

  /** Run `body` with a fresh statement list; returns the statements it emitted. */
  nested(body: () => void): string[] {
    const saved = this.lines;
    this.lines = [];
    try {
      body();
      return this.lines;
    } finally {
      this.lines = saved;
    }
  }

  /** The depth of a node at `off` as a JS expression. */
  depth(cx: Cx, off: number): string {
    return cx.base === null ? String(off) : `${cx.base} + ${off}`;
  }

  /** The interpreter's stack guardrail at the entry of a node (D1011). */
  check(cx: Cx, off: number, position?: number): void {
    if (!(this.stack > 0)) return;
    if (cx.base === null) {
      if (off > this.stack) throw new Unsupported(`expression nesting deeper than the stack limit of ${this.stack}`, position);
      return;
    }
    this.emit(`if (${cx.base} > ${this.stack - off}) overflow(st);`);
  }

  /** Resolve `$name` in `frame`: inner bindings first (when already made), then the free resolution. */
  variable(name: string, frame: Frame): string {
    const chain: string[] = [];
    for (let f: Frame | null = frame; f !== null; f = f.parent) {
      const v = f.vars.get(name);
      if (v === undefined) continue;
      if (v.always) return chain.length === 0 ? v.id : `${chain.join('')}${v.id}${')'.repeat(chain.length)}`;
      chain.push(`(${v.id} !== U ? ${v.id} : `);
    }
    const free = this.free(name);
    return chain.length === 0 ? free : `${chain.join('')}${free}${')'.repeat(chain.length)}`;
  }

  /** A variable no frame binds: the evaluation bindings, `$$`, a built-in, or nothing. */
  free(name: string): string {
    if (name === '$') return 'root';
    if (unsupportedNames.has(name)) throw new Unsupported(`the function $${name}`);
    if (builtinNames.has(name)) {
      this.builtinRefs.add(name);
      return this.konst(builtinNames.get(name));
    }
    let b = this.freeBindings.get(name);
    if (b === undefined) {
      b = `b${this.freeBindings.size}`;
      this.freeBindings.set(name, b);
    }
    return b;
  }

  /** True when `$name` certainly resolves to the built-in of that name (no frame can bind it). */
  isBuiltinRef(name: string, frame: Frame): boolean {
    for (let f: Frame | null = frame; f !== null; f = f.parent) if (f.vars.has(name)) return false;
    return builtinNames.has(name);
  }
}

/** Filled by compile.ts with the built-ins (name -> function value; kept here to avoid an import cycle). */
export const builtinNames = new Map<string, unknown>();
export const unsupportedNames = new Set<string>();
