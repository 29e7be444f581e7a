import type { StagePlugin } from '../runtime/pipeline.ts';
import type { RecordStore } from '../runtime/records/record-store.ts';
import { deletedFingerprint, fingerprint } from '../runtime/sync/two-way.ts';

/**
 * Outbound, just before the send: remembers a fingerprint of what is about to be written, so that
 * the webhook this write causes is recognised as our own echo and not sent back. Written before
 * the request, because the CRM may announce the change before it answers us.
 */
export function rememberWrite(store: RecordStore): StagePlugin {
  return {
    name: 'fingerprint',
    stage: (next) => async (context) => {
      const inbound = context.connector.inbound?.objects.get(context.object);
      if (inbound) {
        const print = context.action === 'delete' ? deletedFingerprint : fingerprint(inbound.properties, context.record ?? {});
        await store.addFingerprint({ connector: context.connector.name, tenant: context.tenant, object: context.object, recordId: context.recordId }, print);
      }
      return next(context);
    },
  };
}
