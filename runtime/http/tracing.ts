import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tracer } from '../tracing.ts';

const spans = new WeakMap<FastifyRequest, Span>();

/** Probes answer many times a minute and say nothing about a task: they get no span. */
const untraced = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A server span per API request, with the conventions' http.*, url.* and server.* attributes,
 * continuing the caller's trace when the request carries a `traceparent`. Three hooks rather than
 * an instrumentation package: the span starts on arrival, becomes the active context only in
 * preHandler (the body is parsed on the socket's own async context, which a context set earlier
 * would not reach), and ends with the response. Registered on the root instance before any route.
 */
export function traceRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && untraced.has(route)) return done();
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const url = new URL(request.url, 'http://localhost');
    const span = tracer().startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          // The path without the query: record ids travel in paths (they are allowed attributes),
          // filter values in queries (not).
          'url.path': url.pathname,
          'url.scheme': request.protocol,
          'server.address': request.hostname.replace(/:\d+$/, ''),
          'network.peer.address': request.ip,
          ...(route === undefined ? {} : { 'http.route': route }),
        },
      },
      parent,
    );
    spans.set(request, span);
    done();
  });
  app.addHook('preHandler', (request, _reply, done) => {
    const span = spans.get(request);
    if (!span) return done();
    // Everything the handler does (and the error handler, and its logs) runs in the span's context.
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      // The conventions for servers: only 5xx is an error of ours.
      if (reply.statusCode >= 500) {
        span.setAttribute('error.type', String(reply.statusCode));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
      spans.delete(request);
    }
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('error.type', 'aborted');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection' });
      span.end();
      spans.delete(request);
    }
    done();
  });
}

/** Fields every log line gets: the trace and span it was written in, when there is one. */
export function traceLogFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  if (!span.isRecording() && traceFlags === 0) return {};
  return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags.toString(16).padStart(2, '0') };
}
