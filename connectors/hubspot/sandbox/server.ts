import { MonotonicClock, SandboxHarness, harnessSettings, listenSandbox, bearer, InvalidJson, type Admission, type ApiCall, type ApiResult, type SandboxApi } from '../../../runtime/sdk/sandbox-kit/index.ts';
import { CrmApi, PORTAL_ID, type ApiRequest } from './crm-api.ts';
import { WebhookEmitter, type WebhookSettings } from './webhooks.ts';
import { ApiError, faultResult, invalidInput, rateLimitBody, unauthenticated } from './errors.ts';
import { PropertyCatalog } from './properties.ts';
import { RateLimiter } from './rate-limits.ts';
import { resolveRoute, type Route } from './routing.ts';
import { snapshot, Store } from './store.ts';
import {
  OBJECT_TYPES,
  type HubSpotSandbox, type HubSpotSandboxOptions, type ObjectType, type RateLimitPolicy,
  type SandboxObject, type SandboxStats,
} from './types.ts';

const DEFAULT_TOKEN = 'sandbox-token';

/** The HubSpot-only counters; the kit keeps the rest (requests, byStatus, byRoute, faulted). */
class ThrottleCounters {
  throttled = 0;
  throttledByPolicy: Record<RateLimitPolicy, number> = { TEN_SECONDLY_ROLLING: 0, DAILY: 0, SECONDLY: 0 };
}

class Sandbox implements SandboxApi<Route> {
  readonly #tokens: string[];
  readonly #clock: MonotonicClock;
  readonly #store: Store;
  readonly #catalog: PropertyCatalog;
  readonly #api: CrmApi;
  readonly #limiter: RateLimiter;
  #throttle = new ThrottleCounters();
  readonly webhooks = new WebhookEmitter(PORTAL_ID);
  readonly harness: SandboxHarness<Route>;

  constructor(options: HubSpotSandboxOptions) {
    this.#tokens = options.tokens ?? [DEFAULT_TOKEN];
    if (this.#tokens.length === 0) throw new TypeError('tokens must hold at least one token');
    this.#clock = new MonotonicClock(options.now ?? Date.now);
    this.#store = new Store(options.searchIndexLagMs ?? 0, options.firstId ?? (options.freshIds ? Date.now() : undefined), (notice) => this.webhooks.notice(notice));
    this.#catalog = new PropertyCatalog(options.extraProperties);
    this.#api = new CrmApi(this.#store, this.#catalog, () => this.harness.url);
    this.#limiter = new RateLimiter(options.limits ?? { perTenSeconds: 100, daily: 250_000 });
    const harnessOptions = {
      api: this,
      control: {
        stats: () => this.stats(),
        objectTypes: OBJECT_TYPES,
        objects: (type: string, query: Record<string, string | string[]>) =>
          OBJECT_TYPES.includes(type as ObjectType) ? this.objects(type as ObjectType, { includeArchived: query['archived'] === 'true' }) : undefined,
        reset: () => this.reset(),
      },
      now: () => this.now(),
      ...harnessSettings(options),
    };
    this.harness = new SandboxHarness<Route>(harnessOptions);
    this.#webhookControls();
  }

  /**
   * HubSpot's side of webhooks, through the control API: where to send them (`PUT /__sandbox/webhooks`,
   * what a HubSpot app's settings hold), and changes made "in the CRM" by a user, which HubSpot
   * announces with changeSource CRM_UI.
   */
  #webhookControls(): void {
    const app = this.harness.app;
    const typeOf = (raw: string): ObjectType | undefined => (OBJECT_TYPES.includes(raw as ObjectType) ? (raw as ObjectType) : undefined);
    const fail = (reply: { code(status: number): { send(body: unknown): unknown } }, status: number, error: unknown) =>
      reply.code(status).send({ error: error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error) });
    app.get('/__sandbox/webhooks', async () => ({ settings: this.webhooks.settings === undefined ? null : { ...this.webhooks.settings, secret: '(set)' }, stats: this.webhooks.stats() }));
    app.put('/__sandbox/webhooks', async (request, reply) => {
      try {
        this.webhooks.configure(request.body as WebhookSettings);
      } catch (error) {
        return fail(reply, 400, error);
      }
      return reply.code(204).send();
    });
    app.delete('/__sandbox/webhooks', async (_request, reply) => {
      this.webhooks.configure(undefined);
      return reply.code(204).send();
    });
    app.post<{ Params: { type: string } }>('/__sandbox/objects/:type', async (request, reply) => {
      const type = typeOf(request.params.type);
      if (type === undefined) return fail(reply, 404, `unknown object type: ${request.params.type}`);
      try {
        const values = this.#catalog.parse(type, (request.body as { properties?: unknown } | undefined)?.properties);
        if (this.#store.conflictFor(type, values) !== undefined) return fail(reply, 409, 'an object already holds one of these unique values');
        return reply.code(201).send(snapshot(this.#store.create(type, values, this.now(), 'CRM_UI')));
      } catch (error) {
        return fail(reply, 400, error);
      }
    });
    app.post<{ Params: { type: string; id: string } }>('/__sandbox/objects/:type/:id/change', async (request, reply) => {
      const type = typeOf(request.params.type);
      const record = type === undefined ? undefined : this.#store.byId(type, request.params.id);
      if (type === undefined || record === undefined) return fail(reply, 404, `no live ${request.params.type} ${request.params.id}`);
      try {
        const values = this.#catalog.parse(type, (request.body as { properties?: unknown } | undefined)?.properties);
        if (this.#store.conflictFor(type, values, record.id) !== undefined) return fail(reply, 409, 'another object holds one of these unique values');
        this.#store.update(record, values, this.now(), 'CRM_UI');
        return snapshot(record);
      } catch (error) {
        return fail(reply, 400, error);
      }
    });
    app.post<{ Params: { type: string; id: string } }>('/__sandbox/objects/:type/:id/archive', async (request, reply) => {
      const type = typeOf(request.params.type);
      const record = type === undefined ? undefined : this.#store.byId(type, request.params.id);
      if (type === undefined || record === undefined) return fail(reply, 404, `no live ${request.params.type} ${request.params.id}`);
      this.#store.archive(record, this.now(), 'CRM_UI');
      return snapshot(record);
    });
  }

  get token(): string {
    return this.#tokens[0] ?? DEFAULT_TOKEN;
  }

  /** The injected clock, held non-decreasing so rate-limit windows stay well defined if a test winds it back. */
  now(): number {
    return this.#clock.now();
  }

  objects(type: ObjectType, opts: { includeArchived?: boolean } = {}): SandboxObject[] {
    if (!OBJECT_TYPES.includes(type)) throw new TypeError(`unknown object type: ${String(type)}`);
    return this.#store.all(type).filter((r) => opts.includeArchived === true || !r.archived).map(snapshot);
  }

  stats(): SandboxStats {
    const c = this.harness.counters;
    const w = this.#store.counts;
    return {
      requests: c.requests,
      byStatus: { ...c.byStatus },
      byRoute: { ...c.byRoute },
      throttled: this.#throttle.throttled,
      throttledByPolicy: { ...this.#throttle.throttledByPolicy },
      maxInTenSecondWindow: this.#limiter.maxInTenSecondWindow,
      dailyUsed: this.#limiter.dailyUsed(this.now()),
      created: w.created,
      updated: w.updated,
      unchangedUpdates: w.unchangedUpdates,
      archived: w.archived,
      faulted: c.faulted,
    };
  }

  reset(): void {
    this.webhooks.reset();
    this.#store.reset();
    this.#limiter.reset();
    this.harness.reset();
    this.#throttle = new ThrottleCounters();
    this.#clock.reset();
  }

  // SandboxApi: what the kit calls for every API request.

  route(method: string, path: string): Route {
    return resolveRoute(method, path);
  }

  admit(call: ApiCall<Route>): Admission {
    const token = bearer(call.headers.authorization);
    if (token === undefined || !this.#tokens.includes(token)) return { reject: unauthenticated().toResult(call.correlationId) };
    const admission = this.#limiter.admit(token, call.route.kind, call.at);
    if (admission.throttled !== undefined) {
      this.#throttle.throttled += 1;
      this.#throttle.throttledByPolicy[admission.throttled] += 1;
      // Throttled requests never reach the store, and HubSpot sends no Retry-After.
      return { reject: { status: 429, body: rateLimitBody(admission.throttled, call.correlationId) }, headers: admission.headers };
    }
    return { headers: admission.headers };
  }

  run({ route, query, body, correlationId }: ApiCall<Route>): ApiResult {
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

  faultResult(status: number, body: unknown, call: ApiCall<Route>): ApiResult {
    return faultResult(status, call.correlationId, body);
  }

  errorResult(status: number, message: string, correlationId: string): ApiResult {
    return { status, body: { status: 'error', message, correlationId, category: status < 500 ? 'VALIDATION_ERROR' : 'INTERNAL_ERROR' } };
  }

  responseHeaders(_call: ApiCall<Route> | undefined, correlationId: string): Record<string, string> {
    return { 'x-hubspot-correlation-id': correlationId };
  }
}

/** Starts a HubSpot CRM v3 twin on a local port. See docs/sandboxes/hubspot.md. */
export async function startSandbox(options: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
  const sandbox = new Sandbox(options);
  const controls = await listenSandbox(sandbox.harness, options);
  const { url } = controls;
  return {
    ...controls,
    close: async () => {
      await sandbox.webhooks.close();
      await controls.close();
    },
    webhooks: {
      configure: (settings) => sandbox.webhooks.configure(settings),
      stats: () => sandbox.webhooks.stats(),
    },
    token: sandbox.token,
    env: { HUBSPOT_BASE_URL: url, HUBSPOT_TOKEN: sandbox.token },
    objects: (type, opts) => sandbox.objects(type, opts),
    stats: () => sandbox.stats(),
    reset: () => sandbox.reset(),
  };
}
