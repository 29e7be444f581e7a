import { defineConnector, delivered, outcomeFromStatus, type HttpResponse, type Outcome, type SendContext } from '../../sdk/index.ts';

/**
 * Starter's REST API: `PUT /v1/{collection}/by-external-id/{recordId}` creates or updates the object
 * whose external id is our record id (201 created, 200 updated), so a retried create never makes a
 * second object. Deletes go by the stored CRM id, or by the external id when none is stored.
 * Errors are `{error: {code, message}}`; a 429 carries Retry-After.
 */

function collectionOf(context: SendContext): string {
  const collection = context.options['collection'];
  // A missing option is a configuration bug: throwing reports RECSYNC_ERR_CONNECTOR_BUG.
  if (typeof collection !== 'string' || !/^[a-z][a-z0-9_-]*$/.test(collection)) throw new Error(`object "${context.object}" needs options.collection`);
  return collection;
}

/** The CRM's own words, for lastError and the dead-letter queue. */
function describe(response: HttpResponse): string {
  const error = (response.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return `Starter ${response.status}${error ? ` ${error.code ?? ''}: ${error.message ?? ''}` : ''}`;
}

async function upsert(context: SendContext & { record: Readonly<Record<string, unknown>> }): Promise<Outcome> {
  const response = await context.http.request({
    method: 'PUT',
    path: `/v1/${collectionOf(context)}/by-external-id/${encodeURIComponent(context.recordId)}`,
    body: context.record,
  });
  if (response.status === 200 || response.status === 201) {
    const id = (response.body as { id?: unknown } | undefined)?.id;
    return delivered(typeof id === 'string' ? id : context.crmId, response.status === 201);
  }
  // 429 (with Retry-After) holds the account back, 5xx is retried, 401 and other 4xx are final.
  return outcomeFromStatus(response, describe(response));
}

export default defineConnector({
  upsert,

  async delete(context) {
    const base = `/v1/${collectionOf(context)}`;
    const path = context.crmId === undefined ? `${base}/by-external-id/${encodeURIComponent(context.recordId)}` : `${base}/${encodeURIComponent(context.crmId)}`;
    const response = await context.http.request({ method: 'DELETE', path });
    // Already gone, or never there: the state we want.
    if (response.status === 404) return delivered();
    return outcomeFromStatus(response, describe(response));
  },
});
