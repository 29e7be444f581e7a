/**
 * Generators for paths (evaluatePath / evaluateStep, with a fast helper for plain field paths),
 * order-by steps, and the constructors: `[...]` and `{...}` / grouping (evaluateGroupExpression).
 */
import { genFilter } from './gen-basic.ts';
import { Unsupported, lit, type Cx, type Gen, type Node } from './gen-core.ts';

function plainName(step: Node): boolean {
  return step.type === 'name' && typeof step.value === 'string' && !step.stages && !step.predicate && !step.group &&
    !step.keepArray && !step.tuple && step.focus === undefined && step.index === undefined && step.ancestor === undefined;
}

export function genName(g: Gen, node: Node, cx: Cx): string {
  return g.atom(`lookup(st, ${cx.x}, ${JSON.stringify(node.value)})`);
}

export function genPath(g: Gen, node: Node, cx: Cx, off: number): string {
  const steps = node.steps ?? [];
  if (node.tuple || steps.some((s) => s.tuple || s.focus !== undefined || s.index !== undefined || s.ancestor !== undefined)) {
    throw new Unsupported('context/positional variable bindings (@, #) and the parent operator (%)', node.position);
  }
  if (steps.every(plainName) && !node.keepSingletonArray && !node.group) {
    g.check(cx, off + 1, steps[0]?.position);
    const keys = g.konst(steps.map((s) => s.value as string));
    const depth = cx.base === null ? '0' : g.depth(cx, off + 1);
    const general = `names(st, ${cx.x}, ${keys}, ${depth})`;
    if (steps.length > 3) return g.atom(general);
    // Inline: one own-property read per step while the values are not arrays; any array, the general path.
    const r = g.id('t');
    g.emit(`let ${r} = ${cx.x};`);
    let close = '';
    steps.forEach((step, i) => {
      g.emit(`if (isArray(${r})) ${r} = ${general}; else {`);
      if (cx.base !== null) g.emit(`dchk(st, ${depth});`);
      g.emit(`${r} = field(${r}, ${JSON.stringify(step.value)});`);
      close += '}';
      if (i < steps.length - 1) {
        g.emit(`if (${r} !== undefined) {`);
        close += '}';
      }
    });
    g.emit(`if (isArray(${r}) && ${r}.sequence === true) ${r} = ${general};`);
    g.emit(close);
    return r;
  }
  const rs = g.id('t');
  const label = g.id('p');
  g.emit(`let ${rs};`);
  g.emit(`${label}: {`);
  let input = g.id('s');
  g.emit(`const ${input} = ${steps[0]?.type === 'variable' ? `seq1(st, ${cx.x})` : `pathInput(st, ${cx.x})`};`);
  steps.forEach((step, i) => {
    const last = i === steps.length - 1;
    if (i === 0 && step.consarray) {
      g.emit(`${rs} = ${g.gen(step, { ...cx, x: input }, off + 1)};`);
    } else if (step.type === 'sort') {
      g.emit(`${rs} = ${genSort(g, step, input, cx, off)};`);
    } else {
      genStep(g, step, input, rs, last, cx, off);
    }
    if (!last) {
      g.emit(`if (${rs} === undefined || ${rs}.length === 0) break ${label};`);
      const next = g.id('s');
      g.emit(`const ${next} = ${rs};`);
      input = next;
    }
  });
  g.emit('}');
  let result = rs;
  if (node.keepSingletonArray) result = g.atom(`keepPath(st, ${result})`);
  if (node.group) result = genGroup(g, node.group.lhs, node.group.position, result, cx, off);
  return result;
}

/** evaluateStep: the step for each item of the input, its stages, then flatten. */
function genStep(g: Gen, step: Node, input: string, rs: string, last: boolean, cx: Cx, off: number): void {
  const res = g.id('t');
  const i = g.id('i');
  const item = g.id('x');
  g.emit(`const ${res} = seq();`);
  g.emit(`for (let ${i} = 0; ${i} < ${input}.length; ${i}++) {`);
  g.emit(`tick(st); const ${item} = ${input}[${i}];`);
  let v = g.gen(step, { ...cx, x: item }, off + 1);
  for (const stage of step.stages ?? []) {
    if (stage.type !== 'filter') throw new Unsupported('positional variable binding (#)', stage.position);
    v = genFilter(g, stage.expr, v, cx, off);
  }
  g.emit(`if (${v} !== undefined) spush(st, ${res}, ${v});`);
  g.emit('}');
  g.emit(`${rs} = stepResult(st, ${res}, ${last});`);
}

/** An order-by step: sortBy with one closure per term, then the step's filter stages. */
function genSort(g: Gen, step: Node, input: string, cx: Cx, off: number): string {
  const terms = (step.terms ?? []).map((term) => {
    const item = g.id('x');
    let value = '';
    const body = g.nested(() => {
      value = g.gen(term.expression, { ...cx, x: item }, off + 1);
    });
    return `{ descending: ${term.descending === true}, value: (${item}) => { ${body.join('\n')}\nreturn ${value}; } }`;
  });
  let result = g.atom(`sortBy(st, ${input}, [${terms.join(', ')}], ${lit(step.position)})`);
  for (const stage of step.stages ?? []) {
    if (stage.type !== 'filter') throw new Unsupported('positional variable binding (#)', stage.position);
    result = genFilter(g, stage.expr, result, cx, off);
  }
  return result;
}

/**
 * The items of a constructor that the interpreter evaluates concurrently, under the constructor's
 * guard (see Guard): a run-time depth check, and a re-run by the interpreter if an item fails.
 */
function guarded(g: Gen, key: object, cx: Cx, off: number, body: () => void): void {
  const guard = g.guards.get(key);
  if (guard?.depth !== undefined && g.stack > 0) g.emit(`if (${g.depth(cx, off)} + ${guard.depth} > ${g.stack}) throw RESTART;`);
  if (!guard?.errors) {
    body();
    return;
  }
  const lines = g.nested(body);
  g.emit('try {');
  lines.forEach((line) => g.emit(line));
  g.emit('} catch (e) { throw restart(e); }');
}

/** The array constructor: items in order, `[...]` items kept whole, others appended. */
export function genArray(g: Gen, node: Node, cx: Cx, off: number): string {
  const items = node.expressions ?? [];
  const values = items.map(() => g.id('t'));
  if (values.length > 0) g.emit(`let ${values.join(', ')};`);
  guarded(g, node, cx, off, () => {
    items.forEach((item, i) => g.emit(`${values[i]} = ${g.gen(item, cx, off + 1)};`));
  });
  const a = g.id('t');
  g.emit(`let ${a} = [];`);
  items.forEach((item, i) => g.emit(`${a} = consPush(st, ${a}, ${values[i]}, ${item.value === '['});`));
  if (node.consarray) g.emit(`markCons(${a});`);
  return a;
}

/** Integer-like keys first (ascending), then the rest in order: the order of Object.keys. */
function keyOrder(keys: string[]): number[] {
  const order = keys.map((_k, i) => i);
  const isIndex = (k: string) => /^(?:0|[1-9]\d*)$/.test(k) && Number(k) < 2 ** 32 - 1;
  return [
    ...order.filter((i) => isIndex(keys[i] as string)).sort((a, b) => Number(keys[a]) - Number(keys[b])),
    ...order.filter((i) => !isIndex(keys[i] as string)),
  ];
}

/** evaluateGroupExpression over `input` (the object constructor, or a grouping `expr{...}`). */
export function genGroup(g: Gen, pairs: [Node, Node][], position: number | undefined, input: string, cx: Cx, off: number): string {
  const o = g.id('t');
  const keys = pairs.map(([k]) => (k.type === 'string' && !k.predicate && !k.keepArray ? (k.value as string) : undefined));
  const literal = keys.every((k) => k !== undefined) && new Set(keys).size === keys.length &&
    !keys.includes('_jsonata_lambda') && !keys.includes('_jsonata_function');
  if (literal) {
    // Every item gives every key: one group per pair, whose context is the input (or, for an array, its items appended).
    if (pairs.length > 0) g.check(cx, off + 1, pairs[0]?.[0].position);
    const contexts = g.id('t');
    g.emit(`const ${contexts} = isArray(${input}) ? literalGroupContexts(st, ${input}, ${pairs.length}) : undefined;`);
    // The interpreter makes Object.create(null), which V8 keeps in slow (dictionary) mode: 20 times
    // slower to fill. An Obj has a prototype that is itself null-prototype: no inherited member either
    // (no toString, no constructor, no __proto__ setter), but a fast layout.
    g.emit(`const ${o} = new Obj();`);
    guarded(g, pairs, cx, off, () => {
      for (const p of keyOrder(keys as string[])) {
        const c = g.id('x');
        g.emit(`const ${c} = ${contexts} === undefined ? ${input} : ${contexts}[${p}];`);
        const v = g.gen((pairs[p] as [Node, Node])[1], { ...cx, x: c }, off + 1);
        g.emit(`if (${v} !== undefined) ${o}[${JSON.stringify(keys[p])}] = ${v};`);
      }
    });
    return o;
  }
  const item = g.id('x');
  const keyCases = pairs.map(([k], p) => {
    let v = '';
    const body = g.nested(() => {
      v = g.gen(k, { ...cx, x: item }, off + 1);
    });
    return `case ${p}: { ${body.join('\n')}\nreturn ${v}; }`;
  });
  const ctxId = g.id('x');
  const valueCases = pairs.map(([, val], p) => {
    let v = '';
    const body = g.nested(() => {
      v = g.gen(val, { ...cx, x: ctxId }, off + 1);
    });
    return `case ${p}: { ${body.join('\n')}\nreturn ${v}; }`;
  });
  const guard = g.guards.get(pairs);
  if (guard?.depth !== undefined && g.stack > 0) g.emit(`if (${g.depth(cx, off)} + ${guard.depth} > ${g.stack}) throw RESTART;`);
  const values = `switch (pair) { ${valueCases.join('\n')} }`;
  const perGroup = guard?.perGroup !== undefined && g.stack > 0 ? `, ${g.depth(cx, off)}, ${guard.perGroup}` : '';
  g.emit(`const ${o} = group(st, ${input}, ${pairs.length}, (${item}, pair) => { switch (pair) { ${keyCases.join('\n')} } }, ` +
    `(${ctxId}, pair) => { ${guard?.errors ? `try { ${values} } catch (e) { throw restart(e); }` : values} }, ${lit(position)}${perGroup});`);
  return o;
}
