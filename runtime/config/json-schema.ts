import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ErrorDetail } from '../errors.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/**
 * An ajv instance for JSON Schema 2020-12. Strict mode turns typos in schemas into load errors;
 * allErrors stays off (it keeps validating after the first error, a cost attackers can choose);
 * validators are compiled once per configuration version and reused.
 */
export function createAjv(options: Options = {}): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: false, coerceTypes: false, ...options });
  addFormats(ajv);
  return ajv;
}

export type { ValidateFunction, ErrorObject };

/** ajv's errors as details naming the field (a dotted path) and, given a line finder, the line. */
export function schemaErrors(
  errors: ErrorObject[] | null | undefined,
  options: { file?: string; prefix?: string; lineOf?: (path: string[]) => number | undefined } = {},
): ErrorDetail[] {
  return (errors ?? []).map((error) => {
    const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (error.keyword === 'required') segments.push(String(error.params['missingProperty']));
    if (error.keyword === 'additionalProperties') segments.push(String(error.params['additionalProperty']));
    const field = [options.prefix, ...segments].filter((s) => s !== undefined && s !== '').join('.');
    const detail: ErrorDetail = { field: field === '' ? '(root)' : field, message: messageOf(error) };
    if (options.file !== undefined) detail.file = options.file;
    const line = options.lineOf?.(segments);
    if (line !== undefined) detail.line = line;
    return detail;
  });
}

function messageOf(error: ErrorObject): string {
  switch (error.keyword) {
    case 'required':
      return `is required`;
    case 'additionalProperties':
      return `is not allowed here`;
    case 'enum':
      return `must be one of ${JSON.stringify(error.params['allowedValues'])}`;
    default:
      return error.message ?? error.keyword;
  }
}
