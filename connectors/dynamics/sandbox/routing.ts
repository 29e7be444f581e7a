import type { ApiResult } from '../../../runtime/sdk/sandbox-kit/index.ts';
import type { ContactsApi, EntityRequest, RecordKey } from './contacts.ts';
import { badRequest, DvError, CODES, segmentNotFound } from './errors.ts';
import { GUID } from './store.ts';
import { ENTITY_SETS, type EntitySet } from './types.ts';

export type RouteKind =
  /** A Web API call: needs a token, counts toward service protection. */
  | 'api'
  /** The Entra-ID-like token endpoint: open, not counted. */
  | 'token';

export type Operation = (api: ContactsApi, request: EntityRequest) => ApiResult;

export interface Route {
  /** The stats key, e.g. 'PATCH /api/data/v9.2/contacts({key})'. */
  key: string;
  kind: RouteKind;
  version?: string;
  set?: EntitySet;
  recordKey?: RecordKey;
  operation?: Operation;
  whoAmI?: boolean;
  /** The tenant segment of a token request. */
  tenant?: string;
  /** For paths that name no operation: the error to answer with (after auth). */
  error?: DvError;
}

const notAllowed = (method: string): DvError => new DvError(405, CODES.badRequest, `The requested resource does not support http method '${method}'.`);

/** Maps a method and path to a resource of the sandbox, or to the error Dataverse would answer with. */
export function resolveRoute(method: string, path: string, alternateKeys: readonly string[]): Route {
  const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
  if (token !== null) return { key: `${method} /{tenant}/oauth2/v2.0/token`, kind: 'token', tenant: decode(token[1] ?? '') };

  const m = /^\/api\/data\/(v9\.[0-2])(?:\/(.*))?$/.exec(path);
  if (m === null) {
    const segment = path.split('/').filter((s) => s !== '')[0] ?? '';
    return { key: `${method} (unmatched)`, kind: 'api', error: segmentNotFound(decode(segment)) };
  }
  const version = m[1] ?? 'v9.2';
  const base = `/api/data/${version}`;
  const rest = decode((m[2] ?? '').replace(/\/+$/, ''));
  if (rest === 'WhoAmI' || rest === 'WhoAmI()') {
    return method === 'GET' ? { key: `GET ${base}/WhoAmI`, kind: 'api', version, whoAmI: true } : { key: `${method} ${base}/WhoAmI`, kind: 'api', error: notAllowed(method) };
  }
  const parsed = /^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/.exec(rest);
  const setName = parsed?.[1] ?? rest.split('/')[0] ?? '';
  if (parsed === null || !ENTITY_SETS.includes(setName as EntitySet)) {
    return { key: `${method} ${base}/{unsupported}`, kind: 'api', error: segmentNotFound(setName.replace(/\(.*$/, '')) };
  }
  const set = setName as EntitySet;
  const inner = parsed[2];
  if (inner === undefined) {
    const key = `${method} ${base}/${set}`;
    if (method === 'POST') return { key, kind: 'api', version, set, operation: (api, r) => api.create(r) };
    if (method === 'GET') return { key, kind: 'api', version, set, operation: (api, r) => api.list(r) };
    return { key, kind: 'api', error: notAllowed(method) };
  }
  let recordKey: RecordKey;
  try {
    recordKey = parseKey(inner, alternateKeys);
  } catch (error) {
    return { key: `${method} ${base}/${set}({invalid})`, kind: 'api', error: error instanceof DvError ? error : badRequest(String(error)) };
  }
  const key = `${method} ${base}/${set}(${recordKey.kind === 'id' ? '{id}' : '{key}'})`;
  if (method === 'GET') return { key, kind: 'api', version, set, recordKey, operation: (api, r) => api.read(r) };
  if (method === 'PATCH') return { key, kind: 'api', version, set, recordKey, operation: (api, r) => api.upsert(r) };
  if (method === 'DELETE') return { key, kind: 'api', version, set, recordKey, operation: (api, r) => api.delete(r) };
  return { key, kind: 'api', error: notAllowed(method) };
}

/** `<guid>`, `contactid=<guid>` or `<attribute>='<value>'` (an OData string literal: '' stands for '). */
export function parseKey(inner: string, alternateKeys: readonly string[]): RecordKey {
  const text = inner.trim();
  if (GUID.test(text)) return { kind: 'id', id: text.toLowerCase() };
  const eq = text.indexOf('=');
  if (eq < 0) throw badRequest(`Bad Request - Error in query syntax: '${text}' is not a valid key.`);
  const attribute = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  if (attribute === 'contactid') {
    if (GUID.test(raw)) return { kind: 'id', id: raw.toLowerCase() };
    throw badRequest(`Bad Request - Error in query syntax: '${raw}' is not a valid GUID.`);
  }
  if (!alternateKeys.includes(attribute)) {
    throw badRequest(`The key attribute '${attribute}' is not a valid alternate key of entity 'contact'.`);
  }
  const literal = /^'((?:[^']|'')*)'$/.exec(raw);
  if (literal === null) throw badRequest(`Bad Request - Error in query syntax: ${raw} is not a string literal.`);
  return { kind: 'alternate', attribute, value: (literal[1] ?? '').replaceAll("''", "'") };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
