/**
 * The Starter sandbox: a local twin of Starter's REST API over real HTTP, built on the sandbox kit
 * (docs/sandboxes/kit.md), which adds fault injection, the request log and the control API.
 * Make it answer the way your CRM does: its paths, its error bodies, its rate limits.
 *
 * Standalone: node <this file> [--port N] [--host H] [--latency MS] [--fresh-ids] [--no-limits] [--requests N]
 */
import {
  Arrivals, bearer, harnessSettings, InvalidJson, listenSandbox, MonotonicClock, parseSandboxArgs, runStandalone, SandboxHarness,
  type Admission, type ApiCall, type ApiResult, type SandboxApi, type SandboxBaseOptions, type SandboxControls,
} from '../../sdk/sandbox-kit/index.ts';

export interface StarterSandboxOptions extends SandboxBaseOptions {
  /** The accepted bearer token, default 'sandbox-token'. */
  token?: string;
  /** Requests per token in any 10 s window, default 100; false turns the limit off. */
  limits?: { requests: number } | false;
  /** The collections the API serves, default ['contacts']. */
  collections?: string[];
}

/** An object as the sandbox stores it. */
export interface StoredObject {
  id: string;
  externalId: string;
  fields: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface StarterSandbox extends SandboxControls {
  /** { STARTER_BASE_URL, STARTER_TOKEN }: what npm start adds to the environment. */
  env: Record<string, string>;
  objects(collection: string): StoredObject[];
  reset(): void;
}

interface Route {
  key: string;
  collection?: string;
  externalId?: string;
  id?: string;
}

const WINDOW_MS = 10_000;
const error = (status: number, code: string, message: string): ApiResult => ({ status, body: { error: { code, message } } });

class Sandbox implements SandboxApi<Route> {
  readonly #token: string;
  readonly #limit: number | undefined;
  readonly #collections: string[];
  readonly #clock: MonotonicClock;
  readonly #firstId: number;
  #nextId: number;
  #store = new Map<string, Map<string, StoredObject>>();
  #arrivals = new Arrivals();
  readonly harness: SandboxHarness<Route>;

  constructor(options: StarterSandboxOptions) {
    this.#token = options.token ?? 'sandbox-token';
    this.#limit = options.limits === false ? undefined : (options.limits?.requests ?? 100);
    this.#collections = options.collections ?? ['contacts'];
    this.#clock = new MonotonicClock(options.now ?? Date.now);
    // Fresh ids: recsync's stored CRM ids outlive a restarted sandbox, so ids must not repeat.
    this.#firstId = options.freshIds === true ? Date.now() : 1;
    this.#nextId = this.#firstId;
    this.harness = new SandboxHarness<Route>({
      api: this,
      control: {
        stats: () => ({ ...this.harness.counters, objects: this.#collections.map((c) => this.objects(c).length).reduce((a, b) => a + b, 0) }),
        objectTypes: this.#collections,
        objects: (type) => (this.#collections.includes(type) ? this.objects(type) : undefined),
        reset: () => this.reset(),
      },
      now: () => this.#clock.now(),
      ...harnessSettings(options),
    });
  }

  get token(): string {
    return this.#token;
  }

  objects(collection: string): StoredObject[] {
    return [...(this.#store.get(collection)?.values() ?? [])].map((o) => structuredClone(o));
  }

  reset(): void {
    this.#store = new Map();
    this.#arrivals = new Arrivals();
    this.#nextId = this.#firstId;
    this.harness.reset();
    this.#clock.reset();
  }

  // SandboxApi: what the kit calls for every API request.

  route(method: string, path: string): Route {
    const m = /^\/v1\/([a-z][a-z0-9_-]*)\/(?:by-external-id\/([^/]+)|([^/]+))$/.exec(path);
    if (m === null || !this.#collections.includes(m[1]!)) return { key: `${method} (unknown)` };
    const route: Route = { key: `${method} /v1/${m[1]}/${m[2] === undefined ? '{id}' : 'by-external-id/{externalId}'}`, collection: m[1]! };
    if (m[2] !== undefined) route.externalId = decodeURIComponent(m[2]);
    if (m[3] !== undefined) route.id = decodeURIComponent(m[3]);
    return route;
  }

  admit(call: ApiCall<Route>): Admission {
    if (bearer(call.headers.authorization) !== this.#token) return { reject: error(401, 'unauthorized', 'missing or unknown bearer token') };
    if (this.#limit !== undefined) {
      this.#arrivals.prune(call.at - WINDOW_MS);
      if (this.#arrivals.size >= this.#limit) {
        const retryAfter = Math.max(1, Math.ceil((this.#arrivals.oldest! + WINDOW_MS - call.at) / 1000));
        return { reject: { ...error(429, 'rate_limited', `more than ${this.#limit} requests in 10 seconds`), headers: { 'retry-after': String(retryAfter) } } };
      }
      this.#arrivals.push(call.at);
    }
    return {};
  }

  run({ method, route, body, at }: ApiCall<Route>): ApiResult {
    if (route.collection === undefined) return error(404, 'not_found', 'no such route');
    const objects = this.#store.get(route.collection) ?? new Map<string, StoredObject>();
    this.#store.set(route.collection, objects);
    const byExternalId = route.externalId === undefined ? undefined : [...objects.values()].find((o) => o.externalId === route.externalId);
    const found = route.id === undefined ? byExternalId : objects.get(route.id);
    const now = new Date(at).toISOString();
    if (method === 'GET') return found === undefined ? error(404, 'not_found', 'no such object') : { status: 200, body: found };
    if (method === 'DELETE') {
      if (found === undefined) return error(404, 'not_found', 'no such object');
      objects.delete(found.id);
      return { status: 204 };
    }
    if (method === 'PUT' && route.externalId !== undefined) {
      if (body instanceof InvalidJson || body === null || typeof body !== 'object' || Array.isArray(body)) return error(400, 'invalid_body', 'the body must be a JSON object');
      if (found !== undefined) {
        found.fields = { ...(body as Record<string, unknown>) };
        found.updatedAt = now;
        return { status: 200, body: found };
      }
      const created: StoredObject = { id: `st_${this.#nextId++}`, externalId: route.externalId, fields: { ...(body as Record<string, unknown>) }, createdAt: now, updatedAt: now };
      objects.set(created.id, created);
      return { status: 201, body: created };
    }
    return error(405, 'method_not_allowed', `${method} is not allowed here`);
  }

  faultResult(status: number, body: unknown): ApiResult {
    if (body !== undefined) return { status, body };
    if (status < 400) return { status };
    return error(status, status === 429 ? 'rate_limited' : status >= 500 ? 'internal' : 'rejected', `injected ${status}`);
  }

  errorResult(status: number, message: string): ApiResult {
    return error(status, 'internal', message);
  }
}

/** Starts the Starter sandbox on a local port (the SandboxModule contract of runtime/sdk/index.ts). */
export async function startSandbox(options: StarterSandboxOptions = {}): Promise<StarterSandbox> {
  const sandbox = new Sandbox(options);
  const controls = await listenSandbox(sandbox.harness, options);
  return {
    ...controls,
    env: { STARTER_BASE_URL: controls.url, STARTER_TOKEN: sandbox.token },
    objects: (collection) => sandbox.objects(collection),
    reset: () => sandbox.reset(),
  };
}

/** Turns command-line flags into options; throws on anything it does not understand. */
export function optionsFromArgs(args: string[]): StarterSandboxOptions {
  const { options, noLimits, ints } = parseSandboxArgs(args, { ints: ['requests'] });
  const sandbox: StarterSandboxOptions = { ...options };
  if (noLimits) sandbox.limits = false;
  else if (ints['requests'] !== undefined) sandbox.limits = { requests: ints['requests'] };
  return sandbox;
}

if (import.meta.main) await runStandalone('Starter sandbox', optionsFromArgs, startSandbox);
