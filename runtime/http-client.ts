import { Agent, request } from 'undici';
import type { Credentials } from './credentials.ts';
import type { HttpClient, HttpRequest, HttpResponse } from './sdk/index.ts';

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
 * own: recsync has one retry layer, the job's.
 */
export function createHttpClient(options: HttpClientOptions): ClosableHttpClient {
  const dispatcher = new Agent({ connections: options.connections, keepAliveTimeout: 30_000, pipelining: 1 });
  const base = options.baseUrl.replace(/\/+$/, '');
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
      try {
        const response = await request(url, { method: req.method, headers, body, dispatcher, signal: AbortSignal.timeout(options.timeoutMs) });
        const text = await response.body.text();
        const responseHeaders: Record<string, string> = {};
        for (const [key, value] of Object.entries(response.headers)) {
          if (value !== undefined) responseHeaders[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
        }
        return { status: response.statusCode, headers: responseHeaders, body: parseBody(text, responseHeaders['content-type']) };
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'TimeoutError' || name === 'AbortError') {
          throw new TransportError('RECSYNC_ERR_CRM_TIMEOUT', `${req.method} ${req.path}: no answer within ${options.timeoutMs} ms (request aborted)`, { cause: error });
        }
        throw new TransportError('RECSYNC_ERR_CRM_NETWORK', `${req.method} ${req.path}: ${(error as Error).message}`, { cause: error });
      }
    },
    close: () => dispatcher.close(),
  };
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
