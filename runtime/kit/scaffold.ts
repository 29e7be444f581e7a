import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The template of `kit new`: a complete connector named `starter` (manifest, connector, sandbox on
 * the sandbox kit, schemas, mapping, fixtures) that passes `kit validate`, `kit test` and the
 * conformance suite where it stands, and is type-checked with the rest of the repository.
 */
export const starterDir = resolve(dirname(new URL(import.meta.url).pathname), 'starter');

const namePattern = /^[a-z][a-z0-9-]{0,39}$/;

/**
 * Copies the starter into `<parent>/<name>`, renaming it (`starter`, `Starter`, `STARTER_` become
 * the name, its title case and its environment prefix) and rewriting every relative path that leads
 * out of the starter (the SDK, the sandbox kit, the JSON Schemas) so it still leads there.
 */
export async function scaffoldConnector(name: string, parent: string): Promise<{ dir: string; files: string[] }> {
  if (!namePattern.test(name)) throw new TypeError(`"${name}" is not a connector name: lower-case letters, digits and -, starting with a letter (at most 40)`);
  const dir = join(parent, name);
  if (await stat(dir).catch(() => undefined)) throw new TypeError(`${dir} exists already`);
  const title = name.split('-').map((part) => part[0]!.toUpperCase() + part.slice(1)).join('');
  const envPrefix = `${name.toUpperCase().replaceAll('-', '_')}_`;
  const files = await filesOf(starterDir);
  for (const file of files) {
    const source = join(starterDir, file);
    const target = join(dir, file);
    let text = await readFile(source, 'utf8');
    text = text.replace(/(?:\.\.\/)+[\w.@/-]+/g, (path) => {
      const absolute = resolve(dirname(source), path);
      if (absolute.startsWith(starterDir + sep)) return path;
      const moved = relative(dirname(target), absolute);
      return moved.startsWith('.') ? moved : `./${moved}`;
    });
    text = text.replaceAll('STARTER_', envPrefix).replaceAll('Starter', title).replaceAll('starter', name);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
  }
  return { dir, files };
}

async function filesOf(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await filesOf(dir, path)));
    else out.push(path);
  }
  return out.sort();
}
