import { defineConnector, delivered, fatal, retry, type HttpClient, type Outcome, type SendContext } from '../../runtime/sdk/index.ts';
import { hubspotInbound } from './inbound.ts';
import { describe, readError, type HubSpotError } from './read-error.ts';

export { readError } from './read-error.ts';

/**
 * HubSpot CRM v3 objects. A record without a known HubSpot id is written with batch upsert by its
 * `idProperty` (email for contacts, the unique `recsync_id` for companies), so a retried create
 * never makes a second object; a known id is updated with PATCH. Deletes archive the object.
 */

interface BatchResult {
  results?: Array<{ id: string; new?: boolean }>;
  errors?: HubSpotError[];
}

function objectPath(context: SendContext): string {
  const type = context.options['type'];
  if (typeof type !== 'string' || !/^[a-z0-9_-]+$/.test(type)) throw new Error(`object "${context.object}" needs options.type (e.g. contacts)`);
  return `/crm/v3/objects/${type}`;
}

function idPropertyOf(context: SendContext): string {
  const idProperty = context.options['idProperty'];
  return typeof idProperty === 'string' ? idProperty : 'email';
}

async function upsertById(context: SendContext, record: Readonly<Record<string, unknown>>): Promise<Outcome> {
  const idProperty = idPropertyOf(context);
  const idValue = record[idProperty];
  if (typeof idValue !== 'string' || idValue === '') {
    return fatal('RECSYNC_ERR_CRM_REJECTED', `the mapped record has no "${idProperty}" to upsert by (options.idProperty of object ${context.object})`);
  }
  const response = await context.http.request({
    method: 'POST',
    path: `${objectPath(context)}/batch/upsert`,
    body: { inputs: [{ idProperty, id: idValue, properties: record, objectWriteTraceId: `${context.recordId}@${context.version}` }] },
  });
  const body = (response.body ?? {}) as BatchResult;
  if (response.status === 200 || response.status === 201) {
    const result = body.results?.[0];
    if (result) return delivered(result.id, result.new ?? false);
    return retry('RECSYNC_ERR_CRM_RETRYABLE', `HubSpot ${response.status}: batch upsert answered without a result`, { status: response.status });
  }
  if (response.status === 207) {
    const error = body.errors?.[0];
    return readError({ ...response, status: 400, body: error ?? body }) ?? fatal('RECSYNC_ERR_CRM_REJECTED', describe(response), 207);
  }
  return readError(response)!;
}

async function update(context: SendContext & { crmId: string }, record: Readonly<Record<string, unknown>>): Promise<Outcome> {
  const response = await context.http.request({ method: 'PATCH', path: `${objectPath(context)}/${encodeURIComponent(context.crmId)}`, body: { properties: record } });
  // Archived or merged away in HubSpot: write it again by its id property.
  if (response.status === 404) return upsertById(context, record);
  return readError(response) ?? delivered(context.crmId, false);
}

async function archive(http: HttpClient, path: string, crmId: string): Promise<Outcome> {
  const response = await http.request({ method: 'DELETE', path: `${path}/${encodeURIComponent(crmId)}` });
  // Already archived or never there: the CRM is in the state we want.
  if (response.status === 404) return delivered();
  return readError(response) ?? delivered();
}

export default defineConnector({
  async upsert(context) {
    const { crmId, record } = context;
    return crmId === undefined ? upsertById(context, record) : update({ ...context, crmId }, record);
  },

  async delete(context) {
    const path = objectPath(context);
    if (context.crmId !== undefined) return archive(context.http, path, context.crmId);
    // Never delivered by us, but the payload names the object: find it by its id property.
    const idProperty = idPropertyOf(context);
    const idValue = context.record?.[idProperty];
    if (typeof idValue !== 'string' || idValue === '') return delivered();
    const found = await context.http.request({ method: 'GET', path: `${path}/${encodeURIComponent(idValue)}`, query: { idProperty } });
    if (found.status === 404) return delivered();
    const error = readError(found);
    if (error) return error;
    return archive(context.http, path, String((found.body as { id: string }).id));
  },

  inbound: hubspotInbound,
});
