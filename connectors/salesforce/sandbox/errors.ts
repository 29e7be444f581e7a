import type { ApiResult } from '../../../runtime/sdk/sandbox-kit/index.ts';

/** One entry of Salesforce's error array. */
export interface SfErrorEntry {
  message: string;
  errorCode: string;
  fields?: string[];
}

/** A request-level error: Salesforce answers a JSON array of `{message, errorCode, fields}`. */
export class SfError extends Error {
  readonly status: number;
  readonly entries: SfErrorEntry[];

  constructor(status: number, entries: SfErrorEntry[]) {
    super(entries.map((e) => `${e.errorCode}: ${e.message}`).join('; '));
    this.status = status;
    this.entries = entries;
  }

  static one(status: number, errorCode: string, message: string, fields?: string[]): SfError {
    return new SfError(status, [fields === undefined ? { message, errorCode } : { message, errorCode, fields }]);
  }

  toResult(): ApiResult {
    return { status: this.status, body: this.entries };
  }
}

export const NOT_FOUND_MESSAGE = 'The requested resource does not exist';

export const notFound = (): SfError => SfError.one(404, 'NOT_FOUND', NOT_FOUND_MESSAGE);
export const entityIsDeleted = (): SfError => SfError.one(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
export const sessionExpired = (): SfError => SfError.one(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
export const missingAuthHeader = (): SfError => SfError.one(401, 'INVALID_AUTH_HEADER', 'INVALID_HEADER_TYPE');
export const jsonParserError = (reason: string): SfError => SfError.one(400, 'JSON_PARSER_ERROR', reason);

export type LimitName = 'TotalRequests' | 'ConcurrentRequests';

export const LIMIT_MESSAGES: Record<LimitName, string> = {
  TotalRequests: 'TotalRequests Limit exceeded.',
  ConcurrentRequests: 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.',
};

export const requestLimitExceeded = (limit: LimitName): SfError => SfError.one(403, 'REQUEST_LIMIT_EXCEEDED', LIMIT_MESSAGES[limit]);

/** Default bodies of injected status faults that carry none: what Salesforce would send for that status. */
const FAULT_DEFAULTS: Record<number, [errorCode: string, message: string]> = {
  // The one 400 a test cannot produce with data: a row lock held by another transaction. Retryable.
  400: ['UNABLE_TO_LOCK_ROW', 'unable to obtain exclusive access to this record or 1 records'],
  401: ['INVALID_SESSION_ID', 'Session expired or invalid'],
  403: ['REQUEST_LIMIT_EXCEEDED', LIMIT_MESSAGES.TotalRequests],
  404: ['NOT_FOUND', NOT_FOUND_MESSAGE],
  409: ['CONFLICT', 'Conflict'],
  500: ['UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)'],
  503: ['SERVER_UNAVAILABLE', 'Server temporarily unavailable. Please try again later.'],
};

export function apiFaultResult(status: number, body: unknown): ApiResult {
  if (body !== undefined) {
    if (typeof body === 'string') return { status, text: { contentType: 'text/plain;charset=UTF-8', content: body } };
    return { status, body };
  }
  if (status < 400) return { status };
  const [errorCode, message] = FAULT_DEFAULTS[status] ?? [status >= 500 ? 'UNKNOWN_EXCEPTION' : 'BAD_REQUEST', `HTTP ${status}`];
  return { status, body: [{ message, errorCode }] };
}

/** OAuth endpoints answer in OAuth's words, not the API's error array. */
export function oauthError(status: number, error: string, description: string): ApiResult {
  return { status, body: { error, error_description: description }, headers: { 'cache-control': 'no-cache,no-store' } };
}

export function oauthFaultResult(status: number, body: unknown): ApiResult {
  if (body !== undefined) return apiFaultResult(status, body);
  if (status < 400) return { status };
  // Salesforce's token endpoint answers transient trouble with this pair.
  return oauthError(status, 'unknown_error', 'retry your request');
}
