import { DEFAULT_READ_PROPERTIES, MODIFIED_PROPERTY, SYSTEM_PROPERTIES, type PropertyCatalog } from './properties.ts';
import { iso, type StoredRecord } from './store.ts';
import type { ObjectType } from './types.ts';

/** The wire shape of an object (the spec's SimplePublicObject, plus `new` for upserts). */
export interface WireObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
  new?: boolean;
  objectWriteTraceId?: string;
}

/**
 * Which properties a response carries:
 * - 'default': HubSpot's defaults for a read that names none;
 * - a list: those that exist on the type (unknown names silently left out) plus the system ones, null when empty;
 * - 'stored': everything the record holds plus the system ones (what write endpoints answer with).
 */
export type Selection = 'default' | 'stored' | readonly string[];

export interface RenderOptions {
  /** The properties to show, for search results that lag behind the live record. */
  properties?: Record<string, string>;
  updatedAt?: number;
  /** The archived flag the (lagging) search index saw; defaults to the record's own. */
  archived?: boolean;
  isNew?: boolean;
  objectWriteTraceId?: string;
}

export function renderObject(catalog: PropertyCatalog, record: StoredRecord, selection: Selection, options: RenderOptions = {}): WireObject {
  const stored = options.properties ?? record.properties;
  const updatedAt = options.updatedAt ?? record.updatedAt;
  const system = systemValues(record.type, record, updatedAt);
  const value = (name: string): string | null => stored[name] ?? system[name] ?? null;

  let names: string[];
  if (selection === 'default') names = [...DEFAULT_READ_PROPERTIES[record.type]];
  else if (selection === 'stored') names = [...Object.keys(stored), ...SYSTEM_PROPERTIES[record.type]];
  else names = [...selection.filter((n) => catalog.isReadable(record.type, n)), ...SYSTEM_PROPERTIES[record.type]];

  const properties: Record<string, string | null> = {};
  for (const name of [...new Set(names)].sort()) properties[name] = value(name);

  const out: WireObject = {
    id: record.id,
    ...(options.isNew === undefined ? {} : { new: options.isNew }),
    properties,
    createdAt: iso(record.createdAt),
    updatedAt: iso(updatedAt),
    archived: options.archived ?? record.archived,
  };
  if (out.archived && record.archivedAt !== undefined) out.archivedAt = iso(record.archivedAt);
  if (options.objectWriteTraceId !== undefined) out.objectWriteTraceId = options.objectWriteTraceId;
  return out;
}

/** A property value as filters and sorts see it, system properties included. */
export function propertyValue(type: ObjectType, record: StoredRecord, stored: Record<string, string>, updatedAt: number, name: string): string | undefined {
  return stored[name] ?? systemValues(type, record, updatedAt)[name];
}

function systemValues(type: ObjectType, record: StoredRecord, updatedAt: number): Record<string, string> {
  return { hs_object_id: record.id, createdate: iso(record.createdAt), [MODIFIED_PROPERTY[type]]: iso(updatedAt) };
}
