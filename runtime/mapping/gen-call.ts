/**
 * Generators for function calls (with inline fast paths for common built-ins), lambdas and their
 * tail calls (thunks), partial application, `~>`, and transforms.
 */
import { bindsIn, openFrame } from './gen-basic.ts';
import { Unsupported, lit, type Cx, type Gen, type Node } from './gen-core.ts';

/** The name jsonata reports for a call (`token`). */
function procName(proc: Node): string | undefined {
  return proc.type === 'path' ? (proc.steps?.[0]?.value as string | undefined) : (proc.value as string | undefined);
}

/**
 * Fast paths for built-ins, valid only for the argument types they test; anything else takes the
 * generic call, which validates and throws exactly as the interpreter does.
 */
const inline: Record<string, (a: string[], slow: string) => string | undefined> = {
  // For these, one undefined argument gives undefined (the signature accepts it, the function returns it).
  lowercase: (a, slow) => (a.length === 1 ? `(typeof ${a[0]} === 'string' ? (${a[0]}).toLowerCase() : ${a[0]} === undefined ? undefined : ${slow})` : undefined),
  uppercase: (a, slow) => (a.length === 1 ? `(typeof ${a[0]} === 'string' ? (${a[0]}).toUpperCase() : ${a[0]} === undefined ? undefined : ${slow})` : undefined),
  trim: (a, slow) => (a.length === 1 ? `(typeof ${a[0]} === 'string' ? trimString(${a[0]}) : ${a[0]} === undefined ? undefined : ${slow})` : undefined),
  length: (a, slow) => (a.length === 1 ? `(typeof ${a[0]} === 'string' ? stringLength(${a[0]}) : ${a[0]} === undefined ? undefined : ${slow})` : undefined),
  string: (a, slow) =>
    a.length === 1
      ? `(typeof ${a[0]} === 'string' ? ${a[0]} : typeof ${a[0]} === 'number' && ${a[0]} - ${a[0]} === 0 ? numberString(${a[0]}) : ${a[0]} === undefined ? undefined : ${slow})`
      : undefined,
  number: (a, slow) => (a.length === 1 ? `(typeof ${a[0]} === 'number' ? ${a[0]} : ${a[0]} === undefined ? undefined : ${slow})` : undefined),
  exists: (a) => (a.length === 1 ? `(${a[0]} !== undefined)` : undefined),
  boolean: (a) => (a.length === 1 ? `boolean(${a[0]})` : undefined),
  not: (a) => (a.length === 1 ? `(${a[0]} === undefined ? undefined : !boolean(${a[0]}))` : undefined),
  count: (a) => (a.length === 1 ? `(${a[0]} === undefined ? 0 : isArray(${a[0]}) ? (${a[0]}).length : 1)` : undefined),
  contains: (a, slow) =>
    a.length === 2 ? `(typeof ${a[0]} === 'string' && typeof ${a[1]} === 'string' ? (${a[0]}).indexOf(${a[1]}) !== -1 : ${slow})` : undefined,
};

/** evaluateFunction (and `lhs ~> $f(...)` when `applyto` is given). */
export function genCall(g: Gen, node: Node, cx: Cx, off: number, applyto?: string): string {
  const proc = node.procedure as Node;
  const name = procName(proc);
  const pos = lit(node.position);
  const builtin = proc.type === 'variable' && typeof name === 'string' && g.isBuiltinRef(name, cx.frame) && !proc.predicate && !proc.group && !proc.keepArray;
  let p: string;
  if (builtin) {
    // A built-in named directly: its value is a constant (only the depth check of the variable remains).
    g.check(cx, off + 1, proc.position);
    p = g.free(name);
  } else {
    p = g.gen(proc, cx, off + 1);
  }
  if (proc.type === 'path') {
    const first = proc.steps?.[0]?.value;
    if (typeof first === 'string') {
      g.emit(`if (${p} === undefined && ${g.variable(first, cx.frame)}) throw jerr('T1005', { position: ${pos}, token: ${JSON.stringify(first)} });`);
    }
  }
  const args = (node.arguments ?? []).map((arg) => g.gen(arg, cx, off + 1));
  const all = applyto === undefined ? args : [applyto, ...args];
  const dep = g.depth(cx, off);
  const slow = `call(st, ${dep}, ${p}, [${all.join(', ')}], ${cx.x}, ${pos}, ${lit(name)}, ${applyto === undefined ? 0 : 1})`;
  if (builtin) {
    const fast = inline[name as string]?.(all, slow);
    if (fast !== undefined) return g.atom(fast);
  }
  return g.atom(slow);
}

/** A lambda: a Fn whose body runs with the definition's context and frame, one deeper than its caller. */
export function genLambda(g: Gen, node: Node, cx: Cx, timeout: boolean): string {
  const d = g.id('d');
  const a = g.id('a');
  const params = new Map<string, string>();
  const lines = g.nested(() => {
    if (timeout) g.emit('tick(st);');
    for (const [i, param] of (node.arguments ?? []).entries()) {
      const id = g.id('v');
      g.emit(`const ${id} = ${a}[${i}];`);
      params.set(param.value as string, id);
    }
    const frame = openFrame(g, cx.frame, bindsIn(node.body), params);
    const r = g.gen(node.body as Node, { x: cx.x, base: d, frame, dynamic: true }, 1);
    g.emit(`return ${r};`);
  });
  const sig = node.signature === undefined ? 'undefined' : g.konst(node.signature);
  return g.atom(`lambda(${(node.arguments ?? []).length}, ${sig}, (st, ${d}, ${a}) => {\n${lines.join('\n')}\n})`);
}

/**
 * A tail call (the interpreter's thunk): the procedure and arguments are evaluated by the
 * trampoline in `apply`, one deeper than the original caller, in this body's frame.
 */
export function genThunk(g: Gen, node: Node, cx: Cx): string {
  const call = node.body as Node;
  const dp = g.id('d');
  const da = g.id('d');
  let proc = '';
  const procLines = g.nested(() => {
    proc = g.gen(call.procedure as Node, { ...cx, base: dp, dynamic: true }, 1);
  });
  let args: string[] = [];
  const argLines = g.nested(() => {
    args = (call.arguments ?? []).map((arg) => g.gen(arg, { ...cx, base: da, dynamic: true }, 1));
  });
  return g.atom(`new Thunk((${dp}) => {\n${procLines.join('\n')}\nreturn ${proc};\n}, (${da}) => {\n${argLines.join('\n')}\nreturn [${args.join(', ')}];\n})`);
}

/** evaluatePartialApplication. */
export function genPartial(g: Gen, node: Node, cx: Cx, off: number): string {
  const args = (node.arguments ?? []).map((arg) =>
    arg.type === 'operator' && arg.value === '?' ? 'PLACEHOLDER' : g.gen(arg, cx, off + 1));
  const proc = node.procedure as Node;
  const p = g.gen(proc, cx, off + 1);
  const pos = lit(node.position);
  if (proc.type === 'path') {
    const first = proc.steps?.[0]?.value;
    if (typeof first === 'string') {
      g.emit(`if (${p} === undefined && ${g.variable(first, cx.frame)}) throw jerr('T1007', { position: ${pos}, token: ${JSON.stringify(first)} });`);
    }
  }
  return g.atom(`partial(${p}, [${args.join(', ')}], ${pos}, ${lit(procName(proc))})`);
}

/** evaluateApplyExpression (`~>`). */
export function genApply(g: Gen, node: Node, cx: Cx, off: number): string {
  const l = g.gen(node.lhs as Node, cx, off + 1);
  const rhs = node.rhs as Node;
  if (rhs.type === 'function') return genCall(g, rhs, cx, off, l);
  const f = g.gen(rhs, cx, off + 1);
  const pos = lit(node.position);
  g.emit(`if (!isFunction(${f})) throw jerr('T2006', { position: ${pos}, value: ${f} });`);
  const r = g.id('t');
  g.emit(`let ${r};`);
  const chain = g.nested(() => {
    g.check(cx, off + 1, node.position);
    g.emit(`${r} = chain(${l}, ${f});`);
  });
  g.emit(`if (isFunction(${l})) {`);
  chain.forEach((line) => g.emit(line));
  g.emit(`} else ${r} = apply(st, ${g.depth(cx, off)}, ${f}, [${l}], null);`);
  return r;
}

/** evaluateTransformExpression: a function that clones its argument and updates the matches. */
export function genTransform(g: Gen, node: Node, cx: Cx, timeout: boolean): string {
  const d = g.id('d');
  const a = g.id('a');
  const lines = g.nested(() => {
    if (timeout) g.emit('tcheck(st);');
    g.emit(`if (${a}[0] === undefined) return undefined;`);
    const cf = g.atom(g.variable('clone', cx.frame));
    g.emit(`if (!isFunction(${cf})) throw jerr('T2013', { position: ${lit(node.position)} });`);
    const result = g.id('x');
    g.emit(`const ${result} = apply(st, ${d}, ${cf}, [${a}[0]], null);`);
    const inner: Cx = { ...cx, base: d, dynamic: true };
    const matches = g.gen(node.pattern as Node, { ...inner, x: result }, 1);
    const m = g.id('x');
    g.emit(`for (const ${m} of (${matches} === undefined ? [] : isArray(${matches}) ? ${matches} : [${matches}])) {`);
    const u = g.gen(node.update as Node, { ...inner, x: m }, 1);
    g.emit(`transformUpdate(${m}, ${u}, ${lit((node.update as Node).position)});`);
    if (node.delete !== undefined) {
      const del = g.gen(node.delete, { ...inner, x: m }, 1);
      g.emit(`transformDelete(${m}, ${del}, ${lit(node.delete.position)});`);
    }
    g.emit('}');
    g.emit(`return ${result};`);
  });
  return g.atom(`transformer((st, ${d}, ${a}) => {\n${lines.join('\n')}\n})`);
}

export function unsupportedNode(node: Node): never {
  throw new Unsupported(`the ${node.type} expression`, node.position);
}
