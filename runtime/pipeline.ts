import { SpanStatusCode } from '@opentelemetry/api';
import type { ConnectorVersion, ObjectPlan } from './connectors/load-connector.ts';
import type { ErrorCode, ErrorDetail } from './errors.ts';
import type { Action } from './records/record-store.ts';
import type { Outcome as ConnectorOutcome } from './sdk/index.ts';
import { attr, tracer, tracingOn } from './tracing.ts';

/** Everything a stage may read about the change being processed. Stages add what they produce. */
export interface TaskContext {
  connector: ConnectorVersion;
  plan: ObjectPlan;
  tenant: string;
  object: string;
  recordId: string;
  version: number;
  action: Action;
  /** The producer's payload (input model). */
  payload: unknown;
  /** The CRM id stored from an earlier delivery. */
  crmId: string | undefined;
  /** Attempts already spent on this version. */
  attempts: number;
  /** Identifies the asker for rate-budget reservations (the job id). */
  holder: string;
  /** The mapped CRM object, set by the transform stage. */
  record?: Record<string, unknown>;
}

/**
 * What the pipeline decided. The connector's outcomes, plus `wait` (no budget or breaker open:
 * the job waits, spending no attempt) and `fatal` with runtime codes (invalid input, mapping failure).
 */
export type Outcome =
  | Exclude<ConnectorOutcome, { kind: 'retry' | 'fatal' }>
  | { kind: 'retry'; code: ErrorCode; message: string; status?: number; afterMs?: number }
  | { kind: 'fatal'; code: ErrorCode; message: string; status?: number; details?: ErrorDetail[] }
  | { kind: 'wait'; ms: number; reason: 'rate-limit' | 'breaker' | 'crm-throttle' };

export type Handler = (context: TaskContext) => Promise<Outcome>;

/** A stage is a function of the next handler (the undici interceptor shape). */
export type Stage = (next: Handler) => Handler;

export interface StagePlugin {
  /** Short kebab-case name; also the span name suffix (`recsync.stage.<name>`). */
  name: string;
  stage: Stage;
}

/**
 * Composes stages in order around a terminal handler. Each stage is wrapped in a span carrying
 * the outcome, so no stage or connector writes tracing code. Spans carry codes, never messages:
 * a message may quote the payload (a CRM's validation error, a mapping's result); the record's
 * last error and its dead letter keep the full text.
 */
export function buildPipeline(plugins: StagePlugin[], terminal: Handler = async () => ({ kind: 'fatal', code: 'RECSYNC_ERR_INTERNAL', message: 'the pipeline has no send stage' })): Handler {
  return plugins.reduceRight<Handler>((next, plugin) => traced(plugin.name, plugin.stage(next)), terminal);
}

function traced(name: string, handler: Handler): Handler {
  const spanName = `recsync.stage.${name}`;
  return (context) => {
    // Tracing off: the stage runs bare (no span, no context switch).
    if (!tracingOn()) return handler(context);
    return tracer().startActiveSpan(spanName, async (span) => {
      try {
        const outcome = await handler(context);
        span.setAttribute(attr.outcome, outcome.kind);
        if (outcome.kind === 'fatal' || outcome.kind === 'retry') {
          span.setAttribute(attr.errorCode, outcome.code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.code });
        }
        if (outcome.kind === 'wait') span.setAttributes({ 'recsync.wait.reason': outcome.reason, 'recsync.delay_ms': Math.max(0, Math.ceil(outcome.ms)) });
        return outcome;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        span.recordException({ name: (error as Error).name, message: typeof code === 'string' ? code : (error as Error).name });
        span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : (error as Error).name });
        throw error;
      } finally {
        span.end();
      }
    });
  };
}
