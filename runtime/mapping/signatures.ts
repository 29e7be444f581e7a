/**
 * The coarse value types of the static analysis (a bit set) and what jsonata's built-ins may
 * raise for arguments of given types: signature mismatches (T0410, T0411, T0412, read from the
 * built-in's own signature definition) and their own errors.
 */
import { builtins } from './builtins.ts';

export type Errors = Set<string> | 'any';

// Value types, as a bit set.
export const U = 1, L = 2, B = 4, N = 8, I = 16, S = 32, A = 64, O = 128, F = 256;
export const JSON_T = U | L | B | N | S | A | O;
export const ANY_T = JSON_T | I | F;
export const NUM = N | I;

/** Which argument types a signature symbol accepts without a T0410. */
function accepts(symbol: string): number {
  switch (symbol) {
    case 's': return U | S;
    case 'n': return U | NUM;
    case 'b': return U | B;
    case 'l': return U | L;
    case 'o': return U | O;
    case 'f': return U | F;
    case 'j': return ANY_T & ~F;
    default: return ANY_T; // a, x
  }
}

interface Param {
  accept: number;
  optional: boolean;
  context: boolean;
  subtype: boolean;
  variadic: boolean;
}

function parseParams(definition: string): Param[] {
  const params: Param[] = [];
  for (let i = 1; i < definition.length; i++) {
    const c = definition.charAt(i);
    if (c === ':') break;
    const last = params[params.length - 1];
    if (c === '-' && last) last.context = true;
    else if (c === '?' && last) last.optional = true;
    else if (c === '+' && last) last.variadic = true;
    else if (c === '<' && last) {
      last.subtype = true;
      let depth = 1;
      while (depth > 0 && ++i < definition.length) {
        if (definition.charAt(i) === '<') depth++;
        if (definition.charAt(i) === '>') depth--;
      }
    } else if (c === '(') {
      const end = definition.indexOf(')', i);
      let accept = U;
      for (const s of definition.substring(i + 1, end)) accept |= accepts(s);
      params.push({ accept, optional: false, context: false, subtype: false, variadic: false });
      i = end;
    } else if ('snblofjxa'.includes(c)) {
      params.push({ accept: accepts(c), optional: false, context: false, subtype: false, variadic: false });
    }
  }
  return params;
}

/** Errors a built-in raises beyond its signature, given its argument types. */
export function ownErrors(name: string, args: number[]): Errors {
  const has = (i: number, t: number) => ((args[i] ?? U) & t) !== 0;
  const anyI = args.some((t) => (t & I) !== 0);
  switch (name) {
    case 'string': case 'clone': return anyI ? new Set(['D3001', 'D1001']) : new Set();
    case 'boolean': case 'not': return anyI ? new Set(['D1001']) : new Set();
    case 'number': return has(0, S) ? new Set(['D3030']) : new Set();
    case 'sqrt': return new Set(['D3060']);
    case 'power': return new Set(['D3061']);
    case 'encodeUrl': case 'encodeUrlComponent': case 'decodeUrl': case 'decodeUrlComponent': return new Set(['D3140']);
    case 'sort': return args.length >= 2 ? 'any' : new Set(['D3070', 'D1001']);
    case 'error': return new Set(['D3137']);
    case 'assert': return new Set(['D3141']);
    case 'exists': case 'type': case 'count': case 'keys': case 'lookup': case 'append': case 'spread': case 'merge':
    case 'reverse': case 'distinct': case 'zip': case 'shuffle': case 'base64encode': case 'base64decode': case 'lowercase':
    case 'uppercase': case 'trim': case 'length': case 'substring': case 'substringBefore': case 'substringAfter': case 'join':
    case 'pad': case 'abs': case 'floor': case 'ceil': case 'round': case 'sum': case 'max': case 'min': case 'average':
    case 'random': case 'millis':
      return new Set();
    case 'contains': case 'split': case 'replace': case 'match':
      return args.some((t) => (t & F) !== 0) ? 'any' : new Set(['D3010', 'D3011', 'D3020', 'D3040']);
    default: return 'any';
  }
}

/** Result type of a built-in (coarse). */
export function returnType(name: string): number {
  switch (name) {
    case 'count': case 'length': case 'millis': case 'random': return N;
    case 'string': case 'substring': case 'substringBefore': case 'substringAfter': case 'lowercase': case 'uppercase':
    case 'trim': case 'pad': case 'join': case 'formatNumber': case 'formatBase': case 'formatInteger': case 'now':
    case 'base64encode': case 'base64decode': case 'encodeUrl': case 'encodeUrlComponent': case 'decodeUrl':
    case 'decodeUrlComponent': case 'type': case 'replace': case 'fromMillis':
      return U | S;
    case 'boolean': case 'not': case 'exists': case 'contains': return U | B;
    case 'number': case 'abs': case 'floor': case 'ceil': case 'round': case 'sqrt': case 'power': case 'sum': case 'max':
    case 'min': case 'average': case 'toMillis': case 'parseInteger':
      return U | NUM;
    default: return ANY_T;
  }
}

export function signatureErrors(name: string, args: number[], context: number): Errors {
  const def = builtins.get(name)?.fn.sig?.definition;
  if (def === undefined) return 'any';
  const params = parseParams(def);
  const out = new Set<string>();
  let ai = 0;
  for (const p of params) {
    if (ai < args.length) {
      const t = args[ai] as number;
      if (t & ~p.accept) out.add('T0410');
      if (p.subtype && t & ~U) out.add('T0412');
      ai++;
      if (p.variadic) while (ai < args.length) ai++;
    } else if (p.context) {
      if (context & ~p.accept) out.add('T0411');
      if (p.subtype) out.add('T0412');
    } else if (!p.optional) {
      out.add('T0410');
    }
  }
  if (ai < args.length) out.add('T0410');
  return out;
}

