// Tracing helpers on @opentelemetry/api only: they cost next to nothing while no SDK is registered
// (runtime/telemetry.ts registers one when an endpoint is configured).
import { context, createContextKey, INVALID_SPAN_CONTEXT, isSpanContextValid, propagation, ProxyTracerProvider, ROOT_CONTEXT, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';

/**
 * The tracer, looked up at each use rather than once: the global provider may be registered after
 * this module loads, or replaced (a process that starts recsync again), and a tracer taken early
 * would stay bound to the old one.
 */
export function tracer(): Tracer {
  return trace.getTracer('recsync');
}

/**
 * Whether an SDK is registered (runtime/telemetry.ts). Without one every span is a no-op, and the
 * hot path skips building spans, their attributes and their contexts altogether: six stage spans,
 * a consumer span and a client span per task, with a redacted URL and a dozen attributes, were
 * allocated only to be dropped (npm run bench's profile). Asked at each use, like `tracer()`.
 */
export function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('recsync') !== undefined;
}

/** The span stand-in while tracing is off: every call on it does nothing. */
export const noSpan: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Our attribute names, beside the semantic conventions' messaging.*, http.*, url.* and server.*. */
export const attr = {
  connector: 'recsync.connector',
  object: 'recsync.object',
  tenant: 'recsync.tenant',
  recordId: 'recsync.record_id',
  version: 'recsync.version',
  attempt: 'recsync.attempt',
  configVersion: 'recsync.config_version',
  outcome: 'recsync.outcome',
  errorCode: 'recsync.error_code',
} as const;

/** The version attempt a CRM request belongs to (1 = first), read by the HTTP client for its span. */
export const attemptKey = createContextKey('recsync.attempt');

export function attemptOf(ctx: Context = context.active()): number | undefined {
  const value = ctx.getValue(attemptKey);
  return typeof value === 'number' ? value : undefined;
}

/** The W3C `traceparent` of `span`, or '' when it is not recorded (tracing off, or not sampled in a way worth carrying). */
export function traceparentOf(span: Span): string {
  if (!span.isRecording() && !isSpanContextValid(span.spanContext())) return '';
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier['traceparent'] ?? '';
}

/** A context whose parent is the span a `traceparent` names (a remote parent), or the root context. */
export function contextOf(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** The trace id in a `traceparent` (`00-<trace id>-<span id>-<flags>`), if it holds a valid one. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent ?? '');
  return match && !/^0+$/.test(match[1]!) ? match[1] : undefined;
}
