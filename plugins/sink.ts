import type { ConnectorVersion } from '../runtime/connectors/load-connector.ts';
import { TransportError, type ClosableHttpClient } from '../runtime/http-client.ts';
import type { Outcome, StagePlugin } from '../runtime/pipeline.ts';
import type { RecordStore } from '../runtime/records/record-store.ts';
import { outcomeFromStatus } from '../runtime/sdk/index.ts';

/** What your system receives for every change that comes back from the CRM (docs/guides/two-way-sync.md). */
export interface SinkDelivery {
  connector: string;
  tenant: string;
  object: string;
  /** Our id of the record (the one producers use), or `crm-<crmId>` for an object created in the CRM. */
  recordId: string;
  crmId: string;
  action: 'upsert' | 'delete';
  /** When the change happened at the CRM (ms since the epoch); increasing per record. */
  version: number;
  /** The CRM object mapped to our model; null for a delete of an object the CRM no longer shows. */
  record: Record<string, unknown> | null;
}

/**
 * Inbound, the last stage: hands the mapped change to your system's HTTP endpoint. Its answer is
 * read like a CRM's (2xx delivered; 408, 425, 5xx retried with the manifest's backoff; 429 waits;
 * other 4xx to the dead-letter queue of the way back). The `idempotency-key` header is the same
 * for every attempt of one version, so the endpoint can drop repeats.
 */
export function deliverToSink(sinkOf: (connector: ConnectorVersion) => ClosableHttpClient, store: RecordStore): StagePlugin {
  return {
    name: 'sink',
    stage: () => async (context): Promise<Outcome> => {
      const delivery: SinkDelivery = {
        connector: context.connector.name,
        tenant: context.tenant,
        object: context.object,
        recordId: context.ourRecordId ?? `crm-${context.recordId}`,
        crmId: context.recordId,
        action: context.action,
        version: context.version,
        record: context.record ?? null,
      };
      try {
        const response = await sinkOf(context.connector).request({
          method: 'POST',
          path: '',
          body: delivery,
          headers: { 'idempotency-key': `${context.connector.name}/${encodeURIComponent(context.object)}/${encodeURIComponent(context.recordId)}@${context.version}` },
        });
        const outcome = outcomeFromStatus(response, `the sink answered ${response.status}`);
        if (outcome.kind === 'delivered') {
          await store.countSync(context.connector.name, 'toSink');
          return { kind: 'delivered', crmId: context.recordId };
        }
        if (outcome.kind === 'reauthenticate') return { kind: 'fatal', code: 'RECSYNC_ERR_CRM_AUTH', message: outcome.message, status: response.status };
        return outcome;
      } catch (error) {
        if (error instanceof TransportError) return { kind: 'retry', code: error.code, message: `sink: ${error.message}` };
        throw error;
      }
    },
  };
}
