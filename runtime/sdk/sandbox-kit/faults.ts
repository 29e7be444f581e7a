import type { FaultKind, FaultSpec } from './types.ts';

interface Armed {
  spec: FaultSpec;
  remaining: number;
}

/** Pending faults, matched in insertion order; each is used up after `times` matching requests. */
export class FaultQueue {
  #armed: Armed[] = [];

  add(spec: FaultSpec): void {
    const clean = validateFault(spec);
    this.#armed.push({ spec: clean, remaining: clean.times ?? 1 });
  }

  clear(): void {
    this.#armed = [];
  }

  /** What is still armed, with the remaining count in `times`. */
  list(): FaultSpec[] {
    return this.#armed.map(({ spec, remaining }) => ({ ...spec, times: remaining }));
  }

  /** The first armed fault matching the request, consuming one use of it. */
  take(method: string, path: string): FaultSpec | undefined {
    const index = this.#armed.findIndex(({ spec }) => {
      const m = spec.match;
      if (m?.method !== undefined && m.method.toUpperCase() !== method.toUpperCase()) return false;
      if (m?.pathPrefix !== undefined && !path.startsWith(m.pathPrefix)) return false;
      return true;
    });
    const armed = this.#armed[index];
    if (armed === undefined) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.#armed.splice(index, 1);
    return armed.spec;
  }
}

export function faultKind(spec: FaultSpec): FaultKind {
  if (spec.drop === true) return 'drop';
  if (spec.hang === true) return 'hang';
  if (spec.status !== undefined) return 'status';
  if (spec.delayMs !== undefined && spec.delayMs > 0) return 'delay';
  return 'headers';
}

/**
 * Checks a fault (which may come from JSON over the control API) and returns a clean copy.
 * `times` may be a positive integer or Infinity; over JSON, null and "Infinity" mean Infinity.
 */
export function validateFault(input: unknown): FaultSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TypeError('a fault must be an object');
  const raw = input as Record<string, unknown>;
  const known = ['match', 'times', 'status', 'headers', 'body', 'delayMs', 'hang', 'drop', 'apply'];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new TypeError(`unknown fault fields: ${unknown.join(', ')}`);

  const spec: FaultSpec = {};
  if (raw.match !== undefined) {
    if (typeof raw.match !== 'object' || raw.match === null) throw new TypeError('match must be an object');
    const match = raw.match as Record<string, unknown>;
    spec.match = {};
    if (match.method !== undefined) spec.match.method = requireString(match.method, 'match.method');
    if (match.pathPrefix !== undefined) spec.match.pathPrefix = requireString(match.pathPrefix, 'match.pathPrefix');
  }
  if (raw.times !== undefined) {
    const times = raw.times === null || raw.times === 'Infinity' ? Infinity : raw.times;
    if (typeof times !== 'number' || !(times === Infinity || (Number.isInteger(times) && times > 0))) {
      throw new TypeError('times must be a positive integer or Infinity');
    }
    spec.times = times;
  }
  if (raw.status !== undefined) {
    if (typeof raw.status !== 'number' || !Number.isInteger(raw.status) || raw.status < 200 || raw.status > 599) {
      throw new TypeError('status must be an HTTP status between 200 and 599');
    }
    spec.status = raw.status;
  }
  if (raw.headers !== undefined) {
    if (typeof raw.headers !== 'object' || raw.headers === null) throw new TypeError('headers must be an object');
    spec.headers = Object.fromEntries(Object.entries(raw.headers).map(([k, v]) => [k, requireString(v, `headers.${k}`)]));
  }
  if (raw.body !== undefined) spec.body = raw.body;
  if (raw.delayMs !== undefined) {
    if (typeof raw.delayMs !== 'number' || !Number.isFinite(raw.delayMs) || raw.delayMs < 0) throw new TypeError('delayMs must be >= 0');
    spec.delayMs = raw.delayMs;
  }
  for (const key of ['hang', 'drop', 'apply'] as const) {
    if (raw[key] === undefined) continue;
    if (typeof raw[key] !== 'boolean') throw new TypeError(`${key} must be a boolean`);
    spec[key] = raw[key];
  }
  if (spec.hang === true && spec.drop === true) throw new TypeError('a fault cannot both hang and drop');
  if ((spec.hang === true || spec.drop === true) && spec.status !== undefined) throw new TypeError('status has no effect with hang or drop');
  return spec;
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  return value;
}
