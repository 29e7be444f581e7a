import { InvalidJson, queryValue, type ApiResult, type Query } from '../../../runtime/sdk/sandbox-kit/index.ts';
import { PRIMARY_KEY, type AttributeCatalog } from './attributes.ts';
import { badRequest, CODES, DvError, keyNotFound, payloadError, recordNotFound } from './errors.ts';
import { GUID, type Store, type StoredEntity } from './store.ts';
import type { EntitySet } from './types.ts';

/** How a path names a record: `contacts(<guid>)` or `contacts(new_externalid='CRM-42')`. */
export type RecordKey = { kind: 'id'; id: string } | { kind: 'alternate'; attribute: string; value: string };

export interface EntityRequest {
  set: EntitySet;
  /** The API version segment, e.g. 'v9.2'. */
  version: string;
  key?: RecordKey;
  query: Query;
  body: unknown;
  ifMatch: string | undefined;
  ifNoneMatch: string | undefined;
  /** `Prefer: return=representation`. */
  representation: boolean;
  /** The sandbox clock. */
  at: number;
  /** The organization URL. */
  baseUrl: string;
}

const ENTITY = 'contact';
const ENTITY_TYPE = 'Microsoft.Dynamics.CRM.contact';

/** The contacts entity set of the Web API, independent of HTTP: each operation answers or throws a DvError. */
export class ContactsApi {
  readonly #store: Store;
  readonly #catalog: AttributeCatalog;

  constructor(store: Store, catalog: AttributeCatalog) {
    this.#store = store;
    this.#catalog = catalog;
  }

  /** POST /contacts: 204 with OData-EntityId, or 201 with the record under `Prefer: return=representation`. */
  create(r: EntityRequest): ApiResult {
    const changes = this.#catalog.parse(writeBody(r));
    let id = this.#store.nextGuid();
    if (changes.primaryKey !== undefined) {
      if (!GUID.test(changes.primaryKey)) throw payloadError(r.set, `Cannot convert the literal '${changes.primaryKey}' to the expected type 'Edm.Guid'.`);
      id = changes.primaryKey.toLowerCase();
      if (this.#store.byId(id) !== undefined) throw new DvError(412, CODES.duplicateKey, 'Cannot insert duplicate key.');
    }
    this.#checkKeys(changes.set, undefined);
    const record = this.#store.create(id, changes.set, r.at);
    return this.#written(r, record, true);
  }

  /** GET /contacts(key) */
  read(r: EntityRequest): ApiResult {
    const record = this.#find(r);
    if (record === undefined) throw this.#notFound(r);
    const etag = `W/"${record.version}"`;
    return { status: 200, body: this.#render(r, record, queryValue(r.query, '$select')), headers: { ETag: etag } };
  }

  /** GET /contacts: every record, `$select` and `$top` honoured (no `$filter`, no paging). */
  list(r: EntityRequest): ApiResult {
    const top = queryValue(r.query, '$top');
    const limit = top === undefined ? Infinity : Number(top);
    if (limit !== Infinity && !(Number.isInteger(limit) && limit >= 0)) throw badRequest(`Invalid value for $top: '${top}'.`);
    const select = queryValue(r.query, '$select');
    const value = this.#store.all().slice(0, limit).map((record) => {
      const { '@odata.context': _context, ...rest } = this.#render(r, record, select);
      return rest;
    });
    return { status: 200, body: { '@odata.context': `${r.baseUrl}/api/data/${r.version}/$metadata#${r.set}`, value } };
  }

  /**
   * PATCH /contacts(key): an upsert by default. `If-Match: *` makes it update-only (404 when missing),
   * `If-Match: W/"<version>"` also checks the row version (412), `If-None-Match: *` makes it create-only (412).
   */
  upsert(r: EntityRequest): ApiResult {
    const key = r.key;
    if (key === undefined) throw new Error('upsert needs a key');
    const existing = this.#find(r);
    if (r.ifMatch !== undefined) {
      if (existing === undefined) throw this.#notFound(r);
      const wanted = r.ifMatch.trim();
      if (wanted !== '*' && wanted.replace(/^W\//, '') !== `"${existing.version}"`) {
        throw new DvError(412, CODES.rowVersion, "The version of the existing record doesn't match the RowVersion property provided.");
      }
    }
    if (r.ifNoneMatch?.trim() === '*' && existing !== undefined) throw new DvError(412, CODES.duplicateKey, 'A record with matching key values already exists.');

    const changes = this.#catalog.parse(writeBody(r));
    if (changes.primaryKey !== undefined) {
      const own = existing?.id ?? (key.kind === 'id' ? key.id : undefined);
      if (own !== undefined && changes.primaryKey.toLowerCase() !== own) throw badRequest(`The ${PRIMARY_KEY} in the payload does not match the key in the URL.`);
      if (!GUID.test(changes.primaryKey)) throw payloadError(r.set, `Cannot convert the literal '${changes.primaryKey}' to the expected type 'Edm.Guid'.`);
    }
    if (key.kind === 'alternate') {
      const inBody = changes.set[key.attribute];
      if ((inBody !== undefined && inBody.toLowerCase() !== key.value.toLowerCase()) || changes.clear.includes(key.attribute)) {
        throw badRequest(`The value of the key attribute '${key.attribute}' in the payload does not match the key in the URL.`);
      }
    }

    if (existing !== undefined) {
      this.#checkKeys(changes.set, existing.id);
      this.#store.update(existing, changes, r.at);
      return this.#written(r, existing, false);
    }
    const attributes = key.kind === 'alternate' ? { ...changes.set, [key.attribute]: key.value } : changes.set;
    const id = key.kind === 'id' ? key.id : (changes.primaryKey?.toLowerCase() ?? this.#store.nextGuid());
    if (this.#store.byId(id) !== undefined) throw new DvError(412, CODES.duplicateKey, 'Cannot insert duplicate key.');
    this.#checkKeys(attributes, undefined);
    return this.#written(r, this.#store.create(id, attributes, r.at), true);
  }

  /** DELETE /contacts(key): 204, or 404 when there is no such record. */
  delete(r: EntityRequest): ApiResult {
    const record = this.#find(r);
    if (record === undefined) throw this.#notFound(r);
    this.#store.delete(record);
    return { status: 204 };
  }

  #find(r: EntityRequest): StoredEntity | undefined {
    const key = r.key;
    if (key === undefined) return undefined;
    return key.kind === 'id' ? this.#store.byId(key.id) : this.#store.byKey(key.attribute, key.value);
  }

  #notFound(r: EntityRequest): DvError {
    return r.key?.kind === 'id' ? recordNotFound(ENTITY, r.key.id) : keyNotFound(ENTITY);
  }

  #checkKeys(values: Record<string, string>, self: string | undefined): void {
    const holder = this.#store.keyHolder(values, self);
    if (holder !== undefined) {
      throw new DvError(412, CODES.duplicateKey, `A record that has the attribute values ${values[holder.attribute]} already exists. The entity key ${holder.attribute} requires that this set of attributes contains unique values. Select unique values and try again.`);
    }
  }

  #written(r: EntityRequest, record: StoredEntity, created: boolean): ApiResult {
    const entityId = `${r.baseUrl}/api/data/${r.version}/${r.set}(${record.id})`;
    if (!r.representation) return { status: 204, headers: { 'OData-EntityId': entityId } };
    return {
      status: created ? 201 : 200,
      body: this.#render(r, record, queryValue(r.query, '$select')),
      headers: { 'OData-EntityId': entityId, 'Preference-Applied': 'return=representation', ETag: `W/"${record.version}"` },
    };
  }

  #render(r: EntityRequest, record: StoredEntity, select: string | undefined): Record<string, unknown> {
    let names = this.#catalog.readable();
    if (select !== undefined && select.trim() !== '') {
      names = select.split(',').map((n) => n.trim()).filter((n) => n !== '');
      const known = new Set(this.#catalog.readable());
      const unknown = names.find((n) => !known.has(n));
      if (unknown !== undefined) throw badRequest(`Could not find a property named '${unknown}' on type '${ENTITY_TYPE}'.`);
      if (!names.includes(PRIMARY_KEY)) names.push(PRIMARY_KEY);
    }
    const out: Record<string, unknown> = {
      '@odata.context': `${r.baseUrl}/api/data/${r.version}/$metadata#${r.set}/$entity`,
      '@odata.etag': `W/"${record.version}"`,
    };
    for (const name of names) out[name] = value(record, name);
    return out;
  }
}

function value(record: StoredEntity, name: string): unknown {
  switch (name) {
    case PRIMARY_KEY:
      return record.id;
    case 'createdon':
      return iso(record.createdAt);
    case 'modifiedon':
      return iso(record.updatedAt);
    case 'versionnumber':
      return record.version;
    case 'statecode':
      return 0;
    case 'statuscode':
      return 1;
    case 'fullname': {
      const parts = [record.attributes['firstname'], record.attributes['lastname']].filter((p) => p !== undefined);
      return parts.length === 0 ? null : parts.join(' ');
    }
    default:
      return record.attributes[name] ?? null;
  }
}

/** Dataverse's timestamp form: seconds, no fraction, Z. */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function writeBody(r: EntityRequest): Record<string, unknown> {
  const body = r.body;
  if (body instanceof InvalidJson) throw payloadError(r.set, `Invalid JSON. ${body.reason}`);
  if (body === undefined) throw badRequest('The request body is empty.');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw payloadError(r.set, 'The payload must be a JSON object.');
  return body as Record<string, unknown>;
}
