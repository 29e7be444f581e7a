import type { InboundPlan } from '../runtime/connectors/load-connector.ts';
import type { StagePlugin } from '../runtime/pipeline.ts';
import type { RecordStatus, RecordStore, SyncDecision } from '../runtime/records/record-store.ts';
import { conflictWinner, deletedFingerprint, fingerprint, inboundName } from '../runtime/sync/two-way.ts';

/** How long a CRM change waits while our own write of the same record may be on the wire. */
export const inFlightWaitMs = 250;

/**
 * Inbound, after the CRM object was read back: a change whose state is exactly what we last wrote
 * (by the fingerprints the outbound side keeps) is our own echo, and goes no further.
 */
export function suppressEcho(store: RecordStore): StagePlugin {
  return {
    name: 'echo',
    stage: (next) => async (context) => {
      const plan = context.plan as InboundPlan;
      const ours = { connector: context.connector.name, tenant: context.tenant, object: context.object, recordId: context.ourRecordId ?? '' };
      const written = await store.fingerprints(ours);
      if (written.length === 0) return next(context);
      const properties = ((context.payload as { properties?: Record<string, unknown> } | null)?.properties ?? {}) as Record<string, unknown>;
      const now = context.action === 'delete' ? deletedFingerprint : fingerprint(plan.properties, properties);
      if (!written.includes(now)) return next(context);
      await store.countSync(context.connector.name, 'echoesSuppressed');
      return { kind: 'skipped', decision: { kind: 'echo', winner: 'ours', version: context.version, at: Date.now() } };
    },
  };
}

/**
 * Inbound: the CRM changed a record while a change of ours to it is still owed. The object's
 * policy decides, and the decision is written on our record, where the outbound side reads it
 * right before sending (plugins/fingerprint.ts): the CRM's win skips our owed version; our win
 * skips the CRM's change (our write will overwrite it). While our write is on the wire, the
 * change waits for it to land and is then read back again.
 */
export function decideConflict(store: RecordStore): StagePlugin {
  return {
    name: 'conflict',
    stage: (next) => async (context) => {
      if (context.ourRecordId === undefined) return next(context);
      const ours = { connector: context.connector.name, tenant: context.tenant, object: context.object, recordId: context.ourRecordId };
      const status = await store.status(ours);
      if (!status || (!status.pending && status.inFlightVersion === null)) return next(context);
      const policy = (context.plan as InboundPlan).conflict;
      const oursAcceptedAt = Date.parse(status.acceptedAt ?? '') || 0;
      const winner = conflictWinner(policy, context.version, oursAcceptedAt);
      const decision: SyncDecision = { kind: 'conflict', winner, policy, crmChangedAt: context.version, oursAcceptedAt, version: context.version, at: Date.now() };
      await store.decide(ours, decision);
      // Our write may be on the wire (it marked itself before it read the decision, so it may not
      // have seen it), or may have landed since the status above was read: either way, wait, then
      // read the CRM object again and decide on what the CRM holds then.
      if (await store.writing(ours)) return { kind: 'wait', ms: inFlightWaitMs, reason: 'conflict' };
      const again = await store.status(ours);
      if (!again || progress(again) !== progress(status)) return { kind: 'wait', ms: inFlightWaitMs, reason: 'conflict' };
      await store.countSync(context.connector.name, `conflicts.${winner}`);
      if (winner === 'ours') return { kind: 'skipped', decision };
      await store.decide({ connector: inboundName(context.connector.name), tenant: context.tenant, object: context.object, recordId: context.recordId }, decision);
      return next(context);
    },
  };
}

/** What moves when our side makes progress on a record: a new version, a claim, a delivery. */
function progress(status: RecordStatus): string {
  return `${status.latestVersion}|${status.acceptedAt}|${status.pending}|${status.inFlightVersion}|${status.deliveredVersion}`;
}
