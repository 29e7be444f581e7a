/**
 * The interpreter's stack guardrail counts every `evaluate` call that has started and not
 * finished, in one counter per evaluation. Items of an array constructor and values of an object
 * constructor are evaluated concurrently (Promise.all), so while one item is suspended its open
 * frames count against the others: the depth at which D1011 fires depends on the interleaving.
 * Compiled code evaluates one item after the other. This pass accepts a concurrent constructor
 * only when that difference cannot matter:
 *   - no item, or only the last one, can suspend (the others finish synchronously), or
 *   - its depth is known and, even with every item at its deepest at once, the count stays
 *     within the limit (so D1011 cannot fire inside it at all).
 * Depths are known at the top level and inside a lambda passed directly to a higher-order
 * built-in there (its body runs one below the call); elsewhere (lambdas called by name,
 * recursion) they are not. With no stack limit (stack 0) nothing is checked.
 */
import { builtins } from './builtins.ts';
import { Unsupported, type Guards, type Node } from './gen-core.ts';

const syncTypes = new Set(['string', 'number', 'value', 'variable', 'wildcard', 'descendant', 'regex', 'lambda', 'transform', 'parent', 'name']);

/** Its `evaluate` never awaits: it holds no frame while other items run. */
function isSync(node: Node): boolean {
  return syncTypes.has(node.type) && !node.predicate && !node.group;
}

class DepthCheck {
  stack: number;
  guards: Guards;
  /** How many enclosing constructs are evaluating other items concurrently with the code being visited. */
  concurrent = 0;
  constructor(stack: number, guards: Guards) {
    this.stack = stack;
    this.guards = guards;
  }

  /** Height of `node` (its deepest evaluate frame, itself = 1) at absolute depth `d` (null: unknown). */
  h(node: Node | undefined, d: number | null, bound: Set<string>): number {
    if (node === undefined) return 0;
    const next = d === null ? null : d + 1;
    const c = (child: Node | undefined) => this.h(child, next, bound);
    let inner = 0;
    const take = (v: number) => {
      inner = Math.max(inner, v);
    };
    switch (node.type) {
      case 'path':
        for (const step of node.steps ?? []) {
          take(c(step));
          for (const stage of step.stages ?? []) if (stage.expr) take(c(stage.expr));
          for (const term of step.terms ?? []) take(c(term.expression));
        }
        if (node.group) take(this.group(node.group.lhs, d, bound, node.position));
        break;
      case 'binary':
        take(c(node.lhs as Node));
        take(c(node.rhs));
        break;
      case 'unary':
        if (node.value === '[') take(this.parallel(node, node.expressions ?? [], d, bound, node.position, false));
        else if (node.value === '{') take(this.group(node.lhs as [Node, Node][], d, bound, node.position));
        else take(c(node.expression));
        break;
      case 'condition':
        take(c(node.condition));
        take(c(node.then));
        take(c(node.else));
        break;
      case 'block': {
        const inside = new Set(bound);
        for (const e of node.expressions ?? []) collect(e, inside);
        for (const e of node.expressions ?? []) take(this.h(e, next, inside));
        break;
      }
      case 'bind':
        take(c(node.rhs));
        break;
      case 'function':
        take(this.call(node, d, bound, false));
        break;
      case 'apply': {
        take(c(node.lhs as Node));
        const rhs = node.rhs as Node;
        if (rhs.type === 'function') take(this.call(rhs, d, bound, true));
        else {
          take(c(rhs));
          if (!(rhs.type === 'variable' && this.isBuiltin(rhs.value as string, bound))) take(Infinity);
        }
        break;
      }
      case 'partial':
        for (const a of node.arguments ?? []) if (a.type !== 'operator') take(c(a));
        take(c(node.procedure));
        break;
      case 'lambda':
        this.body(node, null, bound);
        break;
      case 'transform':
        for (const part of [node.pattern, node.update, node.delete]) this.h(part, null, bound);
        break;
      default:
        break;
    }
    for (const p of node.predicate ?? []) take(c(p.expr));
    if (node.type !== 'path' && node.group) take(this.group(node.group.lhs, d, bound, node.position));
    return 1 + inner;
  }

  isBuiltin(name: string, bound: Set<string>): boolean {
    return !bound.has(name) && builtins.has(name);
  }

  /** A lambda body (or a thunk's call), run at depth `d` (null: unknown). */
  body(lambda: Node, d: number | null, bound: Set<string>): number {
    if (lambda.thunk) {
      const call = lambda.body as Node;
      this.h(call.procedure, null, bound);
      for (const a of call.arguments ?? []) this.h(a, null, bound);
      return Infinity;
    }
    const inside = new Set(bound);
    for (const p of lambda.arguments ?? []) inside.add(p.value as string);
    collect(lambda.body, inside);
    if (d !== null) return this.h(lambda.body, d, inside);
    // A lambda called by name: where it runs concurrently with other items is judged at the call.
    const saved = this.concurrent;
    this.concurrent = 0;
    try {
      return this.h(lambda.body, d, inside);
    } finally {
      this.concurrent = saved;
    }
  }

  /** A call: a built-in is known code; a lambda passed inline to a higher-order built-in runs one below the call. */
  call(node: Node, d: number | null, bound: Set<string>, applied: boolean): number {
    const next = d === null ? null : d + 1;
    const proc = node.procedure as Node;
    let inner = this.h(proc, next, bound);
    const name = proc.type === 'variable' ? (proc.value as string) : undefined;
    const builtin = name !== undefined && this.isBuiltin(name, bound) ? builtins.get(name) : undefined;
    if (builtin === undefined) inner = Infinity;
    const functionParams = builtin ? (functionParameters[builtin.name] ?? []) : [];
    (node.arguments ?? []).forEach((a, i) => {
      if (!functionParams.includes(i + (applied ? 1 : 0))) {
        inner = Math.max(inner, this.h(a, next, bound));
      } else if (a.type === 'lambda' && !a.thunk) {
        inner = Math.max(inner, this.body(a, next, bound));
      } else {
        inner = Math.max(inner, this.h(a, next, bound));
        const known = a.type === 'string' || a.type === 'regex' || (a.type === 'variable' && this.isBuiltin(a.value as string, bound));
        if (!known) inner = Infinity;
      }
    });
    return inner;
  }

  /** Items evaluated concurrently; returns the height bound they contribute. */
  parallel(key: object, items: Node[], d: number | null, bound: Set<string>, position: number | undefined, repeated: boolean): number {
    const next = d === null ? null : d + 1;
    const suspending = items.flatMap((item, i) => (isSync(item) ? [] : [i]));
    // No item holds a frame while another one runs: the interpreter's count is the sequential one.
    const sequential = !(this.stack > 0) || suspending.length === 0 ||
      (!repeated && suspending.length === 1 && suspending[0] === items.length - 1);
    if (!sequential) this.concurrent++;
    let hs: number[];
    try {
      hs = items.map((item) => this.h(item, next, bound));
    } finally {
      if (!sequential) this.concurrent--;
    }
    const max = Math.max(0, ...hs);
    if (sequential) return max;
    const fail = () => new Unsupported(
      `items evaluated concurrently by the interpreter share its depth count, which could reach the stack limit of ${this.stack}`,
      position,
    );
    if (repeated) {
      // One value expression per group, all groups at once: checked at run time, once the groups are known.
      if (!Number.isFinite(max) || this.concurrent > 0) throw fail();
      this.guards.set(key, { ...this.guards.get(key), perGroup: max });
      return Infinity;
    }
    const sum = hs.reduce((a, b) => a + b, 0);
    if (!Number.isFinite(sum)) throw fail();
    if (d !== null) {
      if (d + sum <= this.stack) return sum;
      throw fail();
    }
    // Depth known only at run time: the compiled code checks it and lets the interpreter decide near the limit.
    this.guards.set(key, { ...this.guards.get(key), depth: sum });
    return sum;
  }

  group(pairs: [Node, Node][], d: number | null, bound: Set<string>, position: number | undefined): number {
    const next = d === null ? null : d + 1;
    let keys = 0;
    for (const [k] of pairs) keys = Math.max(keys, this.h(k, next, bound));
    const literal = pairs.every(([k]) => k.type === 'string' && !k.predicate);
    const values = pairs.map(([, v]) => v);
    return Math.max(keys, this.parallel(pairs, values, d, bound, position, !literal));
  }
}

/** The parameters of the higher-order built-ins that take a function (the built-in calls it). */
const functionParameters: Record<string, number[]> = {
  map: [1], filter: [1], single: [1], reduce: [1], sift: [1], each: [1], sort: [1], contains: [1], split: [1], match: [1], replace: [1, 2],
};

function collect(node: Node | undefined, into: Set<string>): void {
  if (!node || typeof node !== 'object') return;
  if (node.type === 'block' || (node.type === 'lambda' && !node.thunk)) return;
  if (node.type === 'bind') into.add((node.lhs as Node).value as string);
  for (const v of Object.values(node)) {
    if (Array.isArray(v)) v.forEach((x) => (Array.isArray(x) ? x.forEach((y) => collect(y as Node, into)) : collect(x as Node, into)));
    else if (v && typeof v === 'object' && typeof (v as Node).type === 'string') collect(v as Node, into);
    else if (v && typeof v === 'object' && (v as { expr?: Node }).expr) collect((v as { expr: Node }).expr, into);
  }
}

export function checkDepth(ast: Node, stack: number, guards: Guards): void {
  const bound = new Set<string>();
  collect(ast, bound);
  new DepthCheck(stack, guards).h(ast, 1, bound);
}
