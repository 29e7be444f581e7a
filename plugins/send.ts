import type { ConnectorVersion } from '../runtime/connectors/load-connector.ts';
import type { Credentials } from '../runtime/credentials.ts';
import { isRecsyncError } from '../runtime/errors.ts';
import { TransportError } from '../runtime/http-client.ts';
import type { StagePlugin } from '../runtime/pipeline.ts';
import type { HttpClient, SendContext } from '../runtime/sdk/index.ts';

export interface ConnectorSession {
  http: HttpClient;
  credentials: Credentials;
}

/**
 * The last stage: hands the mapped record to the connector's code, which speaks the CRM's dialect
 * and returns an outcome. A refused token is replaced and the record sent once more (oauth2); a
 * request that got no answer becomes a retry; a connector that throws is a bug, reported as a
 * retryable error so the change is not lost.
 */
export function send(sessionOf: (connector: ConnectorVersion) => ConnectorSession): StagePlugin {
  return {
    name: 'send',
    stage: () => async (context) => {
      const { http, credentials } = sessionOf(context.connector);
      const base: SendContext = {
        object: context.object,
        options: context.plan.options,
        tenant: context.tenant,
        recordId: context.recordId,
        version: context.version,
        http,
      };
      if (context.crmId !== undefined) base.crmId = context.crmId;
      const call = () =>
        context.action === 'delete'
          ? context.connector.connector.delete(context.record === undefined ? base : { ...base, record: context.record })
          : context.connector.connector.upsert({ ...base, record: context.record ?? {} });
      try {
        const { generation } = await credentials.authorization();
        const outcome = await call();
        if (outcome.kind !== 'reauthenticate') return outcome;
        if (credentials.refreshable) {
          credentials.invalidate(generation);
          const again = await call();
          if (again.kind !== 'reauthenticate') return again;
        }
        return { kind: 'fatal', code: 'RECSYNC_ERR_CRM_AUTH', message: outcome.message, ...(outcome.status === undefined ? {} : { status: outcome.status }) };
      } catch (error) {
        if (error instanceof TransportError) return { kind: 'retry', code: error.code, message: error.message };
        if (isRecsyncError(error) && error.code === 'RECSYNC_ERR_CRM_AUTH') return { kind: 'fatal', code: error.code, message: error.message };
        if (isRecsyncError(error)) return { kind: 'retry', code: error.code, message: error.message };
        return { kind: 'retry', code: 'RECSYNC_ERR_CONNECTOR_BUG', message: `${context.connector.name} connector threw: ${(error as Error).message}` };
      }
    },
  };
}
