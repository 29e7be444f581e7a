import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { RecsyncError, type ErrorDetail } from '../errors.ts';

/** Configuration files larger than this are refused before parsing. */
export const maxConfigBytes = 1024 * 1024;

export interface YamlFile {
  file: string;
  value: unknown;
  /** The 1-based line of the value at `path` (or of its nearest existing parent). */
  lineOf(path: ReadonlyArray<string | number>): number | undefined;
}

/**
 * Parses YAML into plain data, keeping the positions so that later validation errors can name the
 * line. Duplicate keys are errors, and aliases are capped (a "billion laughs" document fails
 * instead of expanding).
 */
export function parseYamlFile(file: string, text: string): YamlFile {
  if (Buffer.byteLength(text) > maxConfigBytes) {
    throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', `${file}: larger than ${maxConfigBytes} bytes`, [{ file, message: 'file too large' }]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const details = doc.errors.map((error): ErrorDetail => {
      const line = error.linePos?.[0]?.line;
      return line === undefined ? { file, message: firstLine(error.message) } : { file, line, message: firstLine(error.message) };
    });
    throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', `${file}: invalid YAML: ${describe(details)}`, details);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', `${file}: ${(error as Error).message}`, [{ file, message: (error as Error).message }]);
  }
  return { file, value, lineOf: (path) => lineOf(doc, lineCounter, path) };
}

function lineOf(doc: Document, lineCounter: LineCounter, path: ReadonlyArray<string | number>): number | undefined {
  for (let length = path.length; length >= 0; length -= 1) {
    const node = length === 0 ? doc.contents : doc.getIn(path.slice(0, length), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!;
}

export function describe(details: ErrorDetail[]): string {
  return details
    .map((d) => `${d.file ?? ''}${d.line === undefined ? '' : `:${d.line}`}${d.field === undefined ? '' : ` ${d.field}`}: ${d.message}`)
    .join('; ');
}

/** 1-based line and column of a character offset. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}
