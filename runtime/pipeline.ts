import { SpanStatusCode } from '@opentelemetry/api';
import type { ConnectorVersion, ObjectPlan } from './connectors/load-connector.ts';
import type { ErrorCode, ErrorDetail } from './errors.ts';
import type { Action, SyncDecision } from './records/record-store.ts';
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
  /** When the claimed version was accepted (ms since the epoch). */
  acceptedAt: number;
  /** The mapped object, set by the transform stage (the CRM object outbound, our model inbound). */
  record?: Record<string, unknown>;
  /** Inbound: our id of the record, once the CRM object read back names it (else `crm-<crmId>`). */
  ourRecordId?: string;
}

/**
 * What the pipeline decided. The connector's outcomes, plus `wait` (no budget or breaker open:
 * the job waits, spending no attempt) and `fatal` with runtime codes (invalid input, mapping failure).
 */
export type Outcome =
  | Exclude<ConnectorOutcome, { kind: 'retry' | 'fatal' }>
  | { kind: 'retry'; code: ErrorCode; message: string; status?: number; afterMs?: number }
  | { kind: 'fatal'; code: ErrorCode; message: string; status?: number; details?: ErrorDetail[] }
  | { kind: 'wait'; ms: number; reason: 'rate-limit' | 'breaker' | 'crm-throttle' | 'conflict' }
  /** Finished without sending: an echo of our own write, or a conflict the other side won (counted superseded). */
  | { kind: 'skipped'; decision: SyncDecision };

export type Handler = (context: TaskContext) => Promise<Outcome>;

/** A stage is a function of the next handler (the undici interceptor shape). */
export type Stage = (next: Handler) => Handler;

export interface StagePlugin {
  /** Short kebab-case name; also the span name suffix (`recsync.stage.<name>`). */
  name: string;
  stage: Stage;
}

/** Told how long each stage took (its own time, without the stages after it) and how it ended. */
export type StageObserver = (stage: string, context: TaskContext, outcome: Outcome['kind'] | 'error', seconds: number) => void;

/**
 * Composes stages in order around a terminal handler. Each stage is wrapped in a span carrying
 * the outcome and, given an observer, timed, so no stage or connector writes tracing or metrics
 * code. Spans carry codes, never messages: a message may quote the payload (a CRM's validation
 * error, a mapping's result); the record's last error and its dead letter keep the full text.
 */
export function buildPipeline(
  plugins: StagePlugin[],
  terminal: Handler = async () => ({ kind: 'fatal', code: 'RECSYNC_ERR_INTERNAL', message: 'the pipeline has no send stage' }),
  options: { observe?: StageObserver } = {},
): Handler {
  // Per task: the time the stages after the current one took, so each stage reports its own time.
  // Stages hand the same context object on (they add to it), which makes it the key.
  const innerTime = new WeakMap<TaskContext, number>();
  return plugins.reduceRight<Handler>((next, plugin) => traced(plugin.name, plugin.stage(next), innerTime, options.observe), terminal);
}

function traced(name: string, handler: Handler, innerTime: WeakMap<TaskContext, number>, observe: StageObserver | undefined): Handler {
  const spanName = `recsync.stage.${name}`;
  const inSpan = (context: TaskContext): Promise<Outcome> =>
    tracer().startActiveSpan(spanName, async (span) => {
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
  return (context) => {
    // Tracing off: the stage runs bare (no span, no context switch).
    const run = tracingOn() ? inSpan : handler;
    return observe ? timed(name, context, innerTime, observe, run) : run(context);
  };
}

/** Runs one stage and tells the observer its own time (without the stages after it) and outcome. */
async function timed(name: string, context: TaskContext, innerTime: WeakMap<TaskContext, number>, observe: StageObserver, run: Handler): Promise<Outcome> {
  const started = performance.now();
  const outer = innerTime.get(context) ?? 0;
  innerTime.set(context, 0);
  let kind: Outcome['kind'] | 'error' = 'error';
  try {
    const outcome = await run(context);
    kind = outcome.kind;
    return outcome;
  } finally {
    const total = (performance.now() - started) / 1000;
    observe(name, context, kind, Math.max(0, total - (innerTime.get(context) ?? 0)));
    innerTime.set(context, outer + total);
  }
}
