import type { ApiResult } from '../../../runtime/sdk/sandbox-kit/index.ts';

/** Dataverse error codes (HRESULT-style) the sandbox answers with. */
export const CODES = {
  notFound: '0x80040217',
  duplicateKey: '0x80040237',
  resourceNotFound: '0x8006088a',
  badRequest: '0x80060888',
  payload: '0x80048d19',
  tooLong: '0x80044331',
  rowVersion: '0x80060882',
  requestLimit: '0x80072322',
  timeLimit: '0x80072321',
  concurrencyLimit: '0x80072326',
  internal: '0x80040216',
} as const;

/** A Web API error: `{"error":{"code":"0x…","message":"…"}}`. */
export class DvError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string> | undefined;

  constructor(status: number, code: string, message: string, headers?: Record<string, string>) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  toResult(): ApiResult {
    const body = { error: { code: this.code, message: this.message } };
    return this.headers === undefined ? { status: this.status, body } : { status: this.status, body, headers: this.headers };
  }
}

export const recordNotFound = (entity: string, id: string): DvError => new DvError(404, CODES.notFound, `${entity} With Id = ${id} Does Not Exist`);
export const keyNotFound = (entity: string): DvError => new DvError(404, CODES.notFound, `A record with the specified key values does not exist in ${entity} entity`);
export const segmentNotFound = (segment: string): DvError => new DvError(404, CODES.resourceNotFound, `Resource not found for the segment '${segment}'.`);
export const badRequest = (message: string): DvError => new DvError(400, CODES.badRequest, message);
export const payloadError = (set: string, inner: string): DvError =>
  new DvError(400, CODES.payload, `Error identified in Payload provided by the user for Entity :'${set}' ----> InnerException : Microsoft.OData.ODataException: ${inner}`);

/** Default bodies of injected status faults that carry none. */
const FAULT_DEFAULTS: Record<number, [code: string, message: string]> = {
  400: [CODES.badRequest, 'Bad Request'],
  404: [CODES.notFound, 'The requested record was not found or you do not have sufficient permissions to view it.'],
  412: [CODES.duplicateKey, 'A record with matching key values already exists.'],
  429: [CODES.requestLimit, 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.'],
  500: [CODES.internal, 'An unexpected error occurred.'],
  502: [CODES.internal, 'Bad Gateway'],
  503: [CODES.internal, 'The service is temporarily unavailable. Please try again later.'],
  504: [CODES.internal, 'The request timed out.'],
};

export function apiFaultResult(status: number, body: unknown): ApiResult {
  if (body !== undefined) {
    if (typeof body === 'string') return { status, text: { contentType: 'text/plain; charset=utf-8', content: body } };
    return { status, body };
  }
  // A 401 from Dataverse has no body; the header says where to get a token.
  if (status < 400 || status === 401) return { status };
  const [code, message] = FAULT_DEFAULTS[status] ?? [CODES.internal, `HTTP ${status}`];
  const result: ApiResult = { status, body: { error: { code, message } } };
  // Every service-protection 429 carries Retry-After.
  if (status === 429) result.headers = { 'Retry-After': '1' };
  return result;
}
