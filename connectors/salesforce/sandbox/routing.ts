import type { ApiResult } from '../../../runtime/sdk/sandbox-kit/index.ts';
import { notFound, SfError } from './errors.ts';
import type { SObjectApi, SObjectRequest } from './sobjects.ts';
import { SOBJECT_TYPES, type SObjectType } from './types.ts';

export const MIN_API_VERSION = 20;

export type RouteKind =
  /** An API call under /services/data/vNN.N: needs a session, counts toward the limits. */
  | 'api'
  /** GET /services/data: the versions resource, open and not counted. */
  | 'versions'
  /** The OAuth endpoints (login.salesforce.com in real life): open and not counted. */
  | 'token'
  | 'revoke';

export type Operation = (api: SObjectApi, request: SObjectRequest) => ApiResult;

export interface Route {
  /** The stats key, e.g. 'PATCH /services/data/vXX.X/sobjects/Contact/{id}'. */
  key: string;
  kind: RouteKind;
  method: string;
  version?: number;
  type?: SObjectType;
  id?: string;
  field?: string;
  value?: string;
  operation?: Operation;
  /** GET /limits. */
  limits?: boolean;
  /** For paths that name no operation: the error to answer with (after auth). */
  error?: SfError;
}

const methodNotAllowed = (method: string, allowed: string): SfError =>
  SfError.one(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are ${allowed}`);

/** Maps a method and path to a resource of the sandbox, or to the error Salesforce would answer with. */
export function resolveRoute(method: string, path: string, maxVersion: number): Route {
  if (path === '/services/oauth2/token') return { key: `${method} /services/oauth2/token`, kind: 'token', method };
  if (path === '/services/oauth2/revoke') return { key: `${method} /services/oauth2/revoke`, kind: 'revoke', method };
  if ((path === '/services/data' || path === '/services/data/') && method === 'GET') return { key: 'GET /services/data', kind: 'versions', method };

  const unmatched: Route = { key: `${method} (unmatched)`, kind: 'api', method, error: notFound() };
  const m = /^\/services\/data\/v(\d+)\.(\d+)(?:\/(.*))?$/.exec(path);
  if (m === null) return unmatched;
  const version = Number(m[1]);
  if (m[2] !== '0' || version < MIN_API_VERSION || version > maxVersion) return unmatched;
  const base = '/services/data/vXX.X';
  const rest = (m[3] ?? '').replace(/\/+$/, '');
  if (rest === 'limits') {
    return method === 'GET' ? { key: `GET ${base}/limits`, kind: 'api', method, version, limits: true } : { ...unmatched, error: methodNotAllowed(method, 'GET') };
  }
  const segments = rest.split('/');
  if (segments[0] !== 'sobjects' || segments.length < 2 || segments.length > 4) return unmatched;
  const type = decode(segments[1] ?? '') as SObjectType;
  if (!SOBJECT_TYPES.includes(type)) return { key: `${method} ${base}/sobjects/{unsupported}`, kind: 'api', method, error: notFound() };
  const typeBase = `${base}/sobjects/${type}`;

  if (segments.length === 2) {
    if (method === 'POST') return { key: `POST ${typeBase}`, kind: 'api', method, version, type, operation: (api, r) => api.create(r) };
    return { key: `${method} ${typeBase}`, kind: 'api', method, error: methodNotAllowed(method, 'POST') };
  }
  if (segments.length === 3) {
    const id = decode(segments[2] ?? '');
    const key = `${method} ${typeBase}/{id}`;
    if (method === 'GET') return { key, kind: 'api', method, version, type, id, operation: (api, r) => api.read(r) };
    if (method === 'PATCH') return { key, kind: 'api', method, version, type, id, operation: (api, r) => api.update(r) };
    if (method === 'DELETE') return { key, kind: 'api', method, version, type, id, operation: (api, r) => api.delete(r) };
    return { key, kind: 'api', method, error: methodNotAllowed(method, 'GET,PATCH,DELETE') };
  }
  const field = decode(segments[2] ?? '');
  const value = decode(segments[3] ?? '');
  const key = `${method} ${typeBase}/{field}/{value}`;
  if (method === 'GET') return { key, kind: 'api', method, version, type, field, value, operation: (api, r) => api.readByExternalId(r) };
  if (method === 'PATCH') return { key, kind: 'api', method, version, type, field, value, operation: (api, r) => api.upsert(r) };
  if (method === 'DELETE') return { key, kind: 'api', method, version, type, field, value, operation: (api, r) => api.deleteByExternalId(r) };
  return { key, kind: 'api', method, error: methodNotAllowed(method, 'GET,PATCH,DELETE') };
}

/** A malformed escape is kept as sent: it then simply names no record. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** GET /services/data: every served version, oldest first, with its release name. */
export function versionsBody(maxVersion: number): Array<{ label: string; url: string; version: string }> {
  const out: Array<{ label: string; url: string; version: string }> = [];
  for (let v = MIN_API_VERSION; v <= maxVersion; v++) out.push({ label: releaseName(v), url: `/services/data/v${v}.0`, version: `${v}.0` });
  return out;
}

/** Three releases a year; v62.0 is Winter '25, v61.0 Summer '24, v60.0 Spring '24, and so on back. */
function releaseName(version: number): string {
  const back = 62 - version;
  const season = (['Winter', 'Summer', 'Spring'] as const)[((back % 3) + 3) % 3];
  const year = 25 - Math.floor((back + 2) / 3);
  return `${season} '${String(((year % 100) + 100) % 100).padStart(2, '0')}`;
}
