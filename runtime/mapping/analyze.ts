/**
 * Static checks that decide whether compiling is safe.
 *
 * The interpreter evaluates the items of an array constructor, and the values of an object
 * constructor, concurrently (Promise.all over async evaluations). When two of them fail, the error
 * that surfaces is the one that happens first in that interleaving, not the first in source order;
 * and a `:=` inside one item may or may not be seen by another. Compiled code evaluates in source
 * order. A constructor whose items bind variables is not compiled. A constructor where two items
 * (or two groups) can raise errors is compiled with a guard: if an error is raised while its items
 * are evaluated, the whole evaluation is re-run by the interpreter (synchronously, see
 * sync-interpreter.ts), so the error reported is the interpreter's. To know which items can raise
 * errors, this module infers coarse value types (inputs and bindings are JSON data: finite numbers,
 * no functions). Errors that depend on size or time (D2015 sequence limit, D1012 timeout) are not
 * counted; the documentation lists this as a known gap.
 */
import { builtins } from './builtins.ts';
import { A, ANY_T, B, F, I, JSON_T, L, N, NUM, O, S, U, ownErrors, returnType, signatureErrors, type Errors } from './signatures.ts';
import { Unsupported, type Guards, type Node } from './gen-core.ts';


interface Ctx {
  /** The type of the context value. */
  x: number;
  /** Inside a lambda body: depth errors (D1011) can happen anywhere. */
  dynamic: boolean;
  /** Names bound by enclosing frames (their values are not typed). */
  bound: Set<string>;
}

function union(a: Errors, b: Errors): Errors {
  if (a === 'any' || b === 'any') return 'any';
  return new Set([...a, ...b]);
}

export class Analyzer {
  guards: Guards = new Map();

  /** Type and possible errors of `node` in context `cx`; records guards, throws Unsupported for what must fall back. */
  visit(node: Node, cx: Ctx): { t: number; e: Errors } {
    const r = this.raw(node, cx);
    let { t, e } = r;
    for (const p of node.predicate ?? []) {
      const pr = this.visit(p.expr, { ...cx, x: ANY_T });
      e = union(e, pr.e);
      if (pr.t & I) e = union(e, new Set(['D1001']));
      t |= A | U;
    }
    if (node.type !== 'path' && node.group) {
      const g = this.group(node.group.lhs, { ...cx, x: ANY_T }, true, node.position);
      e = union(e, g.e);
      t = g.t;
    }
    if (cx.dynamic) e = union(e, new Set(['D1011']));
    return { t, e };
  }

  private raw(node: Node, cx: Ctx): { t: number; e: Errors } {
    const none = new Set<string>();
    switch (node.type) {
      case 'string': return { t: S, e: none };
      case 'number': return { t: Number.isFinite(node.value) ? N : I, e: none };
      case 'value': return { t: node.value === null ? L : B, e: none };
      case 'regex': case 'lambda': case 'transform': {
        if (node.type === 'lambda' && !node.thunk) {
          const bound = new Set(cx.bound);
          for (const a of node.arguments ?? []) bound.add(a.value as string);
          collectBinds(node.body, bound);
          this.visit(node.body as Node, { x: cx.x, dynamic: true, bound });
        } else if (node.type === 'lambda') {
          const call = node.body as Node;
          const r = this.visit(call, cx);
          return { t: ANY_T, e: r.e };
        } else if (node.type === 'transform') {
          for (const part of [node.pattern, node.update, node.delete]) if (part) this.visit(part, { ...cx, x: ANY_T, dynamic: true });
        }
        return { t: F, e: none };
      }
      case 'variable': {
        const name = node.value as string;
        if (name === '') return { t: cx.x, e: none };
        if (cx.bound.has(name)) return { t: ANY_T, e: none };
        if (name === '$') return { t: JSON_T, e: none };
        if (builtins.has(name)) return { t: F, e: none };
        return { t: JSON_T, e: none };
      }
      case 'name': case 'wildcard': case 'descendant':
        return { t: (cx.x & ~JSON_T) === 0 ? JSON_T : ANY_T, e: none };
      case 'path': return this.path(node, cx);
      case 'binary': return this.binary(node, cx);
      case 'unary': return this.unary(node, cx);
      case 'condition': {
        const c = this.visit(node.condition as Node, cx);
        const a = this.visit(node.then as Node, cx);
        const b = node.else ? this.visit(node.else, cx) : { t: U, e: none };
        let e = union(union(c.e, a.e), b.e);
        if (c.t & I) e = union(e, new Set(['D1001']));
        return { t: a.t | b.t, e };
      }
      case 'block': {
        const bound = new Set(cx.bound);
        for (const x of node.expressions ?? []) collectBinds(x, bound);
        let r = { t: U, e: none as Errors };
        for (const x of node.expressions ?? []) {
          const v = this.visit(x, { ...cx, bound });
          r = { t: v.t, e: union(r.e, v.e) };
        }
        return r;
      }
      case 'bind': return this.visit(node.rhs as Node, cx);
      case 'function': return this.call(node, cx, []);
      case 'apply': {
        const l = this.visit(node.lhs as Node, cx);
        const rhs = node.rhs as Node;
        if (rhs.type === 'function') return this.call(rhs, cx, [l]);
        const f = this.visit(rhs, cx);
        return { t: ANY_T, e: union(union(l.e, f.e), 'any') };
      }
      case 'partial': {
        let e: Errors = 'any';
        for (const a of node.arguments ?? []) if (a.type !== 'operator') e = union(e, this.visit(a, cx).e);
        return { t: F, e };
      }
      default:
        throw new Unsupported(`the ${node.type} expression`, node.position);
    }
  }

  private path(node: Node, cx: Ctx): { t: number; e: Errors } {
    let x = cx.x;
    let e: Errors = new Set();
    let t = U;
    for (const step of node.steps ?? []) {
      if (step.type === 'sort') {
        for (const term of step.terms ?? []) e = union(e, this.visit(term.expression, { ...cx, x: ANY_T }).e);
        e = union(e, new Set(['T2007', 'T2008']));
      } else {
        const r = this.visit(step, { ...cx, x: (x & ~JSON_T) === 0 ? JSON_T : ANY_T });
        e = union(e, r.e);
        t = r.t;
      }
      for (const stage of step.stages ?? []) {
        const pr = this.visit(stage.expr, { ...cx, x: ANY_T });
        e = union(e, pr.e);
        if (pr.t & I) e = union(e, new Set(['D1001']));
      }
      x = t | A;
    }
    if (node.group) {
      const g = this.group(node.group.lhs, { ...cx, x: ANY_T }, true, node.position);
      return { t: g.t, e: union(e, g.e) };
    }
    return { t: t | A | U, e };
  }

  private binary(node: Node, cx: Ctx): { t: number; e: Errors } {
    const op = node.value as string;
    const l = this.visit(node.lhs as Node, cx);
    const r = this.visit(node.rhs as Node, cx);
    let e = union(l.e, r.e);
    const add = (...codes: string[]) => {
      e = union(e, new Set(codes));
    };
    switch (op) {
      case '+': case '-': case '*': case '/': case '%':
        if (l.t & ~(U | N)) add('T2001');
        if (l.t & I) add('D1001');
        if (r.t & ~(U | N)) add('T2002');
        if (r.t & I) add('D1001');
        return { t: U | NUM, e };
      case '<': case '<=': case '>': case '>=':
        if ((l.t | r.t) & (L | B | A | O | F)) add('T2010');
        if ((l.t & NUM && r.t & S) || (l.t & S && r.t & NUM)) add('T2009');
        return { t: U | B, e };
      case '=': case '!=': case 'in': return { t: B, e };
      case 'and': case 'or':
        if ((l.t | r.t) & I) add('D1001');
        return { t: B, e };
      case '&':
        if ((l.t | r.t) & I) add('D3001', 'D1001');
        return { t: S, e };
      case '..':
        if (l.t & ~U) add('T2003');
        if (r.t & ~U) add('T2004');
        add('D2014');
        return { t: U | A, e };
      default:
        throw new Unsupported(`the operator ${op}`, node.position);
    }
  }

  private unary(node: Node, cx: Ctx): { t: number; e: Errors } {
    if (node.value === '-') {
      const v = this.visit(node.expression as Node, cx);
      let e = v.e;
      if (v.t & ~(U | NUM)) e = union(e, new Set(['D1002']));
      if (v.t & I) e = union(e, new Set(['D1001']));
      return { t: U | NUM, e };
    }
    if (node.value === '[') {
      const items = (node.expressions ?? []).map((item) => this.visit(item, cx));
      this.parallel(node, items.map((r) => r.e), node.expressions ?? [], node.position, 'array constructor', false);
      let e: Errors = new Set();
      let t = A;
      for (const r of items) {
        e = union(e, r.e);
        t |= r.t & I;
      }
      return { t, e };
    }
    if (node.value === '{') return this.group(node.lhs as [Node, Node][], cx, false, node.position);
    throw new Unsupported(`the unary operator ${String(node.value)}`, node.position);
  }

  private group(pairs: [Node, Node][], cx: Ctx, _grouping: boolean, position?: number): { e: Errors; t: number } {
    const keys = pairs.map(([k]) => (k.type === 'string' && !k.predicate ? k.value : undefined));
    const literal = keys.every((k) => k !== undefined) && new Set(keys).size === keys.length &&
      !keys.includes('_jsonata_lambda') && !keys.includes('_jsonata_function');
    if (!literal && keys.every((k) => k !== undefined)) {
      if (new Set(keys).size !== keys.length) throw new Unsupported('an object constructor with a duplicate key', position);
      if (keys.includes('_jsonata_lambda') || keys.includes('_jsonata_function')) {
        throw new Unsupported('an object key reserved by jsonata', position);
      }
    }
    let e: Errors = new Set();
    const valueErrors: Errors[] = [];
    const valueTypes: number[] = [];
    for (const [k, v] of pairs) {
      const kr = this.visit(k, cx);
      e = union(e, kr.e);
      if (!literal) {
        if (kr.t & ~(U | S)) e = union(e, new Set(['T1003']));
        e = union(e, new Set(['D1009', 'D1013']));
      }
      const vr = this.visit(v, { ...cx, x: literal ? cx.x : ANY_T });
      valueErrors.push(vr.e);
      valueTypes.push(vr.t);
    }
    const values = pairs.map(([, v]) => v);
    // With computed keys, one value expression may run for several groups at once.
    this.parallel(pairs, valueErrors, values, position, 'object constructor', !literal);
    for (const ve of valueErrors) e = union(e, ve);
    return { e, t: O | (valueTypes.some((t) => (t & I) !== 0) ? I : 0) };
  }

  /** Concurrent items: no variable binding; a guard when two of them (or two groups) can fail. */
  private parallel(key: object, errors: Errors[], items: Node[], position: number | undefined, what: string, repeated: boolean): void {
    if (items.length < 2 && !repeated) return;
    for (const item of items) {
      const binds = new Set<string>();
      collectBinds(item, binds);
      if (binds.size > 0) throw new Unsupported(`a variable binding inside an ${what} (evaluated concurrently by the interpreter)`, item.position ?? position);
    }
    const failing = errors.filter((e) => e === 'any' || e.size > 0).length;
    if (failing >= 2 || (repeated && failing >= 1)) this.guards.set(key, { ...this.guards.get(key), errors: true });
  }

  private call(node: Node, cx: Ctx, applyto: { t: number; e: Errors }[]): { t: number; e: Errors } {
    const proc = node.procedure as Node;
    const p = this.visit(proc, cx);
    const args = [...applyto, ...(node.arguments ?? []).map((a) => this.visit(a, cx))];
    let e: Errors = p.e;
    for (const a of args) e = union(e, a.e);
    const name = proc.type === 'variable' ? (proc.value as string) : undefined;
    if (name === undefined || cx.bound.has(name) || !builtins.has(name)) return { t: ANY_T, e: 'any' };
    const types = args.map((a) => a.t);
    if (builtins.get(name)?.hof && types.some((t) => (t & F) !== 0)) return { t: ANY_T, e: 'any' };
    e = union(e, signatureErrors(name, types, cx.x));
    e = union(e, ownErrors(name, types));
    return { t: returnType(name), e };
  }
}

function collectBinds(node: Node | undefined, into: Set<string>): void {
  if (!node || typeof node !== 'object') return;
  if (node.type === 'block' || (node.type === 'lambda' && !node.thunk)) return;
  if (node.type === 'bind') into.add((node.lhs as Node).value as string);
  for (const v of Object.values(node)) {
    if (Array.isArray(v)) v.forEach((x) => (Array.isArray(x) ? x.forEach((y) => collectBinds(y as Node, into)) : collectBinds(x as Node, into)));
    else if (v && typeof v === 'object' && typeof (v as Node).type === 'string') collectBinds(v as Node, into);
    else if (v && typeof v === 'object' && (v as { expr?: Node }).expr) collectBinds((v as { expr: Node }).expr, into);
  }
}

/** Tuple streams (`@`, `#`, `%`) are not compiled. */
function scanTuples(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(scanTuples);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const n = node as Node & { expr?: unknown };
  if (n.type === 'parent' || n.tuple || n.focus !== undefined || n.ancestor !== undefined || n.seekingParent !== undefined ||
    (n.type !== 'number' && n.index !== undefined) || (n.type === 'index' && n.expr === undefined)) {
    throw new Unsupported('context/positional variable bindings (@, #) and the parent operator (%)', n.position);
  }
  for (const [key, value] of Object.entries(n)) {
    if (key !== 'signature' && key !== 'slot' && typeof value === 'object') scanTuples(value);
  }
}

/** Throws Unsupported for what must fall back; returns the constructors that need a guard. */
export function analyze(ast: Node): Guards {
  scanTuples(ast);
  const analyzer = new Analyzer();
  analyzer.visit(ast, { x: JSON_T, dynamic: false, bound: collectTop(ast) });
  return analyzer.guards;
}

function collectTop(ast: Node): Set<string> {
  const s = new Set<string>();
  collectBinds(ast, s);
  return s;
}
