import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CrmApi, type ApiRequest, type Query } from './crm-api.ts';
import { ApiError, faultResult, invalidInput, rateLimitBody, unauthenticated, type ApiResult } from './errors.ts';
import { faultKind, FaultQueue, validateFault } from './faults.ts';
import { PropertyCatalog } from './properties.ts';
import { RateLimiter } from './rate-limits.ts';
import { Counters, RequestLog } from './request-log.ts';
import { resolveRoute, type Route } from './routing.ts';
import { snapshot, Store } from './store.ts';
import {
  OBJECT_TYPES,
  type FaultSpec, type HubSpotSandbox, type HubSpotSandboxOptions, type LoggedRequest, type ObjectType, type SandboxObject,
  type SandboxStats,
} from './types.ts';

const DEFAULT_TOKEN = 'sandbox-token';
const BODY_LIMIT_BYTES = 50 * 1024 * 1024;
const CONTROL_PREFIX = '/__sandbox';

/** A request body that did not parse; answered with HubSpot's 400 once the request has passed auth and limits. */
class InvalidJson {
  readonly text: string;
  readonly reason: string;

  constructor(text: string, reason: string) {
    this.text = text;
    this.reason = reason;
  }
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

function loggedHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    // Keep enough of the token to tell tokens apart in a log, not enough to reuse it.
    out[name] = name === 'authorization' ? text.replace(/^(Bearer\s+)(\S{0,4})\S*/i, '$1$2…') : text;
  }
  return out;
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

class Sandbox {
  readonly #tokens: string[];
  readonly #latencyMs: number;
  readonly #logBodies: boolean;
  readonly #clockSource: () => number;
  #lastNow = -Infinity;
  readonly #store: Store;
  readonly #catalog: PropertyCatalog;
  readonly #api: CrmApi;
  readonly #limiter: RateLimiter;
  readonly #faults = new FaultQueue();
  readonly #log: RequestLog;
  #counters = new Counters();
  /** Bumped by reset(), so requests still in flight across a reset do not leak into the fresh log. */
  #generation = 0;
  readonly #closing = new AbortController();
  url = '';

  constructor(options: HubSpotSandboxOptions) {
    this.#tokens = options.tokens ?? [DEFAULT_TOKEN];
    if (this.#tokens.length === 0) throw new TypeError('tokens must hold at least one token');
    this.#latencyMs = options.latencyMs ?? 0;
    this.#logBodies = options.logBodies ?? true;
    this.#clockSource = options.now ?? Date.now;
    this.#store = new Store(options.searchIndexLagMs ?? 0, options.firstId ?? (options.freshIds ? Date.now() : undefined));
    this.#catalog = new PropertyCatalog(options.extraProperties);
    this.#api = new CrmApi(this.#store, this.#catalog, () => this.url);
    this.#limiter = new RateLimiter(options.limits ?? { perTenSeconds: 100, daily: 250_000 });
    this.#log = new RequestLog(options.requestLogSize ?? 10_000);
  }

  get token(): string {
    return this.#tokens[0] ?? DEFAULT_TOKEN;
  }

  shutDown(): void {
    this.#closing.abort();
  }

  /** The injected clock, held non-decreasing so rate-limit windows stay well defined if a test winds it back. */
  now(): number {
    const t = this.#clockSource();
    if (t > this.#lastNow) this.#lastNow = t;
    return this.#lastNow;
  }

  objects(type: ObjectType, opts: { includeArchived?: boolean } = {}): SandboxObject[] {
    if (!OBJECT_TYPES.includes(type)) throw new TypeError(`unknown object type: ${String(type)}`);
    return this.#store.all(type).filter((r) => opts.includeArchived === true || !r.archived).map(snapshot);
  }

  stats(): SandboxStats {
    const c = this.#counters;
    const w = this.#store.counts;
    return {
      requests: c.requests,
      byStatus: { ...c.byStatus },
      byRoute: { ...c.byRoute },
      throttled: c.throttled,
      throttledByPolicy: { ...c.throttledByPolicy },
      maxInTenSecondWindow: this.#limiter.maxInTenSecondWindow,
      dailyUsed: this.#limiter.dailyUsed(this.now()),
      created: w.created,
      updated: w.updated,
      unchangedUpdates: w.unchangedUpdates,
      archived: w.archived,
      faulted: c.faulted,
    };
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

  reset(): void {
    this.#store.reset();
    this.#limiter.reset();
    this.#faults.clear();
    this.#log.clear();
    this.#counters = new Counters();
    this.#generation += 1;
    this.#lastNow = -Infinity;
  }

  /** One API request, from arrival to answer (or to giving up): auth, limits, faults, then the operation. */
  async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
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
      const payload = JSON.stringify({ status: 'error', message: `Internal error: ${message}`, correlationId, category: 'INTERNAL_ERROR' });
      res.writeHead(500, { 'content-type': 'application/json;charset=utf-8', 'x-hubspot-correlation-id': correlationId });
      res.end(payload);
    }
  }

  async #serve(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = performance.now();
    const res = reply.raw;
    const method = request.method;
    const path = (request.raw.url ?? '/').split('?')[0] ?? '/';
    // Spread: the query parser hands out null-prototype objects, which surprise deepEqual in callers' tests.
    const query: Query = { ...(request.query as Query | undefined) };
    const route = resolveRoute(method, path);
    const correlationId = randomUUID();
    const counters = this.#counters;
    const generation = this.#generation;
    counters.requests += 1;
    counters.count(counters.byRoute, route.key);

    const entry: LoggedRequest = {
      at: this.now(),
      method,
      path,
      query,
      headers: loggedHeaders(request.headers),
      status: 0,
      correlationId,
      durationMs: 0,
    };
    if (this.#logBodies && request.body !== undefined) entry.body = request.body instanceof InvalidJson ? request.body.text : request.body;

    // The client going away (or the sandbox closing) ends every wait below.
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const signal = AbortSignal.any([gone.signal, this.#closing.signal]);

    // Logged when it ends, so an entry's status is final (a hung request shows up once the client gives up).
    const finish = (status: number): void => {
      entry.status = status;
      entry.durationMs = performance.now() - started;
      counters.count(counters.byStatus, String(status));
      if (generation === this.#generation) this.#log.push(entry);
    };
    const send = async (result: ApiResult, headers: Record<string, string>): Promise<void> => {
      if (!(await wait(this.#latencyMs, signal)) || res.destroyed) return finish(0);
      const all: Record<string, string> = { ...headers, ...result.headers, 'x-hubspot-correlation-id': correlationId };
      let payload = '';
      if (result.text !== undefined) {
        all['content-type'] = result.text.contentType;
        payload = result.text.content;
      } else if (result.body !== undefined) {
        all['content-type'] = 'application/json;charset=utf-8';
        payload = JSON.stringify(result.body);
        if (this.#logBodies) entry.responseBody = result.body;
      }
      all['content-length'] = String(Buffer.byteLength(payload));
      res.writeHead(result.status, all);
      res.end(payload);
      finish(result.status);
    };

    const token = bearer(request.headers.authorization);
    if (token === undefined || !this.#tokens.includes(token)) return send(unauthenticated().toResult(correlationId), {});

    const admission = this.#limiter.admit(token, route.kind, entry.at);
    if (admission.throttled !== undefined) {
      counters.throttled += 1;
      counters.throttledByPolicy[admission.throttled] += 1;
      // Throttled requests never reach the store, and HubSpot sends no Retry-After.
      return send({ status: 429, body: rateLimitBody(admission.throttled, correlationId) }, admission.headers);
    }

    const run = (): ApiResult => this.#run(route, query, request.body, correlationId);
    const fault = this.#faults.take(method, path);
    if (fault === undefined) return send(run(), admission.headers);

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
        return send({ ...faultResult(fault.status ?? 500, correlationId, fault.body), headers: extra }, {});
      case 'delay':
      case 'headers':
        if (!delayed) return finish(0);
        // Without apply, a delayed write only happens if the client is still waiting for it.
        return send(withHeaders(applied ?? run(), extra), admission.headers);
    }
  }

  #run(route: Route, query: Query, body: unknown, correlationId: string): ApiResult {
    try {
      if (route.error !== undefined) throw route.error;
      if (body instanceof InvalidJson) throw invalidInput(`Invalid input JSON: ${body.reason}`);
      if (route.operation === undefined || route.type === undefined) throw new Error(`route ${route.key} has no operation`);
      const request: ApiRequest = { type: route.type, query, body, at: this.now() };
      if (route.id !== undefined) request.id = route.id;
      return route.operation(this.#api, request);
    } catch (error) {
      if (error instanceof ApiError) return error.toResult(correlationId);
      // A bug in the sandbox: answer like HubSpot's 500 but keep the cause visible to whoever reads the log.
      const message = error instanceof Error ? error.message : String(error);
      return new ApiError(500, 'INTERNAL_ERROR', `Internal error: ${message}`).toResult(correlationId);
    }
  }
}

function withHeaders(result: ApiResult, headers: Record<string, string>): ApiResult {
  return Object.keys(headers).length === 0 ? result : { ...result, headers: { ...result.headers, ...headers } };
}

function buildApp(sandbox: Sandbox): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: BODY_LIMIT_BYTES });

  // One lenient parser for every content type: HubSpot clients do not always send application/json, and a body
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

  app.get(`${CONTROL_PREFIX}/stats`, async () => sandbox.stats());
  app.get(`${CONTROL_PREFIX}/requests`, async () => sandbox.requests());
  app.get<{ Params: { type: string }; Querystring: { archived?: string } }>(`${CONTROL_PREFIX}/objects/:type`, async (request, reply) => {
    const type = request.params.type as ObjectType;
    if (!OBJECT_TYPES.includes(type)) return reply.code(404).send({ error: `unknown object type: ${request.params.type}` });
    return sandbox.objects(type, { includeArchived: request.query.archived === 'true' });
  });
  app.get(`${CONTROL_PREFIX}/faults`, async () => sandbox.faults());
  app.post(`${CONTROL_PREFIX}/faults`, async (request, reply) => {
    try {
      if (request.body instanceof InvalidJson) throw new TypeError(`invalid JSON: ${request.body.reason}`);
      sandbox.injectFault(validateFault(request.body));
    } catch (error) {
      return reply.code(400).send({ error: error instanceof Error ? error.message : String(error) });
    }
    return reply.code(201).send({ armed: sandbox.faults() });
  });
  app.delete(`${CONTROL_PREFIX}/faults`, async (_request, reply) => {
    sandbox.clearFaults();
    return reply.code(204).send();
  });
  app.post(`${CONTROL_PREFIX}/reset`, async (_request, reply) => {
    sandbox.reset();
    return reply.code(204).send();
  });
  app.all(`${CONTROL_PREFIX}/*`, async (request, reply) => reply.code(404).send({ error: `no control route ${request.method} ${request.url}` }));
  app.all('/', (request, reply) => sandbox.handle(request, reply));
  app.all('/*', (request, reply) => sandbox.handle(request, reply));

  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const correlationId = randomUUID();
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    void reply
      .code(status)
      .header('x-hubspot-correlation-id', correlationId)
      .send({ status: 'error', message: error.message, correlationId, category: status < 500 ? 'VALIDATION_ERROR' : 'INTERNAL_ERROR' });
  });
  return app;
}

/** Starts a HubSpot CRM v3 twin on a local port. See docs/sandboxes/hubspot.md. */
export async function startSandbox(options: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
  const sandbox = new Sandbox(options);
  const app = buildApp(sandbox);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the sandbox is not listening on a TCP port');
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  sandbox.url = url;
  let closed: Promise<void> | undefined;

  return {
    url,
    token: sandbox.token,
    env: { HUBSPOT_BASE_URL: url, HUBSPOT_TOKEN: sandbox.token },
    close: () => {
      // Hung and delayed requests end first, then every socket (keep-alive ones included) is closed.
      closed ??= (async () => {
        sandbox.shutDown();
        await app.close();
      })();
      return closed;
    },
    objects: (type, opts) => sandbox.objects(type, opts),
    stats: () => sandbox.stats(),
    requests: () => sandbox.requests(),
    injectFault: (fault) => sandbox.injectFault(fault),
    clearFaults: () => sandbox.clearFaults(),
    reset: () => sandbox.reset(),
  };
}
