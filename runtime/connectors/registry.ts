import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isRecsyncError, type ErrorDetail } from '../errors.ts';
import { loadConnector, type ConnectorVersion } from './load-connector.ts';

export type ConnectorState = 'ready' | 'config-error';

export interface ConnectorSlot {
  name: string;
  dir: string;
  /** The version in service; kept when a reload fails. */
  current: ConnectorVersion | undefined;
  /** Errors of the last load attempt; empty when it succeeded. */
  errors: ErrorDetail[];
}

/**
 * The connectors found under a folder. A value, not a module singleton, so tests build isolated
 * ones. A connector whose configuration is broken is reported with its errors and does not stop
 * the others; a failed reload keeps the previous good version in service.
 */
export class ConnectorRegistry {
  readonly root: string;
  readonly #slots = new Map<string, ConnectorSlot>();
  readonly #env: Readonly<Record<string, string | undefined>>;

  private constructor(root: string, env: Readonly<Record<string, string | undefined>>) {
    this.root = root;
    this.#env = env;
  }

  static async load(root: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<ConnectorRegistry> {
    const registry = new ConnectorRegistry(root, env);
    for (const name of await discover(root)) await registry.reload(name);
    return registry;
  }

  /** Loads (or reloads) one connector; on failure the previous version, if any, stays in service. */
  async reload(name: string): Promise<{ ok: true; version: ConnectorVersion } | { ok: false; errors: ErrorDetail[] }> {
    const dir = join(this.root, name);
    const slot = this.#slots.get(name) ?? { name, dir, current: undefined, errors: [] };
    this.#slots.set(name, slot);
    try {
      const version = await loadConnector(dir, this.#env);
      // The same files make the same version: keep the object in service (and what hangs off it).
      if (slot.current?.version !== version.version) slot.current = version;
      slot.errors = [];
      return { ok: true, version: slot.current };
    } catch (error) {
      slot.errors = isRecsyncError(error) ? error.details : [{ file: dir, message: (error as Error).message }];
      return { ok: false, errors: slot.errors };
    }
  }

  /** Whether `name` is a connector: known already, or a folder of the root holding a manifest.yaml. */
  async isConnector(name: string): Promise<boolean> {
    if (this.#slots.has(name)) return true;
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) return false;
    return (await discover(this.root)).includes(name);
  }

  get(name: string): ConnectorVersion | undefined {
    return this.#slots.get(name)?.current;
  }

  slot(name: string): ConnectorSlot | undefined {
    return this.#slots.get(name);
  }

  slots(): ConnectorSlot[] {
    return [...this.#slots.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  ready(): ConnectorVersion[] {
    return this.slots().flatMap((slot) => (slot.current ? [slot.current] : []));
  }
}

/** Folders of `root` that hold a manifest.yaml. */
export async function discover(root: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
    try {
      if ((await stat(join(root, entry.name, 'manifest.yaml'))).isFile()) names.push(entry.name);
    } catch {
      // a folder without a manifest is not a connector (e.g. shared helpers)
    }
  }
  return names.sort();
}
