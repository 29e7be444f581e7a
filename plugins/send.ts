import type { ConnectorVersion } from '../runtime/connectors/load-connector.ts';
import { TransportError } from '../runtime/http-client.ts';
import type { StagePlugin } from '../runtime/pipeline.ts';
import type { HttpClient, SendContext } from '../runtime/sdk/index.ts';

/**
 * The last stage: hands the mapped record to the connector's code, which speaks the CRM's dialect
 * and returns an outcome. A request that got no answer becomes a retry; a connector that throws
 * is a bug, reported as a retryable error so the change is not lost.
 */
export function send(httpOf: (connector: ConnectorVersion) => HttpClient): StagePlugin {
  return {
    name: 'send',
    stage: () => async (context) => {
      const base: SendContext = {
        object: context.object,
        options: context.plan.options,
        tenant: context.tenant,
        recordId: context.recordId,
        version: context.version,
        http: httpOf(context.connector),
      };
      if (context.crmId !== undefined) base.crmId = context.crmId;
      try {
        if (context.action === 'delete') {
          return await context.connector.connector.delete(context.record === undefined ? base : { ...base, record: context.record });
        }
        return await context.connector.connector.upsert({ ...base, record: context.record ?? {} });
      } catch (error) {
        if (error instanceof TransportError) return { kind: 'retry', code: error.code, message: error.message };
        return { kind: 'retry', code: 'RECSYNC_ERR_CONNECTOR_BUG', message: `${context.connector.name} connector threw: ${(error as Error).message}` };
      }
    },
  };
}
