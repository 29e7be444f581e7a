/**
 * JSONata mappings compiled to JavaScript. `compileMapping` parses with the jsonata package, then
 * compiles the expression to a synchronous function with exactly the interpreter's results and
 * errors, or, for anything outside the supported subset, falls back to the interpreter (visibly:
 * `compiled: false` and the `reason`). See docs/reference/mappings.md.
 */
import jsonata from 'jsonata';
import { generate, type Generated } from './compile.ts';
import { Unsupported, type Node } from './gen-core.ts';
import { syncInterpreter, type SyncExpression } from './sync-interpreter.ts';
import { Restart, isFunction } from './values.ts';

export interface MappingLimits {
  timeout: number;
  stack: number;
  sequence: number;
}

export interface CompiledMapping {
  /** True when the expression runs as generated JavaScript; false when it falls back to the jsonata interpreter. */
  readonly compiled: boolean;
  /** Why it fell back (the first unsupported construct, with its position), when compiled is false. */
  readonly reason?: string;
  /** Synchronous when compiled; a Promise when it falls back. Throws/rejects with JSONata-style errors ({code, message, position?}). */
  evaluate(input: unknown, bindings?: Record<string, unknown>): unknown;
}

/** How many compiled evaluations were re-run by the interpreter (see Restart), since start. */
export const mappingStats = { reruns: 0 };

/** Bindings the compiled code cannot honour: functions (they may be asynchronous), or a binding that shadows a built-in. */
function needsInterpreter(gen: Generated, bindings: Record<string, unknown>): boolean {
  if (typeof bindings !== 'object' || bindings === null) return false;
  for (const name of gen.builtinNames) if (Object.prototype.propertyIsEnumerable.call(bindings, name)) return true;
  for (const name of gen.bindingNames) {
    const value = bindings[name];
    if (value !== null && (typeof value === 'object' || typeof value === 'function') &&
      Object.prototype.propertyIsEnumerable.call(bindings, name) && holdsFunction(value, 0)) {
      return true;
    }
  }
  return false;
}

function holdsFunction(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return typeof value === 'function';
  if (isFunction(value) || depth > 32) return true;
  for (const key of Object.keys(value)) if (holdsFunction((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

/** Parses with the jsonata package (syntax errors thrown exactly as jsonata throws them: {code, position, message}), then compiles or falls back. */
export function compileMapping(text: string, limits: MappingLimits): CompiledMapping {
  const expression = jsonata(text, { timeout: limits.timeout, stack: limits.stack, sequence: limits.sequence });
  const interpret = (input: unknown, bindings?: Record<string, unknown>) => expression.evaluate(input, bindings);
  let gen: Generated;
  try {
    gen = generate(expression.ast() as unknown as Node, { timeout: limits.timeout, stack: limits.stack, sequence: limits.sequence });
  } catch (error) {
    if (!(error instanceof Unsupported)) throw error;
    return Object.freeze({ compiled: false, reason: error.message, evaluate: interpret });
  }
  const { main } = gen;
  const plain = gen.builtinNames.length === 0 && gen.bindingNames.length === 0;
  let exact: SyncExpression | undefined;
  return Object.freeze({
    compiled: true,
    evaluate(input: unknown, bindings?: Record<string, unknown>): unknown {
      if (!plain && bindings !== undefined && needsInterpreter(gen, bindings)) return interpret(input, bindings);
      try {
        return main(input, bindings);
      } catch (error) {
        // Restart: only the interpreter knows the answer; a JS stack overflow: the interpreter, whose
        // recursion goes through promises, does not overflow where compiled code does (no stack limit).
        if (!(error instanceof Restart) && !(error instanceof RangeError && /call stack/i.test(error.message))) throw error;
        mappingStats.reruns++;
        exact ??= syncInterpreter(text, limits);
        return exact.evaluate(input, bindings);
      }
    },
  });
}

/** The generated JavaScript of a compiled mapping, for debugging; undefined when it falls back. */
export function mappingSource(text: string, limits: MappingLimits): string | undefined {
  try {
    return generate(jsonata(text).ast() as unknown as Node, limits).source;
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}
