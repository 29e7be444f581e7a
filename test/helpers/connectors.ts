import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onCleanup } from './cleanup.ts';

export const repoConnectors = new URL('../../connectors/', import.meta.url).pathname;

const repoRoot = new URL('../../', import.meta.url).pathname;

/**
 * Copies connectors from the repository into a temporary folder (removed after the file's tests),
 * so a test can break or tune one without touching the real ones. The folder sits at the
 * repository's top (git-ignored) so that the connectors' relative imports of runtime/sdk resolve.
 */
export async function copyConnectors(names: string[]): Promise<{ root: string; edit(file: string, change: (text: string) => string): Promise<void> }> {
  const root = await mkdtemp(join(repoRoot, '.tmp-connectors-'));
  onCleanup(() => rm(root, { recursive: true, force: true }));
  for (const name of names) await cp(join(repoConnectors, name), join(root, name), { recursive: true });
  return {
    root,
    async edit(file, change) {
      const path = join(root, file);
      const before = await readFile(path, 'utf8');
      const afterText = change(before);
      if (afterText === before) throw new Error(`edit of ${file} changed nothing`);
      await writeFile(path, afterText);
    },
  };
}
