import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { faultKind, FaultQueue, validateFault } from './faults.ts';
import { Counters, RequestLog } from './request-log.ts';
import type { ApiResult, FaultSpec, LoggedRequest, Query } from './types.ts';

/** Where every sandbox serves its control API. */
export const CONTROL_PREFIX = '/__sandbox';
const DEFAULT_BODY_LIMIT_BYTES = 50 * 1024 * 1024;

/**
 * A request body that did not parse as JSON. The API answers it in its own dialect once the request
 * has passed auth and limits; form-encoded bodies (token endpoints) arrive this way too, see `formFields`.
 */
export class InvalidJson {
  readonly text: string;
  readonly reason: string;

  constructor(text: string, reason: string) {
    this.text = text;
    this.reason = reason;
  }
}

/** The fields of a form-encoded body (`application/x-www-form-urlencoded`), however the lenient parser kept it. */
export function formFields(body: unknown): URLSearchParams {
  if (body instanceof InvalidJson) return new URLSearchParams(body.text);
  if (typeof body === 'string') return new URLSearchParams(body);
  return new URLSearchParams();
}

/** The token of an `Authorization: Bearer …` header. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** Request headers for the log: a Bearer token or Basic credentials are cut to their first four characters. */
export function loggedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    // Keep enough of the token to tell tokens apart in a log, not enough to reuse it.
    out[name] = name === 'authorization' ? text.replace(/^((?:Bearer|Basic)\s+)(\S{0,4})\S*/i, '$1$2…') : text;
  }
  return out;
}

/** The first value of a query parameter. */
export function queryValue(query: Query, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** One API request as the sandbox's API sees it. */
export interface ApiCall<R> {
  readonly method: string;
  /** Without the query string. */
  readonly path: string;
  readonly query: Query;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON; an InvalidJson when the body did not parse; undefined when there was none. */
  readonly body: unknown;
  /** The request's id (logged, and sent back in whatever header the CRM uses for it). */
  readonly correlationId: string;
  /** The sandbox clock at arrival. */
  readonly at: number;
  readonly route: R;
}

/** What auth and limits decided about a request, before faults and the operation. */
export interface Admission {
  /** Answer this instead of the operation; no fault applies to it. */
  reject?: ApiResult;
  /** Headers for the operation's answer (and for faults that keep it: delay, headers). */
  headers?: Record<string, string>;
  /** Called once when the request ends, however it ends: answered, dropped, hung up on. */
  done?: () => void;
}

/** The CRM-specific half of a sandbox: routing, auth and limits, the operations, and its error dialect. */
export interface SandboxApi<R extends { key: string }> {
  /** Names the route (`key` is the stats key, e.g. `PATCH /sobjects/Contact/{id}`) and whatever the API needs later. */
  route(method: string, path: string): R;
  /** Auth and limits, at arrival. */
  admit(call: ApiCall<R>): Admission;
  /** The operation. Runs at most once per request; may throw (answered as an internal error). */
  run(call: ApiCall<R>): ApiResult;
  /** The answer of an injected status fault; `body` is the fault's own body, if it has one. */
  faultResult(status: number, body: unknown, call: ApiCall<R>): ApiResult;
  /** An error the sandbox itself hit (a bug, a body over the size limit), in the CRM's dialect. */
  errorResult(status: number, message: string, correlationId: string): ApiResult;
  /** Headers on every answer, after the result's own (a request-id header, a usage header). */
  responseHeaders?(call: ApiCall<R> | undefined, correlationId: string): Record<string, string>;
  /** What the request log keeps of a request or response body (e.g. secrets of a token request cut short). */
  redact?(call: ApiCall<R>, body: unknown, which: 'request' | 'response'): unknown;
}

/** The sandbox-wide half of the control API. */
export interface ControlHooks {
  stats(): unknown;
  /** The object types `objects` knows, for `GET /__sandbox/objects` (every type's objects at once). */
  objectTypes: readonly string[];
  /** Stored objects of a type; undefined when the type is unknown (answered 404). */
  objects(type: string, query: Query): unknown[] | undefined;
  /** Everything back to the start: the sandbox's state and the harness's (call `harness.reset()`). */
  reset(): void;
}

export interface HarnessOptions<R extends { key: string }> {
  api: SandboxApi<R>;
  control: ControlHooks;
  /** The sandbox clock (see MonotonicClock). */
  now: () => number;
  /** Fixed extra latency in real ms on every API answer, default 0. */
  latencyMs?: number;
  /** Keep request and response bodies in the request log, default true. */
  logBodies?: boolean;
  /** How many requests the log keeps, default 10000. */
  requestLogSize?: number;
  /** Default 50 MiB. */
  bodyLimit?: number;
  /** The content type of JSON answers, default `application/json;charset=utf-8`. */
  jsonContentType?: string;
}

/** Waits `ms` real milliseconds; false when the signal fired first. */
async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function withHeaders(result: ApiResult, headers: Record<string, string>): ApiResult {
  return Object.keys(headers).length === 0 ? result : { ...result, headers: { ...result.headers, ...headers } };
}

/**
 * The CRM-independent machinery of a sandbox: a Fastify server whose every non-control request goes
 * through arrival → log entry → `admit` (auth, limits) → fault → `run`, with real latency and fault
 * delays, hangs until the client gives up, dropped sockets, "apply" (the write lands whatever the client
 * sees), a ring-buffer request log, counters, and the control API under `/__sandbox`.
 */
export class SandboxHarness<R extends { key: string }> {
  readonly app: FastifyInstance;
  readonly #api: SandboxApi<R>;
  readonly #control: ControlHooks;
  readonly #now: () => number;
  readonly #latencyMs: number;
  readonly #logBodies: boolean;
  readonly #jsonContentType: string;
  readonly #faults = new FaultQueue();
  readonly #log: RequestLog;
  #counters = new Counters();
  /** Bumped by reset(), so requests still in flight across a reset do not leak into the fresh log. */
  #generation = 0;
  readonly #closing = new AbortController();
  #closed: Promise<void> | undefined;
  url = '';

  constructor(options: HarnessOptions<R>) {
    this.#api = options.api;
    this.#control = options.control;
    this.#now = options.now;
    this.#latencyMs = options.latencyMs ?? 0;
    this.#logBodies = options.logBodies ?? true;
    this.#jsonContentType = options.jsonContentType ?? 'application/json;charset=utf-8';
    this.#log = new RequestLog(options.requestLogSize ?? 10_000);
    this.app = this.#buildApp(options.bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES);
  }

  /** The counters of the current generation (replaced by reset()). */
  get counters(): Counters {
    return this.#counters;
  }

  requests(): LoggedRequest[] {
    return this.#log.list();
  }

  faults(): FaultSpec[] {
    return this.#faults.list();
  }

  injectFault(fault: FaultSpec): void {
    this.#faults.add(fault);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Drops faults, the log and the counters. */
  reset(): void {
    this.#faults.clear();
    this.#log.clear();
    this.#counters = new Counters();
    this.#generation += 1;
  }

  /** Starts listening; returns the base URL, e.g. http://127.0.0.1:41234. */
  async listen(host: string, port: number): Promise<string> {
    await this.app.listen({ host, port });
    const address = this.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('the sandbox is not listening on a TCP port');
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    return this.url;
  }

  /** Hung and delayed requests end first, then every socket (keep-alive ones included) is closed. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      await this.app.close();
    })();
    return this.#closed;
  }

  /** One API request, from arrival to answer (or to giving up). */
  async #handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.hijack();
    try {
      await this.#serve(request, reply);
    } catch (error) {
      // Only a sandbox bug gets here; answer rather than leave the client hanging on a hijacked reply.
      const res = reply.raw;
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      const correlationId = randomUUID();
      const message = error instanceof Error ? error.message : String(error);
      const result = this.#api.errorResult(500, `Internal error: ${message}`, correlationId);
      const payload = result.body === undefined ? '' : JSON.stringify(result.body);
      res.writeHead(result.status, {
        ...result.headers,
        ...this.#api.responseHeaders?.(undefined, correlationId),
        'content-type': this.#jsonContentType,
      });
      res.end(payload);
    }
  }

  async #serve(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = performance.now();
    const api = this.#api;
    const res = reply.raw;
    const method = request.method;
    const path = (request.raw.url ?? '/').split('?')[0] ?? '/';
    // Spread: the query parser hands out null-prototype objects, which surprise deepEqual in callers' tests.
    const query: Query = { ...(request.query as Query | undefined) };
    const route = api.route(method, path);
    const correlationId = randomUUID();
    const counters = this.#counters;
    const generation = this.#generation;
    counters.requests += 1;
    counters.count(counters.byRoute, route.key);

    const at = this.#now();
    const call: ApiCall<R> = { method, path, query, headers: request.headers, body: request.body, correlationId, at, route };
    const entry: LoggedRequest = { at, method, path, query, headers: loggedHeaders(request.headers), status: 0, correlationId, durationMs: 0 };
    if (this.#logBodies && request.body !== undefined) {
      const body = request.body instanceof InvalidJson ? request.body.text : request.body;
      entry.body = api.redact === undefined ? body : api.redact(call, body, 'request');
    }

    // The client going away (or the sandbox closing) ends every wait below.
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const signal = AbortSignal.any([gone.signal, this.#closing.signal]);

    let done: (() => void) | undefined;
    // Logged when it ends, so an entry's status is final (a hung request shows up once the client gives up).
    const finish = (status: number): void => {
      entry.status = status;
      entry.durationMs = performance.now() - started;
      counters.count(counters.byStatus, String(status));
      if (generation === this.#generation) this.#log.push(entry);
      done?.();
      done = undefined;
    };
    const send = async (result: ApiResult, headers: Record<string, string>): Promise<void> => {
      if (!(await wait(this.#latencyMs, signal)) || res.destroyed) return finish(0);
      const all: Record<string, string> = { ...headers, ...result.headers, ...api.responseHeaders?.(call, correlationId) };
      let payload = '';
      if (result.text !== undefined) {
        all['content-type'] = result.text.contentType;
        payload = result.text.content;
      } else if (result.body !== undefined) {
        all['content-type'] = this.#jsonContentType;
        payload = JSON.stringify(result.body);
        if (this.#logBodies) entry.responseBody = api.redact === undefined ? result.body : api.redact(call, result.body, 'response');
      }
      all['content-length'] = String(Buffer.byteLength(payload));
      res.writeHead(result.status, all);
      res.end(payload);
      finish(result.status);
    };

    const admission = api.admit(call);
    done = admission.done;
    const admitted = admission.headers ?? {};
    if (admission.reject !== undefined) return send(admission.reject, admitted);

    const run = (): ApiResult => {
      try {
        return api.run(call);
      } catch (error) {
        return api.errorResult(500, `Internal error: ${error instanceof Error ? error.message : String(error)}`, correlationId);
      }
    };
    const fault = this.#faults.take(method, path);
    if (fault === undefined) return send(run(), admitted);

    counters.faulted += 1;
    const kind = faultKind(fault);
    entry.fault = kind;
    const extra = fault.headers ?? {};
    // 'It landed': the write happens on arrival, whatever the client then sees.
    const applied = fault.apply === true ? run() : undefined;
    const delayed = await wait(fault.delayMs ?? 0, signal);

    switch (kind) {
      case 'drop':
        if (delayed) request.raw.socket.destroy();
        return finish(0);
      case 'hang':
        await untilAborted(signal);
        return finish(0);
      case 'status':
        if (!delayed) return finish(0);
        return send(withHeaders(api.faultResult(fault.status ?? 500, fault.body, call), extra), {});
      case 'delay':
      case 'headers':
        if (!delayed) return finish(0);
        // Without apply, a delayed write only happens if the client is still waiting for it.
        return send(withHeaders(applied ?? run(), extra), admitted);
    }
  }

  #buildApp(bodyLimit: number): FastifyInstance {
    const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit });
    const control = this.#control;

    // One lenient parser for every content type: clients do not always send application/json, and a body
    // that does not parse must still go through auth and rate limiting before it is rejected.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch (error) {
        done(null, new InvalidJson(text, error instanceof Error ? error.message : String(error)));
      }
    });

    app.get(`${CONTROL_PREFIX}/stats`, async () => control.stats());
    app.get(`${CONTROL_PREFIX}/requests`, async () => this.requests());
    // Every type at once: what generic tools (the conformance suite) read without knowing the CRM's model.
    app.get(`${CONTROL_PREFIX}/objects`, async () => Object.fromEntries(control.objectTypes.map((type) => [type, control.objects(type, {}) ?? []])));
    app.get<{ Params: { type: string } }>(`${CONTROL_PREFIX}/objects/:type`, async (request, reply) => {
      const objects = control.objects(request.params.type, { ...(request.query as Query | undefined) });
      if (objects === undefined) return reply.code(404).send({ error: `unknown object type: ${request.params.type}` });
      return objects;
    });
    app.get(`${CONTROL_PREFIX}/faults`, async () => this.faults());
    app.post(`${CONTROL_PREFIX}/faults`, async (request, reply) => {
      try {
        if (request.body instanceof InvalidJson) throw new TypeError(`invalid JSON: ${request.body.reason}`);
        this.injectFault(validateFault(request.body));
      } catch (error) {
        return reply.code(400).send({ error: error instanceof Error ? error.message : String(error) });
      }
      return reply.code(201).send({ armed: this.faults() });
    });
    app.delete(`${CONTROL_PREFIX}/faults`, async (_request, reply) => {
      this.clearFaults();
      return reply.code(204).send();
    });
    app.post(`${CONTROL_PREFIX}/reset`, async (_request, reply) => {
      control.reset();
      return reply.code(204).send();
    });
    app.all(`${CONTROL_PREFIX}/*`, async (request, reply) => reply.code(404).send({ error: `no control route ${request.method} ${request.url}` }));
    app.all('/', (request, reply) => this.#handle(request, reply));
    app.all('/*', (request, reply) => this.#handle(request, reply));

    app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
      const correlationId = randomUUID();
      const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
      const result = this.#api.errorResult(status, error.message, correlationId);
      void reply
        .code(result.status)
        .headers({ ...result.headers, ...this.#api.responseHeaders?.(undefined, correlationId) })
        .send(result.body);
    });
    return app;
  }
}
