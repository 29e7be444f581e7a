/**
 * Compiles a jsonata AST into a JavaScript function. The dispatcher below plays the role of the
 * interpreter's `evaluate`: depth guardrail on entry, the node itself, its predicates, its
 * grouping, then singleton unwrapping. The generated module receives the runtime object and the
 * constants as its only parameters; its text comes from the templates of the gen-*.ts files.
 */
import { analyze } from './analyze.ts';
import { checkDepth } from './depth.ts';
import { builtins, unsupportedBuiltins } from './builtins.ts';
import { bindsIn, genBind, genBinary, genBlock, genCondition, genDescendant, genFilter, genLiteral, genNegate, genRegex, genVariable, genWildcard, openFrame } from './gen-basic.ts';
import { genApply, genCall, genLambda, genPartial, genThunk, genTransform, unsupportedNode } from './gen-call.ts';
import { Gen, Unsupported, builtinNames, unsupportedNames, type Cx, type Node } from './gen-core.ts';
import { genArray, genGroup, genName, genPath } from './gen-path.ts';
import { runtime } from './runtime.ts';
import type { Limits } from './values.ts';

for (const [name, b] of builtins) builtinNames.set(name, b.fn);
for (const name of unsupportedBuiltins) unsupportedNames.add(name);

const normalized = new Set(['path', 'name', 'variable', 'function', 'apply', 'wildcard', 'descendant', 'condition', 'block', 'bind']);

function dispatcher(timeout: boolean) {
  return function dispatch(g: Gen, node: Node, cx: Cx, off: number): string {
    g.check(cx, off, node.position);
    let r: string;
    switch (node.type) {
      case 'path': r = genPath(g, node, cx, off); break;
      case 'name': r = genName(g, node, cx); break;
      case 'string': case 'number': case 'value': r = genLiteral(g, node); break;
      case 'variable': r = genVariable(g, node, cx); break;
      case 'binary': r = genBinary(g, node, cx, off); break;
      case 'unary':
        if (node.value === '-') r = genNegate(g, node, cx, off);
        else if (node.value === '[') r = genArray(g, node, cx, off);
        else if (node.value === '{') r = genGroup(g, node.lhs as [Node, Node][], node.position, cx.x, cx, off);
        else throw new Unsupported(`the unary operator ${String(node.value)}`, node.position);
        break;
      case 'condition': r = genCondition(g, node, cx, off); break;
      case 'block': r = genBlock(g, node, cx, off); break;
      case 'bind': r = genBind(g, node, cx, off); break;
      case 'function': r = genCall(g, node, cx, off); break;
      case 'partial': r = genPartial(g, node, cx, off); break;
      case 'apply': r = genApply(g, node, cx, off); break;
      case 'lambda': r = node.thunk ? genThunk(g, node, cx) : genLambda(g, node, cx, timeout); break;
      case 'regex': r = genRegex(g, node); break;
      case 'wildcard': r = genWildcard(g, node, cx); break;
      case 'descendant': r = genDescendant(g, node, cx); break;
      case 'transform': r = genTransform(g, node, cx, timeout); break;
      default: return unsupportedNode(node);
    }
    let normalize = normalized.has(node.type) || (node.type === 'binary' && node.value === '..');
    for (const p of node.predicate ?? []) {
      r = genFilter(g, p.expr, r, cx, off);
      normalize = true;
    }
    if (node.type !== 'path' && node.group) r = genGroup(g, node.group.lhs, node.group.position, r, cx, off);
    if (node.keepArray) return g.atom(`normKeep(${r})`);
    return normalize ? g.atom(`norm(${r})`) : r;
  };
}

export interface Generated {
  main: (input: unknown, bindings: unknown) => unknown;
  source: string;
  /** Free variables read from the evaluation bindings. */
  bindingNames: string[];
  /** Built-in names the expression uses: a binding with one of these names shadows the built-in. */
  builtinNames: string[];
  bindingSet: ReadonlySet<string>;
  builtinSet: ReadonlySet<string>;
}

const helperNames = Object.keys(runtime);

export function generate(ast: Node, limits: Limits): Generated {
  const guards = analyze(ast);
  checkDepth(ast, limits.stack, guards);
  const g = new Gen(limits.stack);
  g.guards = guards;
  g.dispatch = dispatcher(limits.timeout > 0);
  const body = g.nested(() => {
    const top = openFrame(g, { parent: null, vars: new Map() }, bindsIn(ast));
    const r = g.gen(ast, { x: 'x0', base: null, frame: top, dynamic: false }, 1);
    g.emit(`return ${r};`);
  });
  const limitsConst = g.konst(Object.freeze({ ...limits }));
  const bindingLines = [...g.freeBindings].map(([name, id]) => `const ${id} = binding(bindings, ${JSON.stringify(name)});`);
  const source = [
    '"use strict";',
    `const { ${helperNames.join(', ')} } = R;`,
    ...g.consts.map((_c, i) => `const k${i} = K[${i}];`),
    'return function main(input, bindings) {',
    `const st = newState(${limitsConst});`,
    'try {',
    'const x0 = wrapInput(st, input);',
    'const root = input;',
    ...bindingLines,
    ...body,
    '} catch (e) { populateMessage(e); throw e; }',
    '};',
  ].join('\n');
  // The source is built only from this compiler's templates; expression strings are JSON-encoded.
  const factory = new Function('R', 'K', source) as (r: typeof runtime, k: unknown[]) => Generated['main'];
  return {
    main: factory(runtime, g.consts),
    source,
    bindingNames: [...g.freeBindings.keys()],
    builtinNames: [...g.builtinRefs],
    bindingSet: new Set(g.freeBindings.keys()),
    builtinSet: new Set(g.builtinRefs),
  };
}
