import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import type { Outcome, Handler, TaskContext } from '../pipeline.ts';
import { messagingAttributes, type ProcessResult, type RecordJob } from '../queue/record-queue.ts';
import type { RecordRef, RecordStore, Claimed } from '../records/record-store.ts';
import type { ConnectorVersion, ObjectPlan, RetryPolicy } from '../connectors/load-connector.ts';
import { attemptKey, attr, contextOf, noSpan, tracer, tracingOn } from '../tracing.ts';
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
 *
 * Each claimed version is processed under a consumer span whose parent is the producer span of
 * the task that brought that version (its traceparent is kept in the record state): every run of
 * the job for one version, waits and retries included, lands in that task's trace.
 */
export function createRecordProcessor(
  connector: string,
  deps: {
    registry: ConnectorRegistry;
    store: RecordStore;
    pipeline: Handler;
    /**
     * The configuration and object plan a job runs with. Default: the connector's own (outbound).
     * The way back runs the queue `<name>.in` with connector `<name>`'s inbound plans.
     */
    metrics?: Metrics;
    resolve?: (registry: ConnectorRegistry, object: string) => { version: ConnectorVersion; plan: ObjectPlan | undefined } | undefined;
  },
) {
  const { registry, store, pipeline, metrics } = deps;
  const count = (outcome: TaskOutcome) => metrics?.tasks.inc({ connector, outcome });
  const resolve =
    deps.resolve ??
    ((r: ConnectorRegistry, object: string) => {
      const version = r.get(connector);
      return version && { version, plan: version.objects.get(object) };
    });
  return async function processRecordJob(job: RecordJob): Promise<ProcessResult> {
    const ref: RecordRef = { connector, tenant: job.data.tenant, object: job.data.object, recordId: job.data.recordId };
    // The consumer span starts when the worker picked the job up, though its parent is known only
    // once the claim has read the version's traceparent.
    let pickedUp = performance.now();
    for (let run = 0; run < maxVersionsPerRun; run += 1) {
      const resolved = resolve(registry, ref.object);
      if (!resolved) return { kind: 'delay', ms: unavailableWaitMs };
      const { version, plan } = resolved;
      const claim = await store.claim(ref, job.data.seq, { stalls: job.stalls, lateWriteWindowMs: version.retry.lateWriteWindowMs });
      if (claim.kind !== 'work') return { kind: 'done' };
      const { claimed } = claim;
      const traced = tracingOn();
      const span = traced ? consumerSpan(ref, claimed, version.version, job, run === 0, pickedUp) : noSpan;
      const runOnce = async () => {
        const outcome: Outcome = plan
          ? await pipeline(taskContextOf(ref, claimed, version, plan, job.id))
          : { kind: 'fatal', code: 'RECSYNC_ERR_UNKNOWN_OBJECT', message: `connector ${connector} (version ${version.version}) has no object "${ref.object}"` };
        return settle(ref, claimed, outcome, version.version, version.retry, job, span);
      };
      try {
        // Tracing off: no span to make active, so no context to build and enter.
        const next = traced ? await context.with(trace.setSpan(context.active(), span).setValue(attemptKey, claimed.attempts + 1), runOnce) : await runOnce();
        if (next !== 'continue') return next;
      } catch (error) {
        span.recordException({ name: (error as Error).name, message: (error as { code?: string }).code ?? (error as Error).name });
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'the record job threw' });
        throw error;
      } finally {
        span.end();
      }
      pickedUp = performance.now();
    }
    return { kind: 'delay', ms: 0 };
  };

  function consumerSpan(ref: RecordRef, claimed: Claimed, configVersion: string, job: RecordJob, firstRun: boolean, startTime: number): Span {
    const messaging = messagingAttributes(connector, 'process');
    const span = tracer().startSpan(
      `process ${messaging['messaging.destination.name']}`,
      {
        kind: SpanKind.CONSUMER,
        startTime,
        attributes: {
          ...messaging,
          'messaging.message.id': job.id,
          [attr.connector]: connector,
          [attr.tenant]: ref.tenant,
          [attr.object]: ref.object,
          [attr.recordId]: ref.recordId,
          [attr.version]: claimed.version,
          [attr.attempt]: claimed.attempts + 1,
          [attr.configVersion]: configVersion,
          'recsync.job.starts': job.attemptsStarted,
        },
      },
      contextOf(claimed.traceparent),
    );
    // Time in the queue before this start: measurable for a job's first start (later starts follow
    // a wait or backoff the previous consumer span states in recsync.delay_ms).
    if (firstRun && job.attemptsStarted <= 1 && job.createdAt !== undefined) span.setAttribute('recsync.queue.wait_ms', Math.max(0, Date.now() - job.createdAt));
    return span;
  }

  async function settle(
    ref: RecordRef,
    claimed: Claimed,
    outcome: Outcome,
    configVersion: string,
    retryPolicy: RetryPolicy,
    job: RecordJob,
    span: Span,
  ): Promise<ProcessResult | 'continue'> {
    const tooOld = Date.now() - claimed.acceptedAt > retryPolicy.maxAgeMs;
    // The consumer span says what became of this run: the outcome word, and the delay or error code.
    const delay = (outcome: 'unsettled' | 'wait' | 'retry', ms: number, more: Record<string, string> = {}): ProcessResult => {
      span.setAttributes({ [attr.outcome]: outcome, 'recsync.delay_ms': Math.max(0, Math.ceil(ms)), ...more });
      return { kind: 'delay', ms };
    };
    switch (outcome.kind) {
      case 'delivered': {
        // An earlier request of this record timed out and may still land, late, with older data:
        // the record is settled only once that can no longer happen, by sending the newest again.
        const unsettledMs = (claimed.uncertainUntil ?? 0) - Date.now();
        if (unsettledMs > 0) return delay('unsettled', unsettledMs);
        span.setAttribute(attr.outcome, 'delivered');
        const more = await store.complete(ref, claimed.version, claimed.action, outcome.crmId);
        count('delivered');
        metrics?.endToEnd.observe({ connector }, Math.max(0, Date.now() - claimed.acceptedAt) / 1000);
        return more ? 'continue' : { kind: 'done' };
      }
      case 'skipped': {
        span.setAttributes({ [attr.outcome]: 'skipped', 'recsync.sync.decision': `${outcome.decision.kind}:${outcome.decision.winner}` });
        await store.decide(ref, outcome.decision);
        return (await store.complete(ref, claimed.version, claimed.action, undefined, true)) ? 'continue' : { kind: 'done' };
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
        return delay('wait', ms, { 'recsync.wait.reason': reason });
      }
      case 'retry': {
        const error = errorOf(outcome);
        span.setAttribute(attr.errorCode, outcome.code);
        const mayLandLate = outcome.code === 'RECSYNC_ERR_CRM_TIMEOUT' || outcome.code === 'RECSYNC_ERR_CRM_NETWORK';
        const spent = await store.retry(ref, claimed.version, error, mayLandLate ? Date.now() + retryPolicy.lateWriteWindowMs : undefined);
        if (spent < 0) {
          span.setAttribute(attr.outcome, 'superseded');
          return 'continue';
        }
        const decision = decideRetry(retryPolicy, spent, outcome.afterMs);
        if (decision.retry && tooOld) return expire(`retrying (${outcome.code})`);
        if (decision.retry) {
          count('retried');
          return delay('retry', decision.waitMs);
        }
        return deadLetter({ ...error, code: 'RECSYNC_ERR_ATTEMPTS_EXHAUSTED', lastCode: outcome.code, attempts: spent });
      }
      case 'fatal':
        return deadLetter(errorOf(outcome));
      case 'reauthenticate':
        // The send stage refreshes and resends once; a refusal that reaches here is final.
        return deadLetter(errorOf({ kind: 'fatal', code: 'RECSYNC_ERR_CRM_AUTH', message: outcome.message, ...(outcome.status === undefined ? {} : { status: outcome.status }) }));
    }

    async function expire(while_: string): Promise<ProcessResult | 'continue'> {
      const message = `not delivered within retry.maxAge (${retryPolicy.maxAgeMs} ms) of being accepted; it was ${while_}`;
      return deadLetter({ code: 'RECSYNC_ERR_ATTEMPTS_EXHAUSTED', message, at: new Date().toISOString() });
    }

    async function deadLetter(error: Record<string, unknown>): Promise<ProcessResult | 'continue'> {
      const code = String(error['code']);
      span.setAttributes({ [attr.outcome]: 'dead-lettered', [attr.errorCode]: code });
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      const traced = span.spanContext();
      const traceId = span.isRecording() ? traced.traceId : undefined;
      const more = await store.deadLetter(ref, claimed, error, { configVersion, jobId: job.id, ...(traceId === undefined ? {} : { traceId }) });
      count('dead_lettered');
      return more ? 'continue' : { kind: 'done' };
    }
  }
}

function taskContextOf(ref: RecordRef, claimed: Claimed, connector: TaskContext['connector'], plan: TaskContext['plan'], holder: string): TaskContext {
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
    acceptedAt: claimed.acceptedAt,
    holder,
  };
}

function errorOf(outcome: Extract<Outcome, { kind: 'retry' | 'fatal' }>): Record<string, unknown> {
  const error: Record<string, unknown> = { code: outcome.code, message: outcome.message, at: new Date().toISOString() };
  if (outcome.status !== undefined) error['status'] = outcome.status;
  if ('details' in outcome && outcome.details) error['details'] = outcome.details;
  return error;
}
