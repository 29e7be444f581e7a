import { InvalidJson, queryValue, type ApiResult, type Query } from '../../../runtime/sdk/sandbox-kit/index.ts';
import { entityIsDeleted, jsonParserError, notFound, SfError } from './errors.ts';
import { EXTERNAL_ID_FIELD, type FieldCatalog, type FieldChanges } from './fields.ts';
import { KEY_PREFIXES, normalizeId } from './ids.ts';
import { sfDate, type Store, type StoredRecord } from './store.ts';
import type { FieldValue, SObjectType } from './types.ts';

/** The first API version whose upsert answers an update with 200 `{created:false}` (204 before). */
export const UPSERT_200_SINCE = 46;

export interface SObjectRequest {
  type: SObjectType;
  /** The API version of the URL, e.g. 62. */
  version: number;
  /** `/sobjects/{type}/{id}` */
  id?: string;
  /** `/sobjects/{type}/{field}/{value}` */
  field?: string;
  value?: string;
  query: Query;
  body: unknown;
  /** The sandbox clock. */
  at: number;
  /** The `client=` of the request's Sforce-Call-Options header. */
  client: string | undefined;
}

const versionText = (version: number): string => `${version}.0`;

/** The sObject REST resources, independent of HTTP: each takes a parsed request and answers or throws an SfError. */
export class SObjectApi {
  readonly #store: Store;
  readonly #catalog: FieldCatalog;

  constructor(store: Store, catalog: FieldCatalog) {
    this.#store = store;
    this.#catalog = catalog;
  }

  create(r: SObjectRequest): ApiResult {
    const body = writeBody(r.body, r.type);
    const changes = this.#catalog.parse(r.type, body, { Id: 'The Id field should not be specified in the sobject data.' });
    this.#checkRequired(r.type, changes.set);
    this.#checkUnique(r.type, changes.set, undefined);
    const record = this.#store.create(r.type, changes.set, r.at, origin(r));
    return { status: 201, body: { id: record.id, success: true, errors: [] } };
  }

  read(r: SObjectRequest): ApiResult {
    const record = this.#byId(r);
    if (record.deleted) throw notFound();
    return { status: 200, body: this.#render(record, r) };
  }

  update(r: SObjectRequest): ApiResult {
    const record = this.#byId(r);
    if (record.deleted) throw entityIsDeleted();
    let body = writeBody(r.body, r.type);
    // An Id equal to the URL's is harmless; another one is not.
    if (typeof body['Id'] === 'string' && normalizeId(body['Id']) === record.id) {
      const { Id: _same, ...rest } = body;
      body = rest;
    }
    const changes = this.#catalog.parse(r.type, body, { Id: 'The Id field should not be specified in the sobject data.' });
    this.#checkCleared(r.type, changes);
    this.#checkUnique(r.type, changes.set, record.id);
    this.#store.update(record, changes, r.at, origin(r));
    return { status: 204 };
  }

  delete(r: SObjectRequest): ApiResult {
    const record = this.#byId(r);
    if (record.deleted) throw entityIsDeleted();
    this.#store.delete(record, r.at, origin(r));
    return { status: 204 };
  }

  /** PATCH /sobjects/{type}/{field}/{value}: update the one record holding the value, create one when none does. */
  upsert(r: SObjectRequest): ApiResult {
    const { field, value } = this.#externalId(r);
    const matches = this.#store.byExternalId(r.type, value);
    if (matches.length > 1) return multipleChoices(r, matches);
    const body = writeBody(r.body, r.type);
    const forbidden = {
      Id: 'The Id field should not be specified in the sobject data.',
      [field]: `The ${field} field should not be specified in the sobject data: the external id value comes from the URL.`,
    };
    const changes = this.#catalog.parse(r.type, body, forbidden);
    const existing = matches[0];
    if (existing !== undefined) {
      this.#checkCleared(r.type, changes);
      this.#store.update(existing, changes, r.at, origin(r));
      if (r.version < UPSERT_200_SINCE) return { status: 204 };
      return { status: 200, body: { id: existing.id, success: true, errors: [], created: false } };
    }
    if (queryValue(r.query, 'updateOnly') === 'true') throw notFound();
    const fields: Record<string, FieldValue> = { ...changes.set, [field]: value };
    this.#checkRequired(r.type, fields);
    const record = this.#store.create(r.type, fields, r.at, origin(r));
    const created = r.version < UPSERT_200_SINCE ? {} : { created: true };
    return { status: 201, body: { id: record.id, success: true, errors: [], ...created } };
  }

  readByExternalId(r: SObjectRequest): ApiResult {
    const { value } = this.#externalId(r);
    const matches = this.#store.byExternalId(r.type, value);
    if (matches.length > 1) return multipleChoices(r, matches);
    const record = matches[0];
    if (record === undefined) throw notFound();
    return { status: 200, body: this.#render(record, r) };
  }

  deleteByExternalId(r: SObjectRequest): ApiResult {
    const { value } = this.#externalId(r);
    const matches = this.#store.byExternalId(r.type, value);
    if (matches.length > 1) return multipleChoices(r, matches);
    const record = matches[0];
    if (record === undefined) throw notFound();
    this.#store.delete(record, r.at, origin(r));
    return { status: 204 };
  }

  #byId(r: SObjectRequest): StoredRecord {
    const raw = r.id ?? '';
    const id = normalizeId(raw);
    if (id === undefined) throw SfError.one(400, 'MALFORMED_ID', `malformed id ${raw}`, []);
    if (!id.startsWith(KEY_PREFIXES[r.type])) throw SfError.one(400, 'MALFORMED_ID', `${r.type} ID: id value of incorrect type: ${raw}`, ['Id']);
    const record = this.#store.byId(id);
    if (record === undefined) throw notFound();
    return record;
  }

  #externalId(r: SObjectRequest): { field: string; value: string } {
    const field = r.field ?? '';
    if (!this.#catalog.isExternalId(r.type, field)) throw SfError.one(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${field}`);
    return { field, value: r.value ?? '' };
  }

  #checkRequired(type: SObjectType, fields: Record<string, FieldValue>): void {
    const missing = this.#catalog.required(type).filter((name) => fields[name] === undefined);
    if (missing.length > 0) throw SfError.one(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
  }

  #checkCleared(type: SObjectType, changes: FieldChanges): void {
    const missing = this.#catalog.required(type).filter((name) => changes.clear.includes(name));
    if (missing.length > 0) throw SfError.one(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
  }

  #checkUnique(type: SObjectType, fields: Record<string, FieldValue>, self: string | undefined): void {
    const value = fields[EXTERNAL_ID_FIELD];
    if (value === undefined) return;
    const holder = this.#store.byExternalId(type, String(value)).find((r) => r.id !== self);
    if (holder !== undefined) {
      throw SfError.one(400, 'DUPLICATE_VALUE', `duplicate value found: ${EXTERNAL_ID_FIELD} duplicates value on record with id: ${holder.id}`, [EXTERNAL_ID_FIELD]);
    }
  }

  #render(record: StoredRecord, r: SObjectRequest): Record<string, unknown> {
    const selected = queryValue(r.query, 'fields');
    let names = this.#catalog.readable(record.type);
    if (selected !== undefined && selected.trim() !== '') {
      names = selected.split(',').map((n) => n.trim()).filter((n) => n !== '');
      const known = new Set(this.#catalog.readable(record.type));
      const unknown = names.find((n) => !known.has(n));
      if (unknown !== undefined) {
        throw SfError.one(400, 'INVALID_FIELD', `No such column '${unknown}' on entity '${record.type}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`);
      }
      if (!names.includes('Id')) names.push('Id');
    }
    const out: Record<string, unknown> = { attributes: { type: record.type, url: recordUrl(r.version, record) } };
    for (const name of names) out[name] = this.#value(record, name);
    return out;
  }

  #value(record: StoredRecord, name: string): unknown {
    switch (name) {
      case 'Id':
        return record.id;
      case 'IsDeleted':
        return record.deleted;
      case 'CreatedDate':
        return sfDate(record.createdAt);
      case 'LastModifiedDate':
      case 'SystemModstamp':
        return sfDate(record.updatedAt);
      case 'Name':
        if (record.type === 'Contact') {
          const parts = [record.fields['FirstName'], record.fields['LastName']].filter((p) => p !== undefined);
          return parts.length === 0 ? null : parts.join(' ');
        }
        return record.fields['Name'] ?? null;
      default:
        return record.fields[name] ?? null;
    }
  }
}

export function recordUrl(version: number, record: { type: SObjectType; id: string }): string {
  return `/services/data/v${versionText(version)}/sobjects/${record.type}/${record.id}`;
}

function multipleChoices(r: SObjectRequest, matches: StoredRecord[]): ApiResult {
  return { status: 300, body: matches.map((m) => recordUrl(r.version, m)) };
}

function origin(r: SObjectRequest): string {
  const base = `com/salesforce/api/rest/${versionText(r.version)}`;
  return r.client === undefined ? base : `${base};client=${r.client}`;
}

function writeBody(body: unknown, type: SObjectType): Record<string, unknown> {
  if (body === undefined) throw jsonParserError('No content to map due to end-of-input');
  if (body instanceof InvalidJson) throw jsonParserError(`Unexpected character in the request body: ${body.reason}`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw jsonParserError(`Cannot deserialize instance of ${type} from ${Array.isArray(body) ? 'START_ARRAY' : 'a non-object'} value`);
  }
  return body as Record<string, unknown>;
}
