import type { StagePlugin } from '../runtime/pipeline.ts';
import type { RecordStore } from '../runtime/records/record-store.ts';
import { deletedFingerprint, fingerprint } from '../runtime/sync/two-way.ts';

/**
 * Outbound, right before the send, for objects that come back (`inbound`):
 *
 * - remembers a fingerprint of what is about to be written, so that the webhook this write causes
 *   is recognised as our own echo. Written before the request: the CRM may announce the change
 *   before it answers us.
 * - marks the write as on its way, then reads the conflict decision of the way back: a version of
 *   ours that lost a conflict to the CRM is not sent (it finishes superseded). The way back writes
 *   its decision, then looks for this mark (plugins/conflict.ts). Each side writes before it reads,
 *   so at least one of them sees the other: our write is never sent after the CRM won.
 */
export function twoWayGuard(store: RecordStore): StagePlugin {
  return {
    name: 'two-way',
    stage: (next) => async (context) => {
      const inbound = context.connector.inbound?.objects.get(context.object);
      if (!inbound) return next(context);
      const ref = { connector: context.connector.name, tenant: context.tenant, object: context.object, recordId: context.recordId };
      // One round trip instead of three: the commands go out back to back on one connection (one
      // node: the keys share the record's hash tag), so the write mark still lands before the
      // decision is read, as the handshake with the way back requires.
      const [, , decision] = await Promise.all([
        store.addFingerprint(ref, context.action === 'delete' ? deletedFingerprint : fingerprint(inbound.properties, context.record ?? {})),
        store.beginWrite(ref, context.connector.timeoutMs * 3),
        store.decision(ref),
      ]);
      try {
        const lost = decision?.kind === 'conflict' && decision.winner === 'crm' && decision.oursAcceptedAt !== undefined && context.acceptedAt <= decision.oursAcceptedAt;
        if (lost) {
          await store.countSync(context.connector.name, 'oursYielded');
          return { kind: 'skipped', decision: { ...decision, version: context.version } };
        }
        return await next(context);
      } finally {
        await store.endWrite(ref);
      }
    },
  };
}
