import { UNIQUE_PROPERTIES, uniqueKey } from './properties.ts';
import type { ObjectType, SandboxObject } from './types.ts';
import type { WriteNotice } from './webhooks.ts';

/** The first id handed out; ids are shared by both object types so a contact id never doubles as a company id. */
const FIRST_ID = 1001;

interface Version {
  at: number;
  properties: Record<string, string>;
  updatedAt: number;
  archived: boolean;
}

export interface StoredRecord {
  readonly id: string;
  readonly type: ObjectType;
  /** Only non-empty values: writing "" removes the key. */
  properties: Record<string, string>;
  readonly createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt: number | undefined;
  writes: number;
  /** Past states still inside the search index lag, oldest first; empty when there is no lag. */
  versions: Version[];
}

/** The state of a record as the (lagging) search index sees it. */
export interface IndexedRecord {
  record: StoredRecord;
  properties: Record<string, string>;
  updatedAt: number;
}

export interface WriteCounts {
  created: number;
  updated: number;
  unchangedUpdates: number;
  archived: number;
}

/** In-memory records of one portal, with the unique-value indexes HubSpot enforces. */
export class Store {
  readonly #indexLagMs: number;
  readonly #firstId: number;
  #nextId: number;
  #records: Record<ObjectType, Map<string, StoredRecord>> = { contacts: new Map(), companies: new Map() };
  // Only live (non-archived) records are indexed: an archived record no longer holds its unique values.
  #unique: Record<ObjectType, Map<string, Map<string, string>>> = emptyIndexes();
  counts: WriteCounts = { created: 0, updated: 0, unchangedUpdates: 0, archived: 0 };
  /** Told of every write that changed something: what HubSpot's webhooks announce. */
  readonly #onWrite: (notice: WriteNotice) => void;

  constructor(indexLagMs: number, firstId: number = FIRST_ID, onWrite: (notice: WriteNotice) => void = () => {}) {
    this.#indexLagMs = indexLagMs;
    this.#firstId = firstId;
    this.#nextId = firstId;
    this.#onWrite = onWrite;
  }

  reset(): void {
    this.#nextId = this.#firstId;
    this.#records = { contacts: new Map(), companies: new Map() };
    this.#unique = emptyIndexes();
    this.counts = { created: 0, updated: 0, unchangedUpdates: 0, archived: 0 };
  }

  /** A record by id, live or archived as asked; undefined otherwise. */
  byId(type: ObjectType, id: string, archived = false): StoredRecord | undefined {
    const record = this.#records[type].get(id);
    return record !== undefined && record.archived === archived ? record : undefined;
  }

  /** A record by a unique property value. Archived records are found by scanning: they are rare and not indexed. */
  byUnique(type: ObjectType, property: string, value: string, archived = false): StoredRecord | undefined {
    if (!archived) {
      const id = this.#unique[type].get(property)?.get(uniqueKey(property, value));
      return id === undefined ? undefined : this.#records[type].get(id);
    }
    const key = uniqueKey(property, value);
    let found: StoredRecord | undefined;
    for (const record of this.#records[type].values()) {
      const own = record.properties[property];
      // The most recently archived one wins, as it is the one a restore would bring back.
      if (record.archived && own !== undefined && uniqueKey(property, own) === key) found = record;
    }
    return found;
  }

  /** The live record that already holds one of the unique values in `values`, other than `selfId`. */
  conflictFor(type: ObjectType, values: Record<string, string>, selfId?: string): StoredRecord | undefined {
    for (const property of UNIQUE_PROPERTIES[type]) {
      const value = values[property];
      if (value === undefined || value === '') continue;
      const holder = this.byUnique(type, property, value);
      if (holder !== undefined && holder.id !== selfId) return holder;
    }
    return undefined;
  }

  /** Creates a record from validated values; the caller has checked uniqueness. */
  create(type: ObjectType, values: Record<string, string>, at: number, source: WriteNotice['source'] = 'INTEGRATION'): StoredRecord {
    const properties: Record<string, string> = {};
    for (const [name, value] of Object.entries(values)) if (value !== '') properties[name] = value;
    const record: StoredRecord = {
      id: String(this.#nextId++),
      type,
      properties,
      createdAt: at,
      updatedAt: at,
      archived: false,
      archivedAt: undefined,
      writes: 1,
      versions: [],
    };
    this.#records[type].set(record.id, record);
    this.#index(record);
    this.#remember(record, at);
    this.counts.created += 1;
    this.#onWrite({ type, id: record.id, kind: 'creation', changed: { ...properties }, at, source });
    return record;
  }

  /** Applies validated values; returns whether anything changed. A no-op update leaves `updatedAt` alone. */
  update(record: StoredRecord, values: Record<string, string>, at: number, source: WriteNotice['source'] = 'INTEGRATION'): boolean {
    const next = { ...record.properties };
    const changes: Record<string, string> = {};
    let changed = false;
    for (const [name, value] of Object.entries(values)) {
      if (value === '') {
        if (name in next) {
          delete next[name];
          changes[name] = '';
          changed = true;
        }
      } else if (next[name] !== value) {
        next[name] = value;
        changes[name] = value;
        changed = true;
      }
    }
    if (!changed) {
      this.counts.unchangedUpdates += 1;
      return false;
    }
    this.#unindex(record);
    record.properties = next;
    record.updatedAt = Math.max(at, record.updatedAt);
    record.writes += 1;
    this.#index(record);
    this.#remember(record, at);
    this.counts.updated += 1;
    this.#onWrite({ type: record.type, id: record.id, kind: 'propertyChange', changed: changes, at, source });
    return true;
  }

  archive(record: StoredRecord, at: number, source: WriteNotice['source'] = 'INTEGRATION'): void {
    if (record.archived) return;
    this.#unindex(record);
    record.archived = true;
    record.archivedAt = at;
    record.updatedAt = Math.max(at, record.updatedAt);
    record.writes += 1;
    this.#remember(record, at);
    this.counts.archived += 1;
    this.#onWrite({ type: record.type, id: record.id, kind: 'deletion', changed: {}, at, source });
  }

  /** Records in id order, live or archived as asked. */
  list(type: ObjectType, archived = false): StoredRecord[] {
    const out: StoredRecord[] = [];
    // Map order is insertion order, which is id order because ids only grow.
    for (const record of this.#records[type].values()) if (record.archived === archived) out.push(record);
    return out;
  }

  all(type: ObjectType): StoredRecord[] {
    return [...this.#records[type].values()];
  }

  /** Live records as search sees them at `at`: only writes older than the index lag are visible. */
  indexed(type: ObjectType, at: number): IndexedRecord[] {
    const out: IndexedRecord[] = [];
    if (this.#indexLagMs <= 0) {
      for (const record of this.#records[type].values()) {
        if (!record.archived) out.push({ record, properties: record.properties, updatedAt: record.updatedAt });
      }
      return out;
    }
    const cutoff = at - this.#indexLagMs;
    for (const record of this.#records[type].values()) {
      let seen: Version | undefined;
      for (const version of record.versions) {
        if (version.at > cutoff) break;
        seen = version;
      }
      if (seen !== undefined && !seen.archived) out.push({ record, properties: seen.properties, updatedAt: seen.updatedAt });
    }
    return out;
  }

  #remember(record: StoredRecord, at: number): void {
    if (this.#indexLagMs <= 0) return;
    record.versions.push({ at, properties: record.properties, updatedAt: record.updatedAt, archived: record.archived });
    // Keep the newest version already past the lag (what search sees now) and everything newer.
    const cutoff = at - this.#indexLagMs;
    let keepFrom = 0;
    for (let i = 0; i < record.versions.length; i++) if ((record.versions[i]?.at ?? Infinity) <= cutoff) keepFrom = i;
    if (keepFrom > 0) record.versions.splice(0, keepFrom);
  }

  #index(record: StoredRecord): void {
    if (record.archived) return;
    for (const property of UNIQUE_PROPERTIES[record.type]) {
      const value = record.properties[property];
      if (value !== undefined) this.#unique[record.type].get(property)?.set(uniqueKey(property, value), record.id);
    }
  }

  #unindex(record: StoredRecord): void {
    for (const property of UNIQUE_PROPERTIES[record.type]) {
      const value = record.properties[property];
      if (value === undefined) continue;
      const index = this.#unique[record.type].get(property);
      const key = uniqueKey(property, value);
      if (index?.get(key) === record.id) index.delete(key);
    }
  }
}

function emptyIndexes(): Record<ObjectType, Map<string, Map<string, string>>> {
  const make = (type: ObjectType) => new Map(UNIQUE_PROPERTIES[type].map((p) => [p, new Map<string, string>()]));
  return { contacts: make('contacts'), companies: make('companies') };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A detached copy for callers outside the sandbox. */
export function snapshot(record: StoredRecord): SandboxObject {
  const out: SandboxObject = {
    id: record.id,
    properties: { ...record.properties },
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
    archived: record.archived,
    writes: record.writes,
  };
  if (record.archivedAt !== undefined) out.archivedAt = iso(record.archivedAt);
  return out;
}
