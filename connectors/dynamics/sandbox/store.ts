import type { AttributeChanges } from './attributes.ts';
import type { SandboxEntity } from './types.ts';

export interface StoredEntity {
  readonly id: string;
  attributes: Record<string, string>;
  readonly createdAt: number;
  updatedAt: number;
  version: number;
  writes: number;
}

export interface WriteCounts {
  created: number;
  updated: number;
  deleted: number;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The GUID for a sequence number: a version-4-shaped GUID whose last group counts up. */
export function guidFor(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`GUID sequence numbers are whole and non-negative, got ${n}`);
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/**
 * The contacts of one organization, deleted for good on DELETE (no recycle bin). Alternate keys are
 * indexed case-insensitively, as SQL Server's default collation compares them.
 */
export class Store {
  readonly #firstId: number;
  readonly #keys: string[];
  #nextId: number;
  #nextVersion = 1000;
  #records = new Map<string, StoredEntity>();
  #index = new Map<string, Map<string, string>>();
  counts: WriteCounts = { created: 0, updated: 0, deleted: 0 };

  constructor(alternateKeys: string[], firstId = 1) {
    this.#keys = alternateKeys;
    this.#firstId = firstId;
    this.#nextId = firstId;
    this.reset();
  }

  reset(): void {
    this.#nextId = this.#firstId;
    this.#nextVersion = 1000;
    this.#records = new Map();
    this.#index = new Map(this.#keys.map((k) => [k, new Map()]));
    this.counts = { created: 0, updated: 0, deleted: 0 };
  }

  nextGuid(): string {
    return guidFor(this.#nextId++);
  }

  byId(id: string): StoredEntity | undefined {
    return this.#records.get(id.toLowerCase());
  }

  byKey(attribute: string, value: string): StoredEntity | undefined {
    const id = this.#index.get(attribute)?.get(value.toLowerCase());
    return id === undefined ? undefined : this.#records.get(id);
  }

  /** The record other than `self` that already holds one of the alternate-key values in `values`. */
  keyHolder(values: Record<string, string>, self: string | undefined): { attribute: string; record: StoredEntity } | undefined {
    for (const attribute of this.#keys) {
      const value = values[attribute];
      if (value === undefined) continue;
      const record = this.byKey(attribute, value);
      if (record !== undefined && record.id !== self) return { attribute, record };
    }
    return undefined;
  }

  all(): StoredEntity[] {
    return [...this.#records.values()];
  }

  create(id: string, attributes: Record<string, string>, at: number): StoredEntity {
    const record: StoredEntity = { id: id.toLowerCase(), attributes: { ...attributes }, createdAt: at, updatedAt: at, version: this.#nextVersion++, writes: 1 };
    this.#records.set(record.id, record);
    this.#indexRecord(record, true);
    this.counts.created += 1;
    return record;
  }

  update(record: StoredEntity, changes: AttributeChanges, at: number): void {
    this.#indexRecord(record, false);
    Object.assign(record.attributes, changes.set);
    for (const name of changes.clear) delete record.attributes[name];
    this.#indexRecord(record, true);
    record.updatedAt = at;
    record.version = this.#nextVersion++;
    record.writes += 1;
    this.counts.updated += 1;
  }

  delete(record: StoredEntity): void {
    this.#indexRecord(record, false);
    this.#records.delete(record.id);
    this.counts.deleted += 1;
  }

  #indexRecord(record: StoredEntity, add: boolean): void {
    for (const attribute of this.#keys) {
      const value = record.attributes[attribute];
      if (value === undefined) continue;
      const index = this.#index.get(attribute);
      if (add) index?.set(value.toLowerCase(), record.id);
      else if (index?.get(value.toLowerCase()) === record.id) index.delete(value.toLowerCase());
    }
  }
}

export function snapshot(record: StoredEntity): SandboxEntity {
  return {
    id: record.id,
    attributes: { ...record.attributes },
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    version: record.version,
    writes: record.writes,
  };
}
