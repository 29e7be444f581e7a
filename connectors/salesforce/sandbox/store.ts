import { EXTERNAL_ID_FIELD, type FieldChanges } from './fields.ts';
import { KEY_PREFIXES, makeId } from './ids.ts';
import { SOBJECT_TYPES, type FieldValue, type SandboxRecord, type SObjectType } from './types.ts';

export interface StoredRecord {
  readonly id: string;
  readonly type: SObjectType;
  fields: Record<string, FieldValue>;
  readonly createdAt: number;
  updatedAt: number;
  deleted: boolean;
  deletedAt: number | undefined;
  writes: number;
  changeOrigin: string | undefined;
}

export interface WriteCounts {
  created: number;
  updated: number;
  deleted: number;
}

/** Salesforce's timestamp form: 2026-03-02T09:00:00.000+0000. */
export function sfDate(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

const externalKey = (value: FieldValue): string => String(value).toLowerCase();

/**
 * The records of one org. Ext_Id__c is indexed over live records, case-insensitively (Salesforce's
 * default for a unique external id); a record in the recycle bin no longer holds its value.
 */
export class Store {
  readonly #firstId: number;
  #nextId: number;
  #records = new Map<string, StoredRecord>();
  #external: Record<SObjectType, Map<string, Set<string>>> = emptyIndex();
  counts: WriteCounts = { created: 0, updated: 0, deleted: 0 };

  constructor(firstId = 1) {
    this.#firstId = firstId;
    this.#nextId = firstId;
  }

  reset(): void {
    this.#nextId = this.#firstId;
    this.#records = new Map();
    this.#external = emptyIndex();
    this.counts = { created: 0, updated: 0, deleted: 0 };
  }

  /** A record by its 18-character id, in the recycle bin or not. */
  byId(id: string): StoredRecord | undefined {
    return this.#records.get(id);
  }

  /** Live records whose external id equals `value` (case-insensitively), oldest first. */
  byExternalId(type: SObjectType, value: string): StoredRecord[] {
    const ids = this.#external[type].get(externalKey(value));
    if (ids === undefined) return [];
    return [...ids].map((id) => this.#records.get(id)).filter((r): r is StoredRecord => r !== undefined);
  }

  all(type: SObjectType): StoredRecord[] {
    return [...this.#records.values()].filter((r) => r.type === type);
  }

  /** A new record; `seeded` ones (test set-up) are not counted as created. */
  create(type: SObjectType, fields: Record<string, FieldValue>, at: number, origin: string | undefined, opts: { seeded?: boolean } = {}): StoredRecord {
    const record: StoredRecord = {
      id: makeId(KEY_PREFIXES[type], this.#nextId++),
      type,
      fields: { ...fields },
      createdAt: at,
      updatedAt: at,
      deleted: false,
      deletedAt: undefined,
      writes: 1,
      changeOrigin: origin,
    };
    this.#records.set(record.id, record);
    this.#index(record);
    if (opts.seeded !== true) this.counts.created += 1;
    return record;
  }

  update(record: StoredRecord, changes: FieldChanges, at: number, origin: string | undefined): void {
    this.#unindex(record);
    Object.assign(record.fields, changes.set);
    for (const name of changes.clear) delete record.fields[name];
    this.#index(record);
    // Salesforce stamps every update, even one that changes no value.
    record.updatedAt = at;
    record.writes += 1;
    record.changeOrigin = origin;
    this.counts.updated += 1;
  }

  delete(record: StoredRecord, at: number, origin: string | undefined): void {
    this.#unindex(record);
    record.deleted = true;
    record.deletedAt = at;
    record.updatedAt = at;
    record.writes += 1;
    record.changeOrigin = origin;
    this.counts.deleted += 1;
  }

  #index(record: StoredRecord): void {
    const value = record.fields[EXTERNAL_ID_FIELD];
    if (value === undefined || record.deleted) return;
    const key = externalKey(value);
    const ids = this.#external[record.type].get(key) ?? new Set<string>();
    ids.add(record.id);
    this.#external[record.type].set(key, ids);
  }

  #unindex(record: StoredRecord): void {
    const value = record.fields[EXTERNAL_ID_FIELD];
    if (value === undefined) return;
    const key = externalKey(value);
    const ids = this.#external[record.type].get(key);
    ids?.delete(record.id);
    if (ids?.size === 0) this.#external[record.type].delete(key);
  }
}

function emptyIndex(): Record<SObjectType, Map<string, Set<string>>> {
  return Object.fromEntries(SOBJECT_TYPES.map((t) => [t, new Map()])) as Record<SObjectType, Map<string, Set<string>>>;
}

export function snapshot(record: StoredRecord): SandboxRecord {
  const out: SandboxRecord = {
    id: record.id,
    type: record.type,
    fields: { ...record.fields },
    createdAt: sfDate(record.createdAt),
    updatedAt: sfDate(record.updatedAt),
    deleted: record.deleted,
    writes: record.writes,
  };
  if (record.deletedAt !== undefined) out.deletedAt = sfDate(record.deletedAt);
  if (record.changeOrigin !== undefined) out.changeOrigin = record.changeOrigin;
  return out;
}
