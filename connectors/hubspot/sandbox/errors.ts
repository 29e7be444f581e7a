import type { ApiResult } from '../../../runtime/sdk/sandbox-kit/index.ts';
import type { ObjectType, RateLimitPolicy } from './types.ts';

/** What an operation answers, before the HTTP layer adds rate-limit and correlation headers (the kit's shape). */
export type { ApiResult } from '../../../runtime/sdk/sandbox-kit/index.ts';

/** Context values are arrays of strings, as in HubSpot's `Error.context`. */
export type ErrorContext = Record<string, string[]>;

export interface ErrorDetail {
  message: string;
  code?: string;
  context?: ErrorContext;
}

/**
 * A request-level error. The correlation id is filled in when the response is rendered, so the body and the
 * `x-hubspot-correlation-id` header always carry the same one.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly category: string;
  readonly context: ErrorContext | undefined;
  readonly errors: ErrorDetail[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    status: number,
    category: string,
    message: string,
    extra: { context?: ErrorContext; errors?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.category = category;
    this.context = extra.context;
    this.errors = extra.errors;
    this.headers = extra.headers;
  }

  toResult(correlationId: string): ApiResult {
    const body: Record<string, unknown> = { status: 'error', message: this.message, correlationId };
    if (this.context !== undefined) body.context = this.context;
    if (this.errors !== undefined) body.errors = this.errors;
    body.category = this.category;
    return this.headers === undefined ? { status: this.status, body } : { status: this.status, body, headers: this.headers };
  }
}

/** One failed input inside a 207 batch answer (the spec's `StandardError`). */
export interface BatchError {
  status: 'error';
  category: string;
  message: string;
  context: ErrorContext;
  errors: ErrorDetail[];
  links: Record<string, string>;
}

export function batchError(category: string, message: string, context: ErrorContext, errors: ErrorDetail[] = []): BatchError {
  return { status: 'error', category, message, context, errors, links: {} };
}

export const OBJECT_TYPE_IDS: Record<ObjectType, string> = { contacts: '0-1', companies: '0-2' };
export const OBJECT_TYPE_NAMES: Record<ObjectType, string> = { contacts: 'CONTACT', companies: 'COMPANY' };

export function notFound(id: string): ApiError {
  // The double space is HubSpot's.
  return new ApiError(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.', { context: { id: [id] } });
}

export function invalidInput(message: string): ApiError {
  return new ApiError(400, 'VALIDATION_ERROR', message);
}

export function conflict(type: ObjectType, existingId: string): ApiError {
  const noun = type === 'contacts' ? 'Contact' : 'Company';
  return new ApiError(409, 'CONFLICT', `${noun} already exists. Existing ID: ${existingId}`);
}

export const AUTH_MESSAGE =
  'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview';

export function unauthenticated(): ApiError {
  return new ApiError(401, 'INVALID_AUTHENTICATION', AUTH_MESSAGE, { headers: { 'x-hubspot-auth-failure': '401 Unauthorized' } });
}

const RATE_LIMIT_MESSAGES: Record<RateLimitPolicy, string> = {
  TEN_SECONDLY_ROLLING: 'You have reached your ten_secondly_rolling limit.',
  DAILY: 'You have reached your daily limit.',
  // Search still answers with the pre-2020 wording.
  SECONDLY: 'You have reached your secondly limit.',
};

/** The 429 body has its own shape: `errorType` and `policyName` instead of `category`, and no Retry-After. */
export function rateLimitBody(policy: RateLimitPolicy, correlationId: string): Record<string, unknown> {
  return { status: 'error', message: RATE_LIMIT_MESSAGES[policy], errorType: 'RATE_LIMIT', correlationId, policyName: policy };
}

const FAULT_CATEGORIES: Record<number, [category: string, message: string]> = {
  400: ['VALIDATION_ERROR', 'Invalid input.'],
  401: ['INVALID_AUTHENTICATION', AUTH_MESSAGE],
  403: ['MISSING_SCOPES', 'This app hasn\'t been granted all required scopes to make this call.'],
  404: ['OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.'],
  409: ['CONFLICT', 'Conflict.'],
  414: ['URI_TOO_LONG', 'URI too long.'],
  423: ['LOCKED', 'The resource is locked by another request. Try again in a few seconds.'],
  477: ['MIGRATION_IN_PROGRESS', 'This account is being migrated to another data center. Try again later.'],
  500: ['INTERNAL_ERROR', 'Internal error.'],
  502: ['BAD_GATEWAY', 'The request could not be processed in time. Try again in a few seconds.'],
  503: ['SERVICE_UNAVAILABLE', 'The service is temporarily unavailable. Try again in a few seconds.'],
  504: ['GATEWAY_TIMEOUT', 'The request could not be processed in time. Try again in a few seconds.'],
};

const CDN_TITLES: Record<number, string> = {
  520: 'Web server is returning an unknown error',
  521: 'Web server is down',
  522: 'Connection timed out',
  523: 'Origin is unreachable',
  524: 'A timeout occurred',
  525: 'SSL handshake failed',
  526: 'Invalid SSL certificate',
};

/** The default answer of an injected status fault that carries no body of its own. */
export function faultResult(status: number, correlationId: string, body: unknown): ApiResult {
  if (body !== undefined) {
    if (typeof body === 'string') return { status, text: { contentType: 'text/plain; charset=utf-8', content: body } };
    return { status, body };
  }
  if (status === 429) return { status, body: rateLimitBody('TEN_SECONDLY_ROLLING', correlationId) };
  const cdn = CDN_TITLES[status];
  if (cdn !== undefined) {
    // HubSpot sits behind Cloudflare: 52x answers come from the CDN as HTML, not from the API as JSON.
    const content = `<!DOCTYPE html><html><head><title>api.hubapi.com | ${status}: ${cdn}</title></head>` +
      `<body><h1>Error ${status}</h1><p>${cdn}</p></body></html>`;
    return { status, text: { contentType: 'text/html; charset=UTF-8', content } };
  }
  if (status < 400) return { status, body: {} };
  const [category, message] = FAULT_CATEGORIES[status] ?? [status >= 500 ? 'INTERNAL_ERROR' : 'ERROR', `HTTP ${status}`];
  return new ApiError(status, category, message).toResult(correlationId);
}
