import type { InboundPlan } from '../runtime/connectors/load-connector.ts';
import { isRecsyncError } from '../runtime/errors.ts';
import { TransportError } from '../runtime/http-client.ts';
import type { Outcome, StagePlugin } from '../runtime/pipeline.ts';
import type { ConnectorSession } from './send.ts';
import type { ConnectorVersion } from '../runtime/connectors/load-connector.ts';

/**
 * Inbound: reads the changed object from the CRM through the connector's session (its
 * credentials, timeout and, in front of this stage, its rate budget and breaker). A webhook says
 * only that something changed; the object as it is now is what goes on, so a burst of events for
 * one record costs one read, and a late or duplicated event can only bring the newest state.
 * Sets `payload` (the CRM object, or null when it is gone without a trace), `action` and `ourRecordId`.
 * Ends the read part of the inbound pipeline with `delivered` (read) or the read's failure.
 */
export function readBack(sessionOf: (connector: ConnectorVersion) => ConnectorSession): StagePlugin {
  return {
    name: 'read-back',
    stage: () => async (context): Promise<Outcome> => {
      const inbound = context.connector.connector.inbound;
      if (!inbound) return { kind: 'fatal', code: 'RECSYNC_ERR_CONNECTOR_BUG', message: `${context.connector.name} connector has no inbound support` };
      const plan = context.plan as InboundPlan;
      try {
        const result = await inbound.fetch({ object: context.object, options: plan.options, crmId: context.recordId, properties: plan.properties, http: sessionOf(context.connector).http });
        if (result.kind === 'found' || result.kind === 'gone') {
          context.payload = result.object ?? null;
          context.action = result.kind === 'gone' ? 'delete' : 'upsert';
          context.ourRecordId = result.recordId ?? `crm-${context.recordId}`;
          return { kind: 'delivered' };
        }
        if (result.kind === 'reauthenticate') return { kind: 'fatal', code: 'RECSYNC_ERR_CRM_AUTH', message: result.message };
        if (result.kind === 'delivered') return { kind: 'fatal', code: 'RECSYNC_ERR_CONNECTOR_BUG', message: `${context.connector.name} connector's inbound.fetch answered "delivered" instead of found or gone` };
        return result;
      } catch (error) {
        if (error instanceof TransportError) return { kind: 'retry', code: error.code, message: error.message };
        if (isRecsyncError(error)) return { kind: 'retry', code: error.code, message: error.message };
        return { kind: 'retry', code: 'RECSYNC_ERR_CONNECTOR_BUG', message: `${context.connector.name} connector's inbound.fetch threw: ${(error as Error).message}` };
      }
    },
  };
}
