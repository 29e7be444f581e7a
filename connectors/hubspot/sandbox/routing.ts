import { ApiError, invalidInput, type ApiResult } from './errors.ts';
import type { ApiRequest, CrmApi } from './crm-api.ts';
import type { ObjectType } from './types.ts';

export type Operation = (api: CrmApi, request: ApiRequest) => ApiResult;

export interface Route {
  /** The stats key, e.g. 'PATCH /crm/v3/objects/contacts/{id}'. */
  key: string;
  kind: 'standard' | 'search';
  type?: ObjectType;
  id?: string;
  operation?: Operation;
  /** For paths that name no operation: the error to answer with. */
  error?: ApiError;
}

const BATCH_OPERATIONS: Record<string, Operation> = {
  create: (api, r) => api.batchCreate(r),
  read: (api, r) => api.batchRead(r),
  update: (api, r) => api.batchUpdate(r),
  upsert: (api, r) => api.batchUpsert(r),
  archive: (api, r) => api.batchArchive(r),
};

const TYPE_ALIASES: Record<string, ObjectType> = { contacts: 'contacts', contact: 'contacts', '0-1': 'contacts', companies: 'companies', company: 'companies', '0-2': 'companies' };

/** Maps a method and path to an operation of the CRM API, or to the error HubSpot would answer with. */
export function resolveRoute(method: string, path: string): Route {
  const unmatched: Route = {
    key: `${method} (unmatched)`,
    kind: 'standard',
    error: new ApiError(404, 'NOT_FOUND', `No route for ${method} ${path}`),
  };
  const m = /^\/crm\/v3\/objects\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (m === null) return unmatched;
  const typeSegment = decode(m[1] ?? '');
  const type = TYPE_ALIASES[typeSegment];
  if (type === undefined) {
    // deals and custom objects exist in HubSpot but not in this sandbox.
    return { key: `${method} /crm/v3/objects/{unsupported}`, kind: 'standard', error: invalidInput(`Unable to infer object type from: ${typeSegment}`) };
  }
  const base = `/crm/v3/objects/${type}`;
  const rest = m[2] ?? '';
  if (rest === '') {
    if (method === 'POST') return { key: `POST ${base}`, kind: 'standard', type, operation: (api, r) => api.create(r) };
    if (method === 'GET') return { key: `GET ${base}`, kind: 'standard', type, operation: (api, r) => api.list(r) };
    return unmatched;
  }
  if (rest === 'search' && method === 'POST') return { key: `POST ${base}/search`, kind: 'search', type, operation: (api, r) => api.search(r) };
  const batch = /^batch\/([^/]+)$/.exec(rest);
  if (batch !== null && method === 'POST') {
    const operation = BATCH_OPERATIONS[batch[1] ?? ''];
    return operation === undefined ? unmatched : { key: `POST ${base}/batch/${batch[1]}`, kind: 'standard', type, operation };
  }
  if (!rest.includes('/')) {
    const id = decode(rest);
    const key = `${method} ${base}/{id}`;
    if (method === 'GET') return { key, kind: 'standard', type, id, operation: (api, r) => api.read(r) };
    if (method === 'PATCH') return { key, kind: 'standard', type, id, operation: (api, r) => api.update(r) };
    if (method === 'DELETE') return { key, kind: 'standard', type, id, operation: (api, r) => api.archive(r) };
  }
  return unmatched;
}

/** A malformed escape is kept as sent: it then simply names no record, as it would at HubSpot. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
