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
 * Microsoft Dataverse Web API (Dynamics 365), OData v4. Every upsert is
 * `PATCH /{entitySet}({alternateKey}='{recordId}')`, an upsert by default in Dataverse: the record is
 * found by its alternate key or created, so a retried create never makes a second record. The answer
 * (204) names the record in its OData-EntityId header. Deletes go by the stored GUID, or by the
 * alternate key when none is stored.
 */

export const API_PATH = '/api/data/v9.2';

/** Dataverse sends Retry-After on every service-protection 429; this is for a 429 without it. */
export const DEFAULT_THROTTLE_WAIT_MS = 5_000;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ODATA_HEADERS = { 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' };

function entitySetOf(context: SendContext): string {
  const set = context.options['entitySet'];
  if (typeof set !== 'string' || !/^[a-z][a-z0-9_]*$/.test(set)) throw new Error(`object "${context.object}" needs options.entitySet (e.g. contacts)`);
  return set;
}

function alternateKeyOf(context: SendContext): string {
  const key = context.options['alternateKey'] ?? 'new_externalid';
  if (typeof key !== 'string' || !/^[a-z][a-z0-9_]*$/.test(key)) throw new Error(`object "${context.object}" has an invalid options.alternateKey`);
  return key;
}

/** An OData string literal in a URL path: single quotes doubled, then percent-encoded. */
export function odataString(value: string): string {
  return `'${encodeURIComponent(value.replaceAll("'", "''"))}'`;
}

/** `contacts(new_externalid='CRM-42')`, the value taken from the mapped record or else the producer's record id. */
function byAlternateKey(context: SendContext & { record?: Readonly<Record<string, unknown>> }): { path: string; key: string } {
  const key = alternateKeyOf(context);
  const mapped = context.record?.[key];
  const value = typeof mapped === 'string' && mapped !== '' ? mapped : context.recordId;
  return { path: `${API_PATH}/${entitySetOf(context)}(${key}=${odataString(value)})`, key };
}

/** The GUID inside the parentheses of an OData-EntityId header. */
export function entityIdFrom(header: string | undefined): string | undefined {
  const m = /\(([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)\s*$/i.exec(header ?? '');
  return m?.[1]?.toLowerCase();
}

function describe(response: HttpResponse): string {
  if (typeof response.body === 'string') return `Dataverse ${response.status}: ${response.body.slice(0, 200)}`;
  const error = (response.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  if (error === undefined) return `Dataverse ${response.status}`;
  return `Dataverse ${response.status} ${error.code ?? ''}: ${error.message ?? ''}`;
}

/**
 * Reads Dataverse's error dialect; `undefined` for 2xx. 429 is service protection (Retry-After, in
 * seconds, always sent); 401 asks for a new token; 412 (a precondition or a duplicate key) is fatal;
 * 5xx is retried; other 4xx are rejections naming the HRESULT code and message.
 */
export function readError(response: HttpResponse, now: number = Date.now()): Outcome | undefined {
  const { status } = response;
  if (status >= 200 && status < 300) return undefined;
  const message = describe(response);
  const afterMs = retryAfterMs(response.headers['retry-after'], now);
  if (status === 429) return rateLimited(message, { status, afterMs: afterMs ?? DEFAULT_THROTTLE_WAIT_MS });
  if (status === 401) return reauthenticate(message, status);
  if (status === 412) return fatal('RECSYNC_ERR_CRM_REJECTED', message, status);
  if (status >= 500) return retry('RECSYNC_ERR_CRM_RETRYABLE', message, afterMs === undefined ? { status } : { status, afterMs });
  // 403 is a missing privilege (fatal auth); 408 and 425 are retried; the rest are rejections.
  return outcomeFromStatus(response, message);
}

async function upsert(context: SendContext & { record: Readonly<Record<string, unknown>> }): Promise<Outcome> {
  const { path, key } = byAlternateKey(context);
  // The alternate key travels in the URL; Dataverse sets it on a created record.
  const body: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(context.record)) if (name !== key) body[name] = value;
  const response = await context.http.request({ method: 'PATCH', path, body, headers: ODATA_HEADERS });
  if (response.status === 204 || response.status === 200 || response.status === 201) {
    const id = entityIdFrom(response.headers['odata-entityid']) ?? context.crmId;
    // A 204 does not say whether the upsert created the record.
    return response.status === 201 ? delivered(id, true) : delivered(id);
  }
  return readError(response) ?? fatal('RECSYNC_ERR_CRM_REJECTED', describe(response), response.status);
}

export default defineConnector({
  upsert,

  async delete(context) {
    const path = context.crmId !== undefined && GUID.test(context.crmId)
      ? `${API_PATH}/${entitySetOf(context)}(${context.crmId})`
      : byAlternateKey(context).path;
    const response = await context.http.request({ method: 'DELETE', path, headers: ODATA_HEADERS });
    // Deleted already, or never there: the state we want.
    if (response.status === 404) return delivered();
    return readError(response) ?? delivered();
  },
});
