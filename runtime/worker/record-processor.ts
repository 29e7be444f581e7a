import type { ConnectorRegistry } from '../connectors/registry.ts';
import type { Outcome, Handler, TaskContext } from '../pipeline.ts';
import type { ProcessResult, RecordJob } from '../queue/record-queue.ts';
import type { RecordRef, RecordStore, Claimed } from '../records/record-store.ts';
import type { RetryPolicy } from '../connectors/load-connector.ts';
import type { Metrics, TaskOutcome } from '../metrics.ts';
import { decideRetry } from './retry-policy.ts';

/** How long a record waits when its connector has no loaded configuration. */
export const unavailableWaitMs = 5_000;
/** Versions of one record sent in one run before the job yields its worker slot to others. */
const maxVersionsPerRun = 20;

/**
 * Runs one record job: claims the record's newest version, runs it through the pipeline, and turns
 * the outcome into the record's next state. Level-triggered: the job carries only the record's
 * address, so a burst of changes collapses into one CRM call with the newest data, and a retry
 * always sends the newest version.
 */
export function createRecordProcessor(connector: string, deps: { registry: ConnectorRegistry; store: RecordStore; pipeline: Handler; metrics?: Metrics }) {
  const { registry, store, pipeline, metrics } = deps;
  const count = (outcome: TaskOutcome) => metrics?.tasks.inc({ connector, outcome });
  return async function processRecordJob(job: RecordJob): Promise<ProcessResult> {
    const ref: RecordRef = { connector, tenant: job.data.tenant, object: job.data.object, recordId: job.data.recordId };
    for (let run = 0; run < maxVersionsPerRun; run += 1) {
      const version = registry.get(connector);
      if (!version) return { kind: 'delay', ms: unavailableWaitMs };
      const claim = await store.claim(ref, job.data.seq, { stalls: job.stalls, lateWriteWindowMs: version.retry.lateWriteWindowMs });
      if (claim.kind !== 'work') return { kind: 'done' };
      const { claimed } = claim;
      const plan = version.objects.get(ref.object);
      const outcome: Outcome = plan
        ? await pipeline(contextOf(ref, claimed, version, plan, job.id))
        : { kind: 'fatal', code: 'RECSYNC_ERR_UNKNOWN_OBJECT', message: `connector ${connector} (version ${version.version}) has no object "${ref.object}"` };
      const next = await settle(ref, claimed, outcome, version.version, version.retry, job);
      if (next !== 'continue') return next;
    }
    return { kind: 'delay', ms: 0 };
  };

  async function settle(
    ref: RecordRef,
    claimed: Claimed,
    outcome: Outcome,
    configVersion: string,
    retryPolicy: RetryPolicy,
    job: RecordJob,
  ): Promise<ProcessResult | 'continue'> {
    const tooOld = Date.now() - claimed.acceptedAt > retryPolicy.maxAgeMs;
    switch (outcome.kind) {
      case 'delivered': {
        // An earlier request of this record timed out and may still land, late, with older data:
        // the record is settled only once that can no longer happen, by sending the newest again.
        const unsettledMs = (claimed.uncertainUntil ?? 0) - Date.now();
        if (unsettledMs > 0) return { kind: 'delay', ms: unsettledMs };
        const more = await store.complete(ref, claimed.version, claimed.action, outcome.crmId);
        count('delivered');
        metrics?.endToEnd.observe({ connector }, Math.max(0, Date.now() - claimed.acceptedAt) / 1000);
        return more ? 'continue' : { kind: 'done' };
      }
      case 'wait':
      case 'rate-limited': {
        if (tooOld) return expire(outcome.kind === 'wait' ? `waiting (${outcome.reason})` : 'throttled by the CRM');
        // The limit stage turns CRM throttling into waits; reaching here means no limit stage ran.
        const ms = outcome.kind === 'wait' ? outcome.ms : (outcome.afterMs ?? 10_000);
        const reason = outcome.kind === 'wait' ? outcome.reason : 'crm-throttle';
        count('waited');
        metrics?.waits.inc({ connector, reason });
        metrics?.waitSeconds.inc({ connector, reason }, ms / 1000);
        return { kind: 'delay', ms };
      }
      case 'retry': {
        const error = errorOf(outcome);
        const mayLandLate = outcome.code === 'RECSYNC_ERR_CRM_TIMEOUT' || outcome.code === 'RECSYNC_ERR_CRM_NETWORK';
        const spent = await store.retry(ref, claimed.version, error, mayLandLate ? Date.now() + retryPolicy.lateWriteWindowMs : undefined);
        if (spent < 0) return 'continue';
        const decision = decideRetry(retryPolicy, spent, outcome.afterMs);
        if (decision.retry && tooOld) return expire(`retrying (${outcome.code})`);
        if (decision.retry) {
          count('retried');
          return { kind: 'delay', ms: decision.waitMs };
        }
        return (await deadLetter(ref, claimed, { ...error, code: 'RECSYNC_ERR_ATTEMPTS_EXHAUSTED', lastCode: outcome.code, attempts: spent }, configVersion, job)) ? 'continue' : { kind: 'done' };
      }
      case 'fatal':
        return (await deadLetter(ref, claimed, errorOf(outcome), configVersion, job)) ? 'continue' : { kind: 'done' };
      case 'reauthenticate':
        // The send stage refreshes and resends once; a refusal that reaches here is final.
        return (await deadLetter(ref, claimed, errorOf({ kind: 'fatal', code: 'RECSYNC_ERR_CRM_AUTH', message: outcome.message, ...(outcome.status === undefined ? {} : { status: outcome.status }) }), configVersion, job)) ? 'continue' : { kind: 'done' };
    }

    async function expire(while_: string): Promise<ProcessResult | 'continue'> {
      const message = `not delivered within retry.maxAge (${retryPolicy.maxAgeMs} ms) of being accepted; it was ${while_}`;
      return (await deadLetter(ref, claimed, { code: 'RECSYNC_ERR_ATTEMPTS_EXHAUSTED', message, at: new Date().toISOString() }, configVersion, job)) ? 'continue' : { kind: 'done' };
    }
  }

  async function deadLetter(ref: RecordRef, claimed: Claimed, error: Record<string, unknown>, configVersion: string, job: RecordJob): Promise<boolean> {
    const more = await store.deadLetter(ref, claimed, error, { configVersion, jobId: job.id });
    count('dead_lettered');
    return more;
  }
}

function contextOf(ref: RecordRef, claimed: Claimed, connector: TaskContext['connector'], plan: TaskContext['plan'], holder: string): TaskContext {
  return {
    connector,
    plan,
    tenant: ref.tenant,
    object: ref.object,
    recordId: ref.recordId,
    version: claimed.version,
    action: claimed.action,
    payload: claimed.payload,
    crmId: claimed.crmId,
    attempts: claimed.attempts,
    holder,
  };
}

function errorOf(outcome: Extract<Outcome, { kind: 'retry' | 'fatal' }>): Record<string, unknown> {
  const error: Record<string, unknown> = { code: outcome.code, message: outcome.message, at: new Date().toISOString() };
  if (outcome.status !== undefined) error['status'] = outcome.status;
  if ('details' in outcome && outcome.details) error['details'] = outcome.details;
  return error;
}
