import {
  defineConnector,
  delivered,
  fatal,
  outcomeFromStatus,
  rateLimited,
  reauthenticate,
  retry,
  retryAfterMs,
  type HttpResponse,
  type Outcome,
  type SendContext,
} from '../../runtime/sdk/index.ts';

/**
 * Salesforce REST (sObjects). Every upsert is `PATCH /sobjects/{Object}/{ExternalIdField}/{recordId}`:
 * the record is found by its external id or created, so a retried create never makes a second record,
 * whatever the runtime knows of the Salesforce id. Deletes go by the stored id, or by the external id
 * when none is stored. Writes carry `Sforce-Call-Options: client=recsync`, which Change Data Capture
 * reports as the change's origin, so echoes of our own writes can be told apart.
 */

export const API_VERSION = 'v62.0';
/** The client name in Sforce-Call-Options on every write. */
export const CALL_CLIENT = 'recsync';
const WRITE_HEADERS = { 'Sforce-Call-Options': `client=${CALL_CLIENT}` };

/**
 * How long to wait after 403 REQUEST_LIMIT_EXCEEDED. TotalRequests is the org's rolling 24 h allocation:
 * it frees up only as the calls of a day ago age out and the answer does not say when, so look again in
 * an hour. ConcurrentRequests counts long-running calls (over 20 s) in flight: it frees up within seconds.
 */
export const TOTAL_REQUESTS_WAIT_MS = 3_600_000;
export const CONCURRENT_REQUESTS_WAIT_MS = 5_000;

/** One entry of Salesforce's error array. */
interface SalesforceError {
  message?: string;
  errorCode?: string;
  fields?: string[];
}

function sobjectOf(context: SendContext): string {
  const sobject = context.options['sobject'];
  if (typeof sobject !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(sobject)) throw new Error(`object "${context.object}" needs options.sobject (e.g. Contact)`);
  return sobject;
}

function externalIdFieldOf(context: SendContext): string {
  const field = context.options['externalIdField'] ?? 'Ext_Id__c';
  if (typeof field !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(field)) throw new Error(`object "${context.object}" has an invalid options.externalIdField`);
  return field;
}

const sobjectPath = (sobject: string): string => `/services/data/${API_VERSION}/sobjects/${sobject}`;

/** The external id value: the mapped record's, else the producer's record id. */
function externalIdValue(context: SendContext & { record?: Readonly<Record<string, unknown>> }, field: string): string {
  const value = context.record?.[field];
  return typeof value === 'string' && value !== '' ? value : context.recordId;
}

/** The first entry of an error body, which Salesforce sends as an array (one object is accepted too). */
function firstError(body: unknown): SalesforceError {
  const entry = Array.isArray(body) ? body[0] : body;
  return typeof entry === 'object' && entry !== null ? (entry as SalesforceError) : {};
}

function describe(response: HttpResponse): string {
  if (typeof response.body === 'string') return `Salesforce ${response.status}: ${response.body.slice(0, 200)}`;
  const errors = Array.isArray(response.body) ? (response.body as SalesforceError[]) : [firstError(response.body)];
  const parts = errors
    .filter((e) => typeof e === 'object' && e !== null)
    .map((e) => `${e.errorCode ?? 'ERROR'}: ${e.message ?? ''}${e.fields !== undefined && e.fields.length > 0 ? ` [${e.fields.join(', ')}]` : ''}`);
  return `Salesforce ${response.status}${parts.length > 0 ? ` ${parts.join('; ')}` : ''}`;
}

/**
 * Reads Salesforce's error dialect; `undefined` for 2xx. 401 (INVALID_SESSION_ID) asks for a new
 * session; 403 REQUEST_LIMIT_EXCEEDED is throttling (Salesforce never sends 429); UNABLE_TO_LOCK_ROW,
 * whatever its status, and 5xx are retried; 300 (the external id matches several records) and every
 * other 4xx are fatal.
 */
export function readError(response: HttpResponse, now: number = Date.now()): Outcome | undefined {
  const { status } = response;
  if (status >= 200 && status < 300) return undefined;
  const message = describe(response);
  const error = firstError(response.body);
  if (error.errorCode === 'UNABLE_TO_LOCK_ROW') return retry('RECSYNC_ERR_CRM_RETRYABLE', message, { status });
  if (status === 300) {
    const urls = Array.isArray(response.body) ? response.body.filter((u): u is string => typeof u === 'string') : [];
    const ids = urls.map((u) => u.slice(u.lastIndexOf('/') + 1));
    return fatal('RECSYNC_ERR_CRM_REJECTED', `Salesforce 300: the external id matches ${ids.length} records (${ids.join(', ')}); make it unique in Salesforce`, status);
  }
  if (status === 401) return reauthenticate(message, status);
  if (status === 403 && error.errorCode === 'REQUEST_LIMIT_EXCEEDED') {
    const concurrent = /Concurrent/i.test(error.message ?? '');
    return rateLimited(message, { status, afterMs: concurrent ? CONCURRENT_REQUESTS_WAIT_MS : TOTAL_REQUESTS_WAIT_MS });
  }
  if (status >= 500) {
    const afterMs = retryAfterMs(response.headers['retry-after'], now);
    return retry('RECSYNC_ERR_CRM_RETRYABLE', message, afterMs === undefined ? { status } : { status, afterMs });
  }
  // 403 without a limit is a permission missing (fatal auth); 408 and 425 are retried; the rest are rejections.
  return outcomeFromStatus(response, message);
}

async function upsert(context: SendContext & { record: Readonly<Record<string, unknown>> }): Promise<Outcome> {
  const sobject = sobjectOf(context);
  const field = externalIdFieldOf(context);
  const value = externalIdValue(context, field);
  // The external id travels in the URL only: Salesforce refuses it (and Id) in the body of an upsert.
  const body: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(context.record)) if (name !== field && name !== 'Id') body[name] = v;
  const response = await context.http.request({
    method: 'PATCH',
    path: `${sobjectPath(sobject)}/${field}/${encodeURIComponent(value)}`,
    body,
    headers: WRITE_HEADERS,
  });
  const result = (response.body ?? {}) as { id?: string; created?: boolean };
  if (response.status === 201) return delivered(result.id ?? context.crmId, true);
  if (response.status === 200) return delivered(result.id ?? context.crmId, result.created ?? false);
  // API v45 and older answer an update with 204 and no body: the id is the one we already hold.
  if (response.status === 204) return context.crmId === undefined ? delivered() : delivered(context.crmId, false);
  return readError(response) ?? fatal('RECSYNC_ERR_CRM_REJECTED', describe(response), response.status);
}

async function deleteById(context: SendContext, sobject: string, crmId: string): Promise<Outcome> {
  const response = await context.http.request({ method: 'DELETE', path: `${sobjectPath(sobject)}/${encodeURIComponent(crmId)}`, headers: WRITE_HEADERS });
  // Already in the recycle bin (ENTITY_IS_DELETED) or never there (NOT_FOUND): the state we want.
  if (response.status === 404) return delivered();
  return readError(response) ?? delivered();
}

export default defineConnector({
  upsert,

  async delete(context) {
    const sobject = sobjectOf(context);
    if (context.crmId !== undefined) return deleteById(context, sobject, context.crmId);
    // Never delivered by us (or its id was lost): find it by its external id.
    const field = externalIdFieldOf(context);
    const found = await context.http.request({
      method: 'GET',
      path: `${sobjectPath(sobject)}/${field}/${encodeURIComponent(externalIdValue(context, field))}`,
      query: { fields: 'Id' },
    });
    if (found.status === 404) return delivered();
    const error = readError(found);
    if (error) return error;
    const id = (found.body as { Id?: unknown } | undefined)?.Id;
    if (typeof id !== 'string') return retry('RECSYNC_ERR_CRM_RETRYABLE', `Salesforce ${found.status}: the lookup by ${field} answered without an Id`, { status: found.status });
    return deleteById(context, sobject, id);
  },
});
