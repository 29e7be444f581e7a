/**
 * Regular expressions and the pattern built-ins ($contains, $match, $replace, $split), synchronous
 * ports of jsonata's evaluateRegex / evaluateMatcher and functions of the same names. Their loops
 * have no timeout check, as the interpreter's have none (a lambda matcher checks on each call).
 */
import { applyArg } from './apply.ts';
import { jerr } from './errors.ts';
import { Fn, RESTART, focusOf, isFunction, seq, spush, type State } from './values.ts';

interface MatchResult {
  match: string;
  start: number;
  end: number;
  groups: string[];
  next: () => MatchResult | undefined;
}

/** evaluateRegex: a matcher function over a fresh copy of the literal's RegExp. */
export function makeRegex(value: RegExp, position: number | undefined): (str: string, fromIndex?: number) => MatchResult | undefined {
  const re = new RegExp(value);
  const closure = (str: string, fromIndex?: number): MatchResult | undefined => {
    re.lastIndex = fromIndex || 0;
    const found = re.exec(str);
    if (found === null) return undefined;
    const result: MatchResult = {
      match: found[0],
      start: found.index,
      end: found.index + found[0].length,
      groups: [],
      next: () => {
        if (re.lastIndex >= str.length) return undefined;
        const next = closure(str, re.lastIndex);
        if (next && next.match === '') throw jerr('D1004', { position, value: value.source });
        return next;
      },
    };
    for (let i = 1; i < found.length; i++) result.groups.push(found[i] as string);
    return result;
  };
  return closure;
}

/** evaluateMatcher: call the matcher and check it returned a match structure (T1010). */
function matcher(st: State, dep: number, m: unknown, str: string | undefined): MatchResult | undefined {
  let result: unknown;
  if (m instanceof Fn) result = applyArg(st, dep, m, [str]);
  else if (typeof m === 'function') result = (m as (s: unknown) => unknown).call(focusOf(st), str);
  else if (isFunction(m)) throw RESTART;
  else throw new TypeError('matcher is not a function');
  const r = result as Record<string, unknown> | undefined;
  if (r && !(typeof r.start === 'number' || r.end === 'number' || Array.isArray(r.groups) || isFunction(r.next))) {
    throw jerr('T1010');
  }
  return result as MatchResult | undefined;
}

export function contains(st: State, dep: number, str: string | undefined, token: unknown): boolean | undefined {
  if (str === undefined || token === undefined) return undefined;
  if (typeof token === 'string') return str.indexOf(token) !== -1;
  return matcher(st, dep, token, str) !== undefined;
}

export function match(st: State, dep: number, str: string | undefined, regex: unknown, limit: number | undefined): unknown {
  if (str === undefined) return undefined;
  if (limit !== undefined && limit < 0) throw jerr('D3040', { value: limit, index: 3 });
  const result = seq();
  if (limit === undefined || limit > 0) {
    let count = 0;
    let found = matcher(st, dep, regex, str);
    while (found !== undefined && (limit === undefined || count < limit)) {
      spush(st, result, { match: found.match, index: found.start, groups: found.groups });
      found = matcher(st, dep, found.next, undefined);
      count++;
    }
  }
  return result;
}

function substitute(replacement: string, found: MatchResult): string {
  let out = '';
  let position = 0;
  let index = replacement.indexOf('$', position);
  while (index !== -1 && position < replacement.length) {
    out += replacement.substring(position, index);
    position = index + 1;
    const dollarVal = replacement.charAt(position);
    if (dollarVal === '$') {
      out += '$';
      position++;
    } else if (dollarVal === '0') {
      out += found.match;
      position++;
    } else {
      const maxDigits = found.groups.length === 0 ? 1 : Math.floor(Math.log(found.groups.length) * Math.LOG10E) + 1;
      index = parseInt(replacement.substring(position, position + maxDigits), 10);
      if (maxDigits > 1 && index > found.groups.length) {
        index = parseInt(replacement.substring(position, position + maxDigits - 1), 10);
      }
      if (!Number.isNaN(index)) {
        if (found.groups.length > 0) {
          const sub = found.groups[index - 1];
          if (sub !== undefined) out += sub;
        }
        position += index.toString().length;
      } else {
        out += '$';
      }
    }
    index = replacement.indexOf('$', position);
  }
  return out + replacement.substring(position);
}

export function replace(st: State, dep: number, str: string | undefined, pattern: unknown, replacement: unknown, limit: number | undefined): unknown {
  if (str === undefined) return undefined;
  if (pattern === '') throw jerr('D3010', { value: pattern, index: 2 });
  if (limit !== undefined && limit < 0) throw jerr('D3011', { value: limit, index: 4 });
  const replacer = (found: MatchResult): unknown => {
    if (typeof replacement === 'string') return substitute(replacement, found);
    if (replacement instanceof Fn) return applyArg(st, dep, replacement, [found]);
    // The interpreter calls `replacement.apply(...)` on whatever it is.
    throw new TypeError(`Cannot read properties of ${String(replacement)} (reading 'apply')`);
  };
  if (!(limit === undefined || limit > 0)) return str;
  let result = '';
  let position = 0;
  let count = 0;
  if (typeof pattern === 'string') {
    // The interpreter would concatenate the source text of its function wrapper: let it.
    if (typeof replacement !== 'string') throw RESTART;
    let index = str.indexOf(pattern, position);
    while (index !== -1 && (limit === undefined || count < limit)) {
      result += str.substring(position, index);
      result += replacement as string;
      position = index + pattern.length;
      count++;
      index = str.indexOf(pattern, position);
    }
    return result + str.substring(position);
  }
  let found = matcher(st, dep, pattern, str);
  if (found === undefined) return str;
  while (found !== undefined && (limit === undefined || count < limit)) {
    result += str.substring(position, found.start);
    const replacedWith = replacer(found);
    if (typeof replacedWith !== 'string') throw jerr('D3012', { value: replacedWith });
    result += replacedWith;
    position = found.start + found.match.length;
    count++;
    found = matcher(st, dep, found.next, undefined);
  }
  return result + str.substring(position);
}

export function split(st: State, dep: number, str: string | undefined, separator: unknown, limit: number | undefined): unknown {
  if (str === undefined) return undefined;
  if (limit !== undefined && limit < 0) throw jerr('D3020', { value: limit, index: 3 });
  let result: string[] = [];
  if (limit === undefined || limit > 0) {
    if (typeof separator === 'string') {
      result = str.split(separator, limit);
    } else {
      let count = 0;
      let found = matcher(st, dep, separator, str);
      if (found !== undefined) {
        let start = 0;
        while (found !== undefined && (limit === undefined || count < limit)) {
              result.push(str.substring(start, found.start));
          start = found.end;
          found = matcher(st, dep, found.next, undefined);
          count++;
        }
        if (limit === undefined || count < limit) result.push(str.substring(start));
      } else {
        result.push(str);
      }
    }
  }
  return result;
}
