/**
 * The error catalogue: every error recsync reports carries one of these stable codes, an HTTP
 * status (for API answers) and whether retrying the same thing can succeed. Match on `code`,
 * never on the message or the class. `docs/reference/errors.md` documents each code; a test keeps
 * the two in step.
 */
export const errorCatalogue = {
  RECSYNC_ERR_VALIDATION: { status: 400, retryable: false, summary: 'The request does not match the API schema.' },
  RECSYNC_ERR_BODY_TOO_LARGE: { status: 413, retryable: false, summary: 'The request body is larger than the configured limit.' },
  RECSYNC_ERR_BAD_JSON: { status: 400, retryable: false, summary: 'The request body is not valid JSON.' },
  RECSYNC_ERR_UNKNOWN_CONNECTOR: { status: 404, retryable: false, summary: 'No connector of that name is loaded.' },
  RECSYNC_ERR_UNKNOWN_OBJECT: { status: 422, retryable: false, summary: 'The connector does not declare that object.' },
  RECSYNC_ERR_INPUT_INVALID: { status: 422, retryable: false, summary: "The payload does not match the connector's input schema." },
  RECSYNC_ERR_OUTPUT_INVALID: { status: 422, retryable: false, summary: "The mapped record does not match the connector's output schema." },
  RECSYNC_ERR_MAPPING_FAILED: { status: 422, retryable: false, summary: 'The JSONata mapping failed at evaluation time.' },
  RECSYNC_ERR_RULE_FAILED: { status: 422, retryable: false, summary: "A rule's condition failed on the event, or did not give true or false (the rule and its manifest line are named)." },
  RECSYNC_ERR_CONNECTOR_UNAVAILABLE: { status: 503, retryable: true, summary: 'The connector failed to load; its tasks wait until a good configuration is loaded.' },
  RECSYNC_ERR_UNAUTHORIZED: { status: 401, retryable: false, summary: 'No API token, or one that is not configured: send Authorization: Bearer <token>.' },
  RECSYNC_ERR_FORBIDDEN: { status: 403, retryable: false, summary: "The token's role does not allow this route." },
  RECSYNC_ERR_CONFIG_REFUSED: { status: 422, retryable: false, summary: 'A reload was refused: the new configuration does not load (file, line and reason are given); the previous version keeps running.' },
  RECSYNC_ERR_NOT_FOUND: { status: 404, retryable: false, summary: 'No such record or route.' },
  RECSYNC_ERR_REDIS_UNAVAILABLE: { status: 503, retryable: true, summary: 'Redis is not reachable: the request was not carried out, or not wholly; send it again (resending the same versions is safe).' },
  RECSYNC_ERR_CONFIG_INVALID: { status: 500, retryable: false, summary: 'A manifest, schema or mapping is invalid (file, line and reason are given).' },
  RECSYNC_ERR_CRM_RETRYABLE: { status: 502, retryable: true, summary: 'The CRM answered with a transient error (5xx, lock, timeout).' },
  RECSYNC_ERR_CRM_RATE_LIMITED: { status: 429, retryable: true, summary: 'The CRM said to slow down (429 or its own dialect of it).' },
  RECSYNC_ERR_CRM_REJECTED: { status: 422, retryable: false, summary: 'The CRM rejected the record (validation, permission, conflict it cannot resolve).' },
  RECSYNC_ERR_CRM_AUTH: { status: 502, retryable: false, summary: 'The CRM refused the credentials.' },
  RECSYNC_ERR_CRM_TIMEOUT: { status: 504, retryable: true, summary: 'The CRM did not answer within the timeout; the request was aborted.' },
  RECSYNC_ERR_CRM_NETWORK: { status: 502, retryable: true, summary: 'The connection to the CRM failed.' },
  RECSYNC_ERR_CONNECTOR_BUG: { status: 500, retryable: true, summary: "The connector's code threw instead of returning an outcome." },
  RECSYNC_ERR_ATTEMPTS_EXHAUSTED: { status: 500, retryable: false, summary: 'Every retry attempt of the retry policy failed.' },
  RECSYNC_ERR_WEBHOOK_SIGNATURE: { status: 401, retryable: false, summary: "A webhook's signature is missing or does not match its body (or the inbound secret is wrong)." },
  RECSYNC_ERR_WEBHOOK_STALE: { status: 401, retryable: false, summary: "A webhook's signed timestamp is more than 5 minutes away from now." },
  RECSYNC_ERR_WEBHOOK_REPLAYED: { status: 409, retryable: false, summary: 'This exact signed webhook request was received before: a replay.' },
  RECSYNC_ERR_INBOUND_OFF: { status: 404, retryable: false, summary: 'The connector takes no webhooks: its manifest declares no `inbound`, or its secret is empty.' },
  RECSYNC_ERR_INTERNAL: { status: 500, retryable: true, summary: 'An unexpected error inside recsync.' },
} as const satisfies Record<string, { status: number; retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface ErrorDetail {
  /** JSON pointer or dotted path of the offending field, when there is one. */
  field?: string;
  /** File, and line when known, of the offending configuration. */
  file?: string;
  line?: number;
  message: string;
}

export class RecsyncError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: ErrorDetail[];

  constructor(code: ErrorCode, message: string, details: ErrorDetail[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecsyncError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.retryable = errorCatalogue[code].retryable;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: ErrorDetail[] } {
    return this.details.length > 0 ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export function isRecsyncError(error: unknown): error is RecsyncError {
  return error instanceof RecsyncError;
}
