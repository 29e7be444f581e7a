/**
 * Generators for literals, variables, operators, conditions, blocks, bindings, regexes,
 * wildcards, descendants and predicates. Each mirrors the interpreter's evaluateX: same order
 * of evaluation, same errors, same depth offsets (a child is one deeper than its parent).
 */
import { Unsupported, lit, type Cx, type Frame, type Gen, type Node } from './gen-core.ts';

/** Names bound by `:=` in the frame where `node` runs (not inside nested blocks or lambdas). */
export function bindsIn(node: Node | undefined, into: Set<string> = new Set()): Set<string> {
  if (node === undefined || node === null || typeof node !== 'object') return into;
  if (node.type === 'block' || (node.type === 'lambda' && !node.thunk)) return into;
  if (node.type === 'bind') into.add((node.lhs as Node).value as string);
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === 'object' && typeof (v as Node).type === 'string') bindsIn(v as Node, into);
  };
  for (const key of ['steps', 'expressions', 'arguments', 'lhs', 'rhs', 'expression', 'condition', 'then', 'else', 'procedure', 'body', 'pattern', 'update', 'delete'] as const) {
    visit(node[key]);
  }
  for (const stage of [...(node.stages ?? []), ...(node.predicate ?? [])]) visit(stage.expr);
  if (node.group) for (const [k, v] of node.group.lhs) visit([k, v]);
  if (node.terms) for (const term of node.terms) visit(term.expression);
  return into;
}

/** Open a frame: declare its variables (unset) and return it. */
export function openFrame(g: Gen, parent: Frame, names: Iterable<string>, params: Map<string, string> = new Map()): Frame {
  const frame: Frame = { parent, vars: new Map() };
  for (const [name, id] of params) frame.vars.set(name, { id, always: true });
  const declared: string[] = [];
  for (const name of names) {
    if (frame.vars.has(name)) continue;
    const id = g.id('v');
    frame.vars.set(name, { id, always: false });
    declared.push(`${id} = U`);
  }
  if (declared.length > 0) g.emit(`let ${declared.join(', ')};`);
  return frame;
}

export function genLiteral(_g: Gen, node: Node): string {
  return lit(node.value);
}

export function genVariable(g: Gen, node: Node, cx: Cx): string {
  const name = node.value as string;
  if (name === '') return g.atom(`ctx(${cx.x})`);
  return g.atom(g.variable(name, cx.frame));
}

const arithmetic = new Set(['+', '-', '*', '/', '%']);
const comparison = new Set(['<', '<=', '>', '>=']);

export function genBinary(g: Gen, node: Node, cx: Cx, off: number): string {
  const op = node.value as string;
  const pos = lit(node.position);
  const l = g.gen(node.lhs as Node, cx, off + 1);
  if (op === 'and' || op === 'or') {
    const r = g.id('t');
    g.emit(`let ${r};`);
    const rhs = g.nested(() => {
      const v = g.gen(node.rhs as Node, cx, off + 1);
      g.emit(`${r} = boolize(${v}, ${pos}, ${JSON.stringify(op)});`);
    });
    const test = `boolize(${l}, ${pos}, ${JSON.stringify(op)})`;
    const lines = [`try {`, ...rhs, `} catch (e) { throw at(e, ${pos}, ${JSON.stringify(op)}); }`];
    if (op === 'and') g.emit(`if (${test}) { ${lines.join('\n')} } else ${r} = false;`);
    else g.emit(`if (${test}) ${r} = true; else { ${lines.join('\n')} }`);
    return r;
  }
  const r = g.gen(node.rhs as Node, cx, off + 1);
  const o = JSON.stringify(op);
  if (arithmetic.has(op)) {
    return g.atom(`(typeof ${l} === 'number' && typeof ${r} === 'number' && ${l} - ${l} === 0 && ${r} - ${r} === 0) ? ${l} ${op} ${r} : arith(${l}, ${r}, ${o}, ${pos})`);
  }
  if (comparison.has(op)) {
    return g.atom(`((typeof ${l} === 'number' && typeof ${r} === 'number') || (typeof ${l} === 'string' && typeof ${r} === 'string')) ? ${l} ${op} ${r} : compare(${l}, ${r}, ${o}, ${pos})`);
  }
  switch (op) {
    case '=': return g.atom(`equal(${l}, ${r})`);
    case '!=': return g.atom(`(${l} !== undefined && ${r} !== undefined && !equal(${l}, ${r}))`);
    case '&': return g.atom(`concat(${l}, ${r}, ${pos})`);
    case 'in': return g.atom(`includes(${l}, ${r})`);
    case '..': return g.atom(`range(st, ${l}, ${r}, ${pos})`);
    default: throw new Unsupported(`the operator ${op}`, node.position);
  }
}

export function genNegate(g: Gen, node: Node, cx: Cx, off: number): string {
  const v = g.gen(node.expression as Node, cx, off + 1);
  return g.atom(`negate(${v}, ${lit(node.position)})`);
}

export function genCondition(g: Gen, node: Node, cx: Cx, off: number): string {
  const c = g.gen(node.condition as Node, cx, off + 1);
  const r = g.id('t');
  g.emit(`let ${r};`);
  const then = g.nested(() => g.emit(`${r} = ${g.gen(node.then as Node, cx, off + 1)};`));
  const otherwise = node.else === undefined ? [] : g.nested(() => g.emit(`${r} = ${g.gen(node.else as Node, cx, off + 1)};`));
  g.emit(`if (boolean(${c})) {`);
  then.forEach((line) => g.emit(line));
  if (otherwise.length > 0) {
    g.emit('} else {');
    otherwise.forEach((line) => g.emit(line));
  }
  g.emit('}');
  return r;
}

export function genBlock(g: Gen, node: Node, cx: Cx, off: number): string {
  const exprs = node.expressions ?? [];
  if (exprs.length === 0) return 'undefined';
  const r = g.id('t');
  g.emit(`let ${r};`);
  g.emit('{');
  const names = new Set<string>();
  for (const e of exprs) bindsIn(e, names);
  const frame = openFrame(g, cx.frame, names);
  const inner: Cx = { ...cx, frame };
  exprs.forEach((e, i) => {
    const v = g.gen(e, inner, off + 1);
    if (i === exprs.length - 1) g.emit(`${r} = ${v};`);
  });
  g.emit('}');
  return r;
}

export function genBind(g: Gen, node: Node, cx: Cx, off: number): string {
  const v = g.gen(node.rhs as Node, cx, off + 1);
  const slot = cx.frame.vars.get((node.lhs as Node).value as string);
  if (slot === undefined) throw new Error('binding outside its frame');
  g.emit(`${slot.id} = ${v};`);
  return v;
}

export function genRegex(g: Gen, node: Node): string {
  return g.atom(`makeRegex(${g.konst(node.value)}, ${lit(node.position)})`);
}

export function genWildcard(g: Gen, _node: Node, cx: Cx): string {
  return g.atom(`wildcard(st, ${cx.x})`);
}

export function genDescendant(g: Gen, _node: Node, cx: Cx): string {
  return g.atom(`descendants(st, ${cx.x})`);
}

/** evaluateFilter(predicate, input): the predicate runs one deeper than the node it filters. */
export function genFilter(g: Gen, pred: Node, input: string, cx: Cx, off: number): string {
  if (pred.type === 'number') return g.atom(`indexFilter(st, ${input}, ${lit(pred.value)})`);
  const items = g.atom(`(isArray(${input}) ? ${input} : seq1(st, ${input}))`);
  const out = g.id('t');
  const i = g.id('i');
  const item = g.id('x');
  g.emit(`const ${out} = seq();`);
  g.emit(`for (let ${i} = 0; ${i} < ${items}.length; ${i}++) {`);
  g.emit(`tick(st); const ${item} = ${items}[${i}];`);
  const v = g.gen(pred, { ...cx, x: item }, off + 1);
  g.emit(`for (let h = selects(${v}, ${i}, ${items}.length); h > 0; h--) spush(st, ${out}, ${item});`);
  g.emit('}');
  return out;
}
