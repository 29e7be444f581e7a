import type { ErrorDetail } from '../errors.ts';

const reference = /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of `value` from `env`. A variable that is
 * unset (or empty) without a default is reported with the path of the string that needs it.
 */
export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path: (string | number)[] = [],
  missing: Array<{ path: (string | number)[]; variable: string }> = [],
): { value: unknown; missing: Array<{ path: (string | number)[]; variable: string }> } {
  if (typeof value === 'string') {
    const replaced = value.replace(reference, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      missing.push({ path, variable: name });
      return '';
    });
    return { value: replaced, missing };
  }
  if (Array.isArray(value)) {
    return { value: value.map((item, index) => interpolateEnv(item, env, [...path, index], missing).value), missing };
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = interpolateEnv(item, env, [...path, key], missing).value;
    return { value: out, missing };
  }
  return { value, missing };
}

/** Names of the variables a string refers to. */
export function referencedVariables(text: string): string[] {
  return [...text.matchAll(reference)].map((match) => match[1]!);
}

export function missingEnvDetails(file: string, missing: Array<{ path: (string | number)[]; variable: string }>, lineOf: (path: (string | number)[]) => number | undefined): ErrorDetail[] {
  return missing.map(({ path, variable }) => {
    const line = lineOf(path);
    const detail: ErrorDetail = { file, field: path.join('.'), message: `environment variable ${variable} is not set` };
    if (line !== undefined) detail.line = line;
    return detail;
  });
}
