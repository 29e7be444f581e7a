/**
 * The connector SDK: the only module a connector imports from recsync. It sits at the bottom of
 * the dependency graph (it imports nothing from the rest of the runtime) so a connector never
 * depends on the queue, the HTTP server, ajv, JSONata or OpenTelemetry.
 */

/** What the CRM's answer means for this record version. Decisions are data: the runtime acts on them. */
export type Outcome =
  /** The CRM holds this version. `crmId` is the CRM's id of the object (omit it for deletes). */
  | { kind: 'delivered'; crmId?: string; created?: boolean }
  /** A transient failure of this record: retried with the manifest's backoff (at least `afterMs` later when given). Spends an attempt. */
  | { kind: 'retry'; code: CrmErrorCode; message: string; status?: number; afterMs?: number }
  /** The CRM said to slow down (or to come back later): the account's shared rate budget is pushed back by `afterMs` for every instance; spends no attempt. */
  | { kind: 'rate-limited'; message: string; status?: number; afterMs?: number }
  /** Retrying cannot help: the record goes to the dead-letter queue with this reason. */
  | { kind: 'fatal'; code: CrmErrorCode; message: string; status?: number }
  /**
   * The CRM refused the access token as expired or revoked (HubSpot EXPIRED_AUTHENTICATION,
   * Salesforce INVALID_SESSION_ID, a Dataverse 401): with `auth: oauth2` the runtime obtains a new
   * token (one refresh at a time per account) and sends again once, spending no attempt; refused
   * again, or with a static token, it is a fatal RECSYNC_ERR_CRM_AUTH.
   */
  | { kind: 'reauthenticate'; message: string; status?: number };

export type CrmErrorCode =
  | 'RECSYNC_ERR_CRM_RETRYABLE'
  | 'RECSYNC_ERR_CRM_REJECTED'
  | 'RECSYNC_ERR_CRM_AUTH'
  | 'RECSYNC_ERR_CRM_TIMEOUT'
  | 'RECSYNC_ERR_CRM_NETWORK';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the manifest's `baseUrl`, e.g. `/crm/v3/objects/contacts`. Encode segments yourself. */
  path: string;
  query?: Record<string, string | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Parsed JSON when the CRM sent JSON, else the text, or undefined when there was no body. */
  body: unknown;
}

/**
 * The runtime's HTTP client, bound to the connector's base URL and credentials. It applies the
 * manifest's timeout (the request is aborted, not abandoned), never retries by itself (the runtime
 * has one retry layer), and throws only when no answer arrived (timeout, connection failure).
 */
export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
}

export interface SendContext {
  /** The object name from the manifest, e.g. `contact`. */
  object: string;
  /** The object's free-form `options` from the manifest. */
  options: Readonly<Record<string, unknown>>;
  tenant: string;
  /** The producer's record id. */
  recordId: string;
  /** The record version being sent. */
  version: number;
  /** The CRM id stored when an earlier version of this record was delivered, if any. */
  crmId?: string;
  http: HttpClient;
}

export interface Connector {
  /** Create or update the CRM object so that it holds `record` (the mapped, validated CRM object). */
  upsert(context: SendContext & { record: Readonly<Record<string, unknown>> }): Promise<Outcome>;
  /** Delete (or archive) the CRM object. `record` is the mapped payload when the delete task carried one. */
  delete(context: SendContext & { record?: Readonly<Record<string, unknown>> }): Promise<Outcome>;
  /** The way back (CRM → our system): present when the connector takes the CRM's webhooks. */
  inbound?: InboundSupport;
}

/** One webhook delivery as it reached recsync; `body` is the raw bytes the signature covers. */
export interface WebhookRequest {
  method: string;
  /** The full URL the CRM called (scheme, host, path and query), as the CRM signed it. */
  url: string;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
  /** Now, in ms since the epoch (injected for tests). */
  now: number;
}

/** A change a webhook announces: "object `crmId` changed at `occurredAt`". The runtime fetches the object itself. */
export interface InboundChange {
  /** The manifest's object name, e.g. `contact`. */
  object: string;
  crmId: string;
  action: 'upsert' | 'delete';
  /** When the change happened at the CRM (ms since the epoch): the inbound version of the record. */
  occurredAt: number;
  eventId: string;
  /** The CRM's change-source marker (HubSpot `changeSource`, e.g. `INTEGRATION`, `CRM_UI`), when it has one. */
  source?: string;
}

export type FetchResult =
  /** The object as the CRM holds it now; `recordId` is our id of it when the CRM carries it (a property we wrote). */
  | { kind: 'found'; object: Record<string, unknown>; recordId?: string }
  /** Deleted (or archived) at the CRM; `object` is its last state when the CRM still shows it. */
  | { kind: 'gone'; object?: Record<string, unknown>; recordId?: string }
  /** The read failed: retried, throttled or fatal like a write. */
  | Outcome;

export interface InboundSupport {
  /**
   * Checks the CRM's signature over the raw body, in constant time, and the delivery's age.
   * `stale`: signed correctly but too old (or too far in the future) to be trusted. `requestId`
   * identifies the signed request (e.g. its signature): the runtime refuses a second one as a replay.
   */
  verify(request: WebhookRequest, secret: string): { ok: true; requestId: string } | { ok: false; reason: 'signature' | 'stale'; message: string };
  /** The changes a verified delivery announces; `errors` name the offending field (e.g. `[3].objectId`). */
  changes(body: unknown): { changes: InboundChange[]; ignored: number } | { errors: Array<{ field: string; message: string }> };
  /** Reads the object's current state from the CRM; `properties`: the CRM properties the mapping models. */
  fetch(context: { object: string; options: Readonly<Record<string, unknown>>; crmId: string; properties: readonly string[]; http: HttpClient }): Promise<FetchResult>;
}

/** Declares a connector; the identity function, there for the types. */
export function defineConnector(connector: Connector): Connector {
  return connector;
}

export const delivered = (crmId?: string, created?: boolean): Outcome =>
  crmId === undefined ? { kind: 'delivered' } : created === undefined ? { kind: 'delivered', crmId } : { kind: 'delivered', crmId, created };

export const retry = (code: CrmErrorCode, message: string, extra: { status?: number; afterMs?: number } = {}): Outcome => ({
  kind: 'retry',
  code,
  message,
  ...extra,
});

export const rateLimited = (message: string, extra: { status?: number; afterMs?: number } = {}): Outcome => ({
  kind: 'rate-limited',
  message,
  ...extra,
});

export const fatal = (code: CrmErrorCode, message: string, status?: number): Outcome =>
  status === undefined ? { kind: 'fatal', code, message } : { kind: 'fatal', code, message, status };

export const reauthenticate = (message: string, status?: number): Outcome =>
  status === undefined ? { kind: 'reauthenticate', message } : { kind: 'reauthenticate', message, status };

/**
 * Reads a Retry-After header in either form RFC 9110 allows (delay-seconds or an HTTP-date) as
 * milliseconds from `now`; undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only an HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT"), not whatever Date.parse would accept.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The default reading of an HTTP answer that a connector does not treat specially: 2xx delivered,
 * 408/425/5xx retry, 429 (and 503 with Retry-After) rate-limited for the whole account with the
 * Retry-After honoured, 401 reauthenticate, 403 auth, other 4xx rejected.
 */
export function outcomeFromStatus(response: HttpResponse, message: string, crmId?: string): Outcome {
  const { status } = response;
  const afterMs = retryAfterMs(response.headers['retry-after']);
  const extra = afterMs === undefined ? { status } : { status, afterMs };
  if (status >= 200 && status < 300) return delivered(crmId);
  // A 429, or a 503 that says when to come back, speaks for the whole account: hold it back.
  if (status === 429 || (status === 503 && afterMs !== undefined)) return rateLimited(message, extra);
  if (status === 408 || status === 425 || status >= 500) return retry('RECSYNC_ERR_CRM_RETRYABLE', message, extra);
  // A refused token is worth one refresh (oauth2); with a static token the runtime makes it fatal.
  if (status === 401) return reauthenticate(message, status);
  if (status === 403) return fatal('RECSYNC_ERR_CRM_AUTH', message, status);
  return fatal('RECSYNC_ERR_CRM_REJECTED', message, status);
}

/** What a connector's `sandbox.ts` exports: a local twin of the CRM, started by `npm start` when no CRM URL is set. */
export interface SandboxModule {
  /**
   * Starts the sandbox. With `freshIds` it must never issue an id it issued in an earlier run:
   * recsync's record state (and its stored CRM ids) outlives a restarted, empty sandbox.
   */
  startSandbox(options?: { host?: string; port?: number; freshIds?: boolean }): Promise<{ url: string; env: Record<string, string>; close(): Promise<void> }>;
}
