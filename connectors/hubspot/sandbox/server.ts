import { MonotonicClock, SandboxHarness, harnessSettings, listenSandbox, bearer, InvalidJson, type Admission, type ApiCall, type ApiResult, type SandboxApi } from '../../../runtime/sdk/sandbox-kit/index.ts';
import { CrmApi, type ApiRequest } from './crm-api.ts';
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
  readonly harness: SandboxHarness<Route>;

  constructor(options: HubSpotSandboxOptions) {
    this.#tokens = options.tokens ?? [DEFAULT_TOKEN];
    if (this.#tokens.length === 0) throw new TypeError('tokens must hold at least one token');
    this.#clock = new MonotonicClock(options.now ?? Date.now);
    this.#store = new Store(options.searchIndexLagMs ?? 0, options.firstId ?? (options.freshIds ? Date.now() : undefined));
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
    token: sandbox.token,
    env: { HUBSPOT_BASE_URL: url, HUBSPOT_TOKEN: sandbox.token },
    objects: (type, opts) => sandbox.objects(type, opts),
    stats: () => sandbox.stats(),
    reset: () => sandbox.reset(),
  };
}
