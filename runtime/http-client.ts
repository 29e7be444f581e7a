import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Agent, request } from 'undici';
import type { Credentials } from './credentials.ts';
import type { HttpClient, HttpRequest, HttpResponse } from './sdk/index.ts';
import { attemptOf, attr, noSpan, tracer, tracingOn } from './tracing.ts';

/** Thrown when no answer arrived from the CRM; `code` says whether it was the timeout or the network. */
export class TransportError extends Error {
  readonly code: 'RECSYNC_ERR_CRM_TIMEOUT' | 'RECSYNC_ERR_CRM_NETWORK';
  constructor(code: 'RECSYNC_ERR_CRM_TIMEOUT' | 'RECSYNC_ERR_CRM_NETWORK', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
    this.code = code;
  }
}

export interface HttpClientOptions {
  baseUrl: string;
  /** Source of the Authorization header; never exposed to the connector or logs. */
  credentials: Credentials;
  timeoutMs: number;
  /** Keep-alive connections to the CRM host. */
  connections: number;
}

export interface ClosableHttpClient extends HttpClient {
  close(): Promise<void>;
}

/**
 * The HTTP client a connector receives: bound to its base URL and credentials, one keep-alive pool,
 * every request aborted at the timeout (the connection is closed; a write the CRM had already
 * received may still land, which the worker's late-write window covers), and no retries of its
 * own: recsync has one retry layer, the job's. Each request is a client span (method, redacted URL,
 * status, the version's attempt number); no header or body reaches the span.
 */
export function createHttpClient(options: HttpClientOptions): ClosableHttpClient {
  const dispatcher = new Agent({ connections: options.connections, keepAliveTimeout: 30_000, pipelining: 1 });
  const base = options.baseUrl.replace(/\/+$/, '');
  const basePath = new URL(base).pathname.replace(/\/+$/, '');
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      const url = new URL(base + req.path);
      for (const [key, value] of Object.entries(req.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
      const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
      const authorization = (await options.credentials.authorization()).value;
      if (authorization !== undefined) headers['authorization'] = authorization;
      let body: string | undefined;
      if (req.body !== undefined) {
        body = JSON.stringify(req.body);
        headers['content-type'] = 'application/json';
      }
      const span = clientSpan(req.method, url, basePath);
      try {
        const response = await request(url, { method: req.method, headers, body, dispatcher, signal: AbortSignal.timeout(options.timeoutMs) });
        span.setAttribute('http.response.status_code', response.statusCode);
        // The conventions for clients: 4xx and 5xx are errors, and error.type is the status code.
        if (response.statusCode >= 400) {
          span.setAttribute('error.type', String(response.statusCode));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        const text = await response.body.text();
        const responseHeaders: Record<string, string> = {};
        for (const [key, value] of Object.entries(response.headers)) {
          if (value !== undefined) responseHeaders[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
        }
        return { status: response.statusCode, headers: responseHeaders, body: parseBody(text, responseHeaders['content-type']) };
      } catch (error) {
        const name = (error as Error).name;
        const failure =
          name === 'TimeoutError' || name === 'AbortError'
            ? new TransportError('RECSYNC_ERR_CRM_TIMEOUT', `${req.method} ${req.path}: no answer within ${options.timeoutMs} ms (request aborted)`, { cause: error })
            : new TransportError('RECSYNC_ERR_CRM_NETWORK', `${req.method} ${req.path}: ${(error as Error).message}`, { cause: error });
        span.setAttributes({ 'error.type': failure.code, [attr.errorCode]: failure.code });
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure.code });
        throw failure;
      } finally {
        span.end();
      }
    },
    close: () => dispatcher.close(),
  };
}

function clientSpan(method: string, url: URL, basePath: string) {
  // Off: no redacted URL to build for a span nobody records.
  if (!tracingOn()) return noSpan;
  const attempt = attemptOf();
  const span = tracer().startSpan(method, {
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': method,
      'url.full': redactedUrl(url, basePath),
      'server.address': url.hostname,
      'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    },
  });
  if (attempt !== undefined) {
    span.setAttribute(attr.attempt, attempt);
    // The conventions count resends of one request; ours is the version's attempt, one layer up.
    if (attempt > 1) span.setAttribute('http.request.resend_count', attempt - 1);
  }
  return span;
}

const plainSegment = /^(?:[A-Za-z_][A-Za-z0-9_-]*|v\d+(?:\.\d+)*)$/;

/**
 * The URL for a span, without data: connectors put record values in paths and queries (an email
 * as HubSpot's lookup key, an OData alternate key), and a span must not carry them. Below the
 * connector's base path every segment that is not a plain word (letters, digits, `_`, `-`,
 * starting with a letter) or an API version becomes `{}`; query values become `{}`.
 */
export function redactedUrl(url: URL, basePath: string): string {
  const rest = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) : url.pathname;
  const path = rest
    .split('/')
    .map((segment) => (segment === '' || plainSegment.test(segment) ? segment : '{}'))
    .join('/');
  const query = [...url.searchParams.keys()].map((key) => `${plainSegment.test(key) ? key : '{}'}={}`).join('&');
  return `${url.origin}${basePath}${path}${query === '' ? '' : `?${query}`}`;
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
