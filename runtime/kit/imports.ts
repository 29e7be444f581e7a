import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { positionOf } from '../config/yaml-file.ts';
import type { ErrorDetail } from '../errors.ts';

const runtimeDir = resolve(dirname(new URL(import.meta.url).pathname), '..');
/** The only recsync module a connector's own code may import. */
export const sdkFile = join(runtimeDir, 'sdk', 'index.ts');
/** What a sandbox may import besides the SDK. */
export const sandboxKitFile = join(runtimeDir, 'sdk', 'sandbox-kit', 'index.ts');

// Static imports and re-exports (`import ... from '...'`, `export ... from '...'`, `import '...'`)
// and dynamic `import('...')` with a literal: enough for connector code, which has no build step.
const specifiers = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

export interface ImportRef {
  specifier: string;
  line: number;
}

/** The module specifiers a TypeScript file imports, with their lines. */
export function importsOf(text: string): ImportRef[] {
  // Comments may mention imports; blank them out, keeping offsets (and so line numbers) intact.
  const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (comment) => comment.replace(/[^\n]/g, ' '));
  return [...code.matchAll(specifiers)].map((m) => ({ specifier: (m[1] ?? m[2])!, line: positionOf(code, m.index + m[0].search(/\S/)).line }));
}

/**
 * Checks the dependency rule of a connector folder: the connector module, and every file of the
 * folder it imports, import only `node:` built-ins, files of the folder and the SDK
 * (runtime/sdk/index.ts). Any other `.ts` file of the folder (the sandbox) may import the sandbox
 * kit too. Nothing may import a package: the runtime owns HTTP, queues, validation and tracing.
 */
export async function importProblems(dir: string, connectorFile: string): Promise<ErrorDetail[]> {
  const root = resolve(dir);
  const display = (file: string) => relative(process.cwd(), file) || file;
  const files = await tsFiles(root);
  const graph = new Map<string, Array<ImportRef & { target: string | undefined }>>();
  for (const file of files) {
    const refs = importsOf(await readFile(file, 'utf8'));
    graph.set(file, refs.map((ref) => ({ ...ref, target: ref.specifier.startsWith('.') ? resolve(dirname(file), ref.specifier) : undefined })));
  }
  // The connector module's own graph, within the folder.
  const connectorGraph = new Set<string>();
  const visit = (file: string) => {
    if (connectorGraph.has(file) || !graph.has(file)) return;
    connectorGraph.add(file);
    for (const ref of graph.get(file)!) if (ref.target !== undefined) visit(ref.target);
  };
  visit(resolve(connectorFile));

  const problems: ErrorDetail[] = [];
  for (const [file, refs] of graph) {
    const allowed = connectorGraph.has(file) ? [sdkFile] : [sdkFile, sandboxKitFile];
    const role = connectorGraph.has(file) ? 'connector code' : 'a sandbox';
    for (const ref of refs) {
      if (ref.specifier.startsWith('node:')) continue;
      if (ref.target !== undefined && (ref.target.startsWith(root + sep) || allowed.includes(ref.target))) continue;
      const what = ref.target === undefined ? `the package "${ref.specifier}"` : `"${ref.specifier}"`;
      const may = connectorGraph.has(file) ? 'runtime/sdk/index.ts' : 'runtime/sdk/index.ts and runtime/sdk/sandbox-kit/index.ts';
      problems.push({ file: display(file), line: ref.line, message: `${role} imports ${what}; it may import only node: built-ins, files of its folder and ${may}` });
    }
  }
  return problems;
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) out.push(...(await tsFiles(path)));
    else if (entry.isFile() && entry.name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}
