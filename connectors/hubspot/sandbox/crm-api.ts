import {
  ApiError, batchError, conflict, invalidInput, notFound, OBJECT_TYPE_IDS, OBJECT_TYPE_NAMES,
  type ApiResult, type BatchError, type ErrorContext,
} from './errors.ts';
import {
  CONTACT_IDENTITY, UNIQUE_PROPERTIES, uniqueKey, validationDetails, validationMessage,
  type PropertyCatalog, type PropertyIssue,
} from './properties.ts';
import { propertyValue, renderObject, type Selection, type WireObject } from './render.ts';
import { compareValues, matchesFilters, matchesQuery, MAX_SEARCH_RESULTS, parseSearch } from './search.ts';
import { iso, type IndexedRecord, type Store, type StoredRecord } from './store.ts';
import type { ObjectType } from './types.ts';

/** The portal id the sandbox pretends to be (it shows up in some error messages). */
export const PORTAL_ID = 62515;
const MAX_BATCH_INPUTS = 100;
const MAX_BATCH_READ_WITH_HISTORY = 50;
const MAX_LIST_LIMIT = 100;

export type Query = Record<string, string | string[]>;

export interface ApiRequest {
  type: ObjectType;
  /** The `{id}` path segment, for single-object routes. */
  id?: string;
  query: Query;
  body: unknown;
  /** The sandbox clock when the request arrived. */
  at: number;
}

type Input = Record<string, unknown>;

/** The CRM v3 objects endpoints, independent of HTTP: each takes a parsed request and answers or throws an ApiError. */
export class CrmApi {
  readonly #store: Store;
  readonly #catalog: PropertyCatalog;
  readonly #baseUrl: () => string;

  constructor(store: Store, catalog: PropertyCatalog, baseUrl: () => string) {
    this.#store = store;
    this.#catalog = catalog;
    this.#baseUrl = baseUrl;
  }

  create({ type, body, at }: ApiRequest): ApiResult {
    const input = objectBody(body);
    const values = this.#catalog.parse(type, input.properties);
    const missing = identityIssue(type, values);
    if (missing !== undefined) throw invalidInput(missing);
    const holder = this.#store.conflictFor(type, values);
    if (holder !== undefined) throw conflict(type, holder.id);
    return { status: 201, body: this.#render(this.#store.create(type, values, at), 'stored') };
  }

  read({ type, id, query }: ApiRequest): ApiResult {
    const key = requireId(id);
    const idProperty = idPropertyFor(type, last(query.idProperty), 'read');
    const record = this.#find(type, key, idProperty, flag(query.archived));
    if (record === undefined) throw notFound(key);
    return { status: 200, body: this.#render(record, selection(list(query.properties))) };
  }

  list({ type, query }: ApiRequest): ApiResult {
    const limit = Math.min(intParam(last(query.limit), 10, 'limit'), MAX_LIST_LIMIT);
    const after = intParam(last(query.after), 0, 'after');
    const chosen = selection(list(query.properties));
    const records = this.#store.list(type, flag(query.archived)).filter((r) => Number(r.id) >= after);
    const body: { results: WireObject[]; paging?: unknown } = {
      results: records.slice(0, limit).map((r) => this.#render(r, chosen)),
    };
    const next = records[limit];
    if (next !== undefined) {
      body.paging = { next: { after: next.id, link: `${this.#baseUrl()}/crm/v3/objects/${type}?after=${next.id}` } };
    }
    return { status: 200, body };
  }

  update({ type, id, query, body, at }: ApiRequest): ApiResult {
    const key = requireId(id);
    const idProperty = idPropertyFor(type, last(query.idProperty), 'write');
    const record = this.#find(type, key, idProperty, false);
    if (record === undefined) throw notFound(key);
    const values = this.#catalog.parse(type, objectBody(body).properties);
    const holder = this.#store.conflictFor(type, values, record.id);
    if (holder !== undefined) throw conflict(type, holder.id);
    this.#store.update(record, values, at);
    return { status: 200, body: this.#render(record, 'stored') };
  }

  archive({ type, id, at }: ApiRequest): ApiResult {
    const key = requireId(id);
    const record = this.#store.byId(type, key);
    if (record === undefined) throw notFound(key);
    this.#store.archive(record, at);
    return { status: 204 };
  }

  batchCreate({ type, body, at }: ApiRequest): ApiResult {
    const startedAt = iso(at);
    const inputs = batchInputs(body, MAX_BATCH_INPUTS);
    const parsed = inputs.map((input) => this.#catalog.check(type, input.properties));

    // Uniqueness is checked for the whole batch before anything is written, and only the first clash is reported
    // (HubSpot answers a batch create that hits an existing contact with one 409 for the whole request).
    const seen = new Map<string, string>();
    for (const values of parsed) {
      if (Array.isArray(values)) continue;
      const holder = this.#store.conflictFor(type, values);
      if (holder !== undefined) throw conflict(type, holder.id);
      for (const property of UNIQUE_PROPERTIES[type]) {
        const value = values[property];
        if (value === undefined || value === '') continue;
        const k = `${property}\u0000${uniqueKey(property, value)}`;
        if (seen.has(k)) {
          throw new ApiError(409, 'CONFLICT', `Duplicate value for unique property ${property} in batch input: ${value}`, {
            context: { [property]: [value] },
          });
        }
        seen.set(k, value);
      }
    }

    const results: WireObject[] = [];
    const errors: BatchError[] = [];
    inputs.forEach((input, i) => {
      const trace = traceId(input);
      const values = parsed[i] ?? {};
      if (Array.isArray(values)) return errors.push(propertyErrors(values, trace));
      const missing = identityIssue(type, values);
      if (missing !== undefined) return errors.push(batchError('VALIDATION_ERROR', missing, traceContext(trace)));
      results.push(this.#render(this.#store.create(type, values, at), 'stored', { objectWriteTraceId: trace }));
    });
    return batchResult(errors.length > 0 ? 207 : 201, results, errors, startedAt, at);
  }

  batchRead({ type, query, body, at }: ApiRequest): ApiResult {
    const startedAt = iso(at);
    const input = objectBody(body);
    const history = Array.isArray(input.propertiesWithHistory) && input.propertiesWithHistory.length > 0;
    const inputs = batchInputs(body, history ? MAX_BATCH_READ_WITH_HISTORY : MAX_BATCH_INPUTS);
    const idProperty = idPropertyFor(type, input.idProperty, 'read');
    const names = Array.isArray(input.properties) ? input.properties.filter((p): p is string => typeof p === 'string') : [];
    const archived = flag(query.archived);

    const results: WireObject[] = [];
    const returned = new Set<string>();
    const missing: string[] = [];
    for (const item of inputs) {
      const id = idOf(item);
      const record = id === undefined ? undefined : this.#find(type, id, idProperty, archived);
      if (record === undefined) missing.push(id ?? '');
      else if (!returned.has(record.id)) {
        returned.add(record.id);
        results.push(this.#render(record, selection(names)));
      }
    }
    const errors = missing.length === 0 ? [] : [batchError('OBJECT_NOT_FOUND', notFoundInBatch(type), { ids: missing })];
    return batchResult(errors.length > 0 ? 207 : 200, results, errors, startedAt, at);
  }

  batchUpdate({ type, body, at }: ApiRequest): ApiResult {
    const startedAt = iso(at);
    const inputs = batchInputs(body, MAX_BATCH_INPUTS);
    const keys = inputs.map((input) => {
      const idProperty = idPropertyFor(type, input.idProperty, 'write');
      return { idProperty, id: idOf(input) };
    });
    rejectDuplicateIds(keys);

    const results: WireObject[] = [];
    const errors: BatchError[] = [];
    inputs.forEach((input, i) => {
      const trace = traceId(input);
      const { idProperty, id } = keys[i] ?? { idProperty: undefined, id: undefined };
      const record = id === undefined ? undefined : this.#find(type, id, idProperty, false);
      if (record === undefined) {
        return errors.push(batchError('OBJECT_NOT_FOUND', notFoundInBatch(type), { ids: [id ?? ''], ...traceContext(trace) }));
      }
      const values = this.#catalog.check(type, input.properties);
      if (Array.isArray(values)) return errors.push(propertyErrors(values, trace));
      const holder = this.#store.conflictFor(type, values, record.id);
      if (holder !== undefined) return errors.push(conflictError(type, holder.id, trace));
      this.#store.update(record, values, at);
      results.push(this.#render(record, 'stored', { objectWriteTraceId: trace }));
    });
    return batchResult(errors.length > 0 ? 207 : 200, results, errors, startedAt, at);
  }

  batchUpsert({ type, body, at }: ApiRequest): ApiResult {
    const startedAt = iso(at);
    const inputs = batchInputs(body, MAX_BATCH_INPUTS);
    const keys = inputs.map((input) => {
      const idProperty = idPropertyFor(type, input.idProperty, 'write');
      return { idProperty, id: idOf(input) };
    });
    rejectDuplicateIds(keys);

    const results: WireObject[] = [];
    const errors: BatchError[] = [];
    inputs.forEach((input, i) => {
      const trace = traceId(input);
      const { idProperty, id } = keys[i] ?? { idProperty: undefined, id: undefined };
      if (id === undefined) return errors.push(batchError('VALIDATION_ERROR', 'Each upsert input needs an "id".', traceContext(trace)));
      const existing = this.#find(type, id, idProperty, false);
      if (existing === undefined && idProperty === undefined) {
        // Without idProperty the id is a record id, and records cannot be created with a chosen id.
        return errors.push(batchError('OBJECT_NOT_FOUND', notFoundInBatch(type), { ids: [id], ...traceContext(trace) }));
      }
      const given = isObject(input.properties) ? input.properties : {};
      // A new record takes its key from `id`, as HubSpot does; an existing one already holds it.
      const values = this.#catalog.check(type, existing === undefined && idProperty !== undefined ? { ...given, [idProperty]: id } : input.properties);
      if (Array.isArray(values)) return errors.push(propertyErrors(values, trace));
      const holder = this.#store.conflictFor(type, values, existing?.id);
      if (holder !== undefined) return errors.push(conflictError(type, holder.id, trace));
      if (existing !== undefined) {
        this.#store.update(existing, values, at);
        return results.push(this.#render(existing, 'stored', { isNew: false, objectWriteTraceId: trace }));
      }
      const missing = identityIssue(type, values);
      if (missing !== undefined) return errors.push(batchError('VALIDATION_ERROR', missing, traceContext(trace)));
      results.push(this.#render(this.#store.create(type, values, at), 'stored', { isNew: true, objectWriteTraceId: trace }));
    });
    return batchResult(errors.length > 0 ? 207 : 200, results, errors, startedAt, at);
  }

  batchArchive({ type, body, at }: ApiRequest): ApiResult {
    for (const input of batchInputs(body, MAX_BATCH_INPUTS)) {
      const id = idOf(input);
      const record = id === undefined ? undefined : this.#store.byId(type, id);
      if (record !== undefined) this.#store.archive(record, at);
    }
    // 204 whatever happened: unknown and already archived ids are not errors here.
    return { status: 204 };
  }

  search({ type, body, at }: ApiRequest): ApiResult {
    const request = parseSearch(body);
    const view = (ix: IndexedRecord) => (name: string) => propertyValue(type, ix.record, ix.properties, ix.updatedAt, name);
    const hits = this.#store.indexed(type, at).filter((ix) => matchesFilters(view(ix), request.groups) && matchesQuery(view(ix), type, request.query));
    hits.sort((a, b) => {
      for (const sort of request.sorts) {
        const c = compareValues(view(a)(sort.propertyName), view(b)(sort.propertyName));
        if (c !== 0) return sort.descending ? -c : c;
      }
      return Number(a.record.id) - Number(b.record.id);
    });
    const chosen = selection(request.properties);
    const end = request.after + request.limit;
    const results = hits.slice(request.after, end).map((ix) =>
      this.#render(ix.record, chosen, { properties: ix.properties, updatedAt: ix.updatedAt, archived: false }),
    );
    const out: { total: number; results: WireObject[]; paging?: unknown } = { total: hits.length, results };
    if (request.limit > 0 && end < hits.length && end < MAX_SEARCH_RESULTS) out.paging = { next: { after: String(end) } };
    return { status: 200, body: out };
  }

  #find(type: ObjectType, id: string, idProperty: string | undefined, archived: boolean): StoredRecord | undefined {
    return idProperty === undefined ? this.#store.byId(type, id, archived) : this.#store.byUnique(type, idProperty, id, archived);
  }

  #render(
    record: StoredRecord,
    chosen: Selection,
    options: { properties?: Record<string, string>; updatedAt?: number; archived?: boolean; isNew?: boolean; objectWriteTraceId?: string | undefined } = {},
  ): WireObject {
    const { objectWriteTraceId, ...rest } = options;
    return renderObject(this.#catalog, record, chosen, objectWriteTraceId === undefined ? rest : { ...rest, objectWriteTraceId });
  }
}

function objectBody(body: unknown): Input {
  if (!isObject(body)) throw invalidInput('Invalid input JSON: the request body must be a JSON object.');
  return body;
}

function batchInputs(body: unknown, max: number): Input[] {
  const inputs = objectBody(body).inputs;
  if (!Array.isArray(inputs)) throw invalidInput('Invalid input JSON: "inputs" must be an array.');
  if (inputs.length > max) {
    throw new ApiError(400, 'VALIDATION_ERROR', `Too many inputs: ${inputs.length}. A batch accepts at most ${max} inputs.`, {
      context: { inputs: [String(inputs.length)], limit: [String(max)] },
    });
  }
  if (!inputs.every(isObject)) throw invalidInput('Invalid input JSON: every element of "inputs" must be an object.');
  return inputs;
}

function batchResult(status: number, results: WireObject[], errors: BatchError[], startedAt: string, at: number): ApiResult {
  const body: Record<string, unknown> = { status: 'COMPLETE', results };
  if (errors.length > 0) {
    body.numErrors = errors.length;
    body.errors = errors;
  }
  body.startedAt = startedAt;
  body.completedAt = iso(at);
  return { status, body };
}

function rejectDuplicateIds(keys: { idProperty: string | undefined; id: string | undefined }[]): void {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const { idProperty, id } of keys) {
    if (id === undefined) continue;
    const k = `${idProperty ?? ''}\u0000${idProperty === undefined ? id : uniqueKey(idProperty, id)}`;
    if (seen.has(k) && !dups.includes(id)) dups.push(id);
    seen.add(k);
  }
  if (dups.length > 0) {
    throw new ApiError(400, 'VALIDATION_ERROR', `Duplicate IDs found in batch input: [${dups.join(', ')}]. IDs must be unique`, {
      context: { ids: dups },
    });
  }
}

/** Which properties a read answers with: HubSpot's defaults unless the caller named some. */
function selection(names: readonly string[] | undefined): Selection {
  return names === undefined || names.length === 0 ? 'default' : names;
}

function idPropertyFor(type: ObjectType, raw: unknown, mode: 'read' | 'write'): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') throw invalidInput('Invalid input JSON: "idProperty" must be a string.');
  if (mode === 'read' && raw === 'hs_object_id') return undefined;
  if (UNIQUE_PROPERTIES[type].includes(raw)) return raw;
  const verb = mode === 'read' ? 'read' : 'update/upsert';
  throw invalidInput(`Unable to perform ${verb} by non-unique ${OBJECT_TYPE_IDS[type]} property ${raw} in portal ID ${PORTAL_ID}`);
}

function identityIssue(type: ObjectType, values: Record<string, string>): string | undefined {
  if (type !== 'contacts') return undefined;
  if (CONTACT_IDENTITY.some((p) => (values[p] ?? '') !== '')) return undefined;
  return 'Contacts need at least one of the properties email, firstname or lastname.';
}

function notFoundInBatch(type: ObjectType): string {
  return `Could not get some ${OBJECT_TYPE_NAMES[type]} objects, they may be deleted or not exist. Check that ids are valid.`;
}

function propertyErrors(issues: PropertyIssue[], trace: string | undefined): BatchError {
  return batchError('VALIDATION_ERROR', validationMessage(issues), traceContext(trace), validationDetails(issues));
}

function conflictError(type: ObjectType, existingId: string, trace: string | undefined): BatchError {
  return batchError('CONFLICT', conflict(type, existingId).message, traceContext(trace));
}

function traceContext(trace: string | undefined): ErrorContext {
  return trace === undefined ? {} : { objectWriteTraceId: [trace] };
}

function traceId(input: Input): string | undefined {
  const t = input.objectWriteTraceId;
  return typeof t === 'string' || typeof t === 'number' ? String(t) : undefined;
}

function idOf(input: Input): string | undefined {
  const id = input.id;
  return (typeof id === 'string' && id !== '') || typeof id === 'number' ? String(id) : undefined;
}

function requireId(id: string | undefined): string {
  if (id === undefined || id === '') throw notFound('');
  return id;
}

function last(value: unknown): string | undefined {
  if (Array.isArray(value)) return last(value[value.length - 1]);
  return typeof value === 'string' ? value : undefined;
}

/** `properties=a,b` and `properties=a&properties=b` are both accepted (the spec uses exploded form). */
function list(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  return parts;
}

function flag(value: string | string[] | undefined): boolean {
  return last(value)?.toLowerCase() === 'true';
}

function intParam(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw invalidInput(`Invalid value for query parameter ${name}: ${raw}`);
  const n = Number(raw);
  if (name === 'limit' && n < 1) throw invalidInput(`Invalid value for query parameter limit: ${raw}`);
  return n;
}

function isObject(value: unknown): value is Input {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
