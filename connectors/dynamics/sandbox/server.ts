import { randomUUID } from 'node:crypto';
import {
  bearer, formFields, MonotonicClock, SandboxHarness, harnessSettings, listenSandbox, TokenService,
  type Admission, type ApiCall, type ApiResult, type GrantResult, type SandboxApi,
} from '../../../runtime/sdk/sandbox-kit/index.ts';
import { AttributeCatalog } from './attributes.ts';
import { ContactsApi, type EntityRequest } from './contacts.ts';
import { apiFaultResult, CODES, DvError } from './errors.ts';
import { ServiceProtection } from './protection.ts';
import { resolveRoute, type Route } from './routing.ts';
import { snapshot, Store } from './store.ts';
import {
  ENTITY_SETS,
  type DynamicsSandbox, type DynamicsSandboxOptions, type DynamicsSandboxStats, type EntitySet,
  type SandboxEntity,
} from './types.ts';

export const DEFAULT_TENANT_ID = '72f988bf-0000-4000-8000-00000000cafe';
export const DEFAULT_CLIENT_ID = 'sandbox-client-id';
export const DEFAULT_CLIENT_SECRET = 'sandbox-client-secret';
export const DEFAULT_TOKEN_LIFETIME_MS = 3_599_000;
/** The organization and business unit WhoAmI reports. */
export const ORGANIZATION_ID = '00000000-0000-4000-8000-0000000000a1';
const BUSINESS_UNIT_ID = '00000000-0000-4000-8000-0000000000b1';
/** The application user of the app registration (client credentials act as this user). */
const APPLICATION_USER_ID = '00000000-0000-4000-8000-0000000000c1';

const SECRET_FIELDS = ['client_secret', 'access_token', 'client_assertion'];

function redactSecrets(body: unknown): unknown {
  const cut = (value: string): string => `${value.slice(0, 4)}…`;
  if (typeof body === 'string') {
    return [...new URLSearchParams(body)].map(([name, value]) => `${name}=${SECRET_FIELDS.includes(name) ? cut(value) : encodeURIComponent(value)}`).join('&');
  }
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
    for (const name of SECRET_FIELDS) if (typeof out[name] === 'string') out[name] = cut(out[name]);
    return out;
  }
  return body;
}

const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/** Entra ID's error answer: `{error, error_description: "AADSTSnnnn: …", error_codes, timestamp, trace_id, correlation_id, error_uri}`. */
function entraError(status: number, error: string, code: number, description: string, now: number): ApiResult {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date(now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
    headers: { 'cache-control': 'no-store, no-cache' },
  };
}

class Sandbox implements SandboxApi<Route> {
  readonly #clock: MonotonicClock;
  readonly #store: Store;
  readonly #api: ContactsApi;
  readonly #protection: ServiceProtection;
  readonly #tokens: TokenService;
  readonly #alternateKeys: string[];
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  #throttled = { requests: 0, concurrent: 0 };
  #maxRetryAfter = 0;
  #unauthorized = 0;
  readonly harness: SandboxHarness<Route>;

  constructor(options: DynamicsSandboxOptions) {
    this.#clock = new MonotonicClock(options.now ?? Date.now);
    this.#alternateKeys = options.alternateKeys ?? ['new_externalid'];
    const catalog = new AttributeCatalog(options.extraAttributes);
    for (const key of this.#alternateKeys) if (!catalog.has(key)) throw new TypeError(`alternate key ${key} is not an attribute of contact`);
    this.#store = new Store(this.#alternateKeys, options.firstId ?? (options.freshIds === true ? Date.now() : 1));
    this.#api = new ContactsApi(this.#store, catalog);
    this.#protection = new ServiceProtection(options.limits ?? {});
    this.tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
    this.clientId = options.clientId ?? DEFAULT_CLIENT_ID;
    this.clientSecret = options.clientSecret ?? DEFAULT_CLIENT_SECRET;
    this.#tokens = new TokenService({
      now: () => this.now(),
      clients: [{ clientId: this.clientId, clientSecret: this.clientSecret }],
      grants: ['client_credentials'],
      accessTokenTtlMs: options.tokenLifetimeMs ?? DEFAULT_TOKEN_LIFETIME_MS,
      tokenPrefix: 'eyJ0eXAiOiJKV1QifQ.',
    });
    this.harness = new SandboxHarness<Route>({
      api: this,
      control: {
        stats: () => this.stats(),
        objectTypes: ENTITY_SETS,
        objects: (set) => (ENTITY_SETS.includes(set as EntitySet) ? this.objects(set as EntitySet) : undefined),
        reset: () => this.reset(),
      },
      now: () => this.now(),
      jsonContentType: 'application/json; odata.metadata=minimal',
      ...harnessSettings(options),
    });
    this.harness.app.post('/__sandbox/tokens/expire', async () => ({ expired: this.expireTokens() }));
  }

  now(): number {
    return this.#clock.now();
  }

  get scope(): string {
    return `${this.harness.url}/.default`;
  }

  objects(set: EntitySet): SandboxEntity[] {
    if (!ENTITY_SETS.includes(set)) throw new TypeError(`unknown entity set: ${String(set)}`);
    return this.#store.all().map(snapshot);
  }

  stats(): DynamicsSandboxStats {
    const c = this.harness.counters;
    const w = this.#store.counts;
    const t = this.#tokens.stats;
    return {
      requests: c.requests,
      byStatus: { ...c.byStatus },
      byRoute: { ...c.byRoute },
      faulted: c.faulted,
      throttled: this.#throttled.requests + this.#throttled.concurrent,
      throttledByLimit: { ...this.#throttled },
      peakConcurrent: this.#protection.peakConcurrent,
      maxRetryAfterSeconds: this.#maxRetryAfter,
      unauthorized: this.#unauthorized,
      tokensIssued: t.issued,
      tokensRefused: Object.values(t.refused).reduce((a, b) => a + (b ?? 0), 0),
      created: w.created,
      updated: w.updated,
      deleted: w.deleted,
    };
  }

  expireTokens(): number {
    return this.#tokens.expireAccessTokens();
  }

  reset(): void {
    this.#store.reset();
    this.#protection.reset();
    this.#tokens.reset();
    this.harness.reset();
    this.#throttled = { requests: 0, concurrent: 0 };
    this.#maxRetryAfter = 0;
    this.#unauthorized = 0;
    this.#clock.reset();
  }

  // SandboxApi: what the kit calls for every request.

  route(method: string, path: string): Route {
    return resolveRoute(method, path, this.#alternateKeys);
  }

  admit(call: ApiCall<Route>): Admission {
    if (call.route.kind !== 'api') return {};
    const check = this.#tokens.check(bearer(call.headers.authorization));
    if (!check.ok) {
      this.#unauthorized += 1;
      // Dataverse's 401 has no body; the header says where a token comes from.
      const authenticate = `Bearer authorization_uri=${this.harness.url}/${this.tenantId}/oauth2/authorize, resource_id=${this.harness.url}/`;
      return { reject: { status: 401, headers: { 'WWW-Authenticate': authenticate } } };
    }
    const verdict = this.#protection.admit(check.subject, call.at);
    if (verdict.refused !== undefined) {
      const { limit, retryAfterSeconds } = verdict.refused;
      this.#throttled[limit] += 1;
      this.#maxRetryAfter = Math.max(this.#maxRetryAfter, retryAfterSeconds);
      const limits = this.#protection.limits;
      const error = limit === 'requests'
        ? new DvError(429, CODES.requestLimit, `Number of requests exceeded the limit of ${limits === false ? 0 : limits.requests} over time window of ${limits === false ? 0 : limits.windowMs / 1000} seconds.`)
        : new DvError(429, CODES.concurrencyLimit, `Number of concurrent requests exceeded the limit of ${limits === false ? 0 : limits.concurrent}.`);
      return { reject: { ...error.toResult(), headers: { 'Retry-After': String(retryAfterSeconds) } } };
    }
    return { headers: verdict.headers, done: verdict.release };
  }

  run(call: ApiCall<Route>): ApiResult {
    const { route } = call;
    if (route.kind === 'token') return this.#token(call);
    try {
      if (route.error !== undefined) throw route.error;
      if (route.whoAmI === true) {
        return {
          status: 200,
          body: {
            '@odata.context': `${this.harness.url}/api/data/${route.version ?? 'v9.2'}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
            BusinessUnitId: BUSINESS_UNIT_ID,
            UserId: APPLICATION_USER_ID,
            OrganizationId: ORGANIZATION_ID,
          },
        };
      }
      if (route.operation === undefined || route.set === undefined || route.version === undefined) throw new Error(`route ${route.key} has no operation`);
      const request: EntityRequest = {
        set: route.set,
        version: route.version,
        query: call.query,
        body: call.body,
        ifMatch: header(call.headers['if-match']),
        ifNoneMatch: header(call.headers['if-none-match']),
        representation: /return=representation/i.test(header(call.headers['prefer']) ?? ''),
        at: this.now(),
        baseUrl: this.harness.url,
      };
      if (route.recordKey !== undefined) request.key = route.recordKey;
      return route.operation(this.#api, request);
    } catch (error) {
      if (error instanceof DvError) return error.toResult();
      const message = error instanceof Error ? error.message : String(error);
      return this.errorResult(500, `Internal error: ${message}`);
    }
  }

  faultResult(status: number, body: unknown, call: ApiCall<Route>): ApiResult {
    if (call.route.kind === 'token' && body === undefined && status >= 400) {
      return entraError(status, status >= 500 ? 'temporarily_unavailable' : 'invalid_request', 50_000 + (status % 1000), 'The service is temporarily unavailable.', this.now());
    }
    return apiFaultResult(status, body);
  }

  errorResult(status: number, message: string): ApiResult {
    return new DvError(status, status >= 500 ? CODES.internal : CODES.badRequest, message).toResult();
  }

  responseHeaders(call: ApiCall<Route> | undefined, correlationId: string): Record<string, string> {
    if (call?.route.kind === 'token') return { 'x-ms-request-id': correlationId };
    return { 'OData-Version': '4.0', 'x-ms-service-request-id': correlationId, REQ_ID: correlationId };
  }

  redact(call: ApiCall<Route>, body: unknown): unknown {
    return call.route.kind === 'token' ? redactSecrets(body) : body;
  }

  /** POST /{tenant}/oauth2/v2.0/token, the client-credentials grant with scope `<org url>/.default`. */
  #token(call: ApiCall<Route>): ApiResult {
    const now = this.now();
    if (call.method !== 'POST') return entraError(400, 'invalid_request', 900_561, 'The endpoint only accepts POST requests.', now);
    if (call.route.tenant !== this.tenantId) return entraError(400, 'invalid_request', 90_002, `Tenant '${call.route.tenant ?? ''}' not found.`, now);
    const fields = formFields(call.body);
    const result = this.#tokens.grant(fields, call.headers.authorization);
    if (!result.ok) return this.#grantRefusal(result, now);
    const scope = fields.get('scope') ?? '';
    if (scope === '') return entraError(400, 'invalid_request', 900_144, "The request body must contain the following parameter: 'scope'.", now);
    if (!scope.split(' ').every((s) => s === this.scope || s === `${this.harness.url}//.default`)) {
      return entraError(400, 'invalid_scope', 70_011, `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: ${scope}. Use ${this.scope}.`, now);
    }
    const seconds = result.expiresIn ?? 3599;
    return {
      status: 200,
      body: { token_type: 'Bearer', expires_in: seconds, ext_expires_in: seconds, access_token: result.accessToken },
      headers: { 'cache-control': 'no-store, no-cache' },
    };
  }

  #grantRefusal(result: Extract<GrantResult, { ok: false }>, now: number): ApiResult {
    switch (result.failure) {
      case 'unsupported_grant_type':
        return entraError(400, 'unsupported_grant_type', 70_003, `The app requested an unsupported grant type '${result.grant ?? ''}'.`, now);
      case 'invalid_request':
        return entraError(400, 'invalid_request', 900_144, "The request body must contain the following parameter: 'client_id'.", now);
      case 'unknown_client':
        return entraError(400, 'unauthorized_client', 700_016, `Application with identifier '${result.clientId ?? ''}' was not found in the directory '${this.tenantId}'.`, now);
      case 'bad_secret':
      case 'invalid_grant':
        return entraError(401, 'invalid_client', 7_000_215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.', now);
    }
  }
}

/** Starts a Dataverse Web API twin (contacts) with an Entra-ID-like token endpoint on a local port. See docs/sandboxes/dynamics.md. */
export async function startSandbox(options: DynamicsSandboxOptions = {}): Promise<DynamicsSandbox> {
  const sandbox = new Sandbox(options);
  const controls = await listenSandbox(sandbox.harness, options);
  const { url } = controls;
  const tokenUrl = `${url}/${sandbox.tenantId}/oauth2/v2.0/token`;
  return {
    ...controls,
    tokenUrl,
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    scope: sandbox.scope,
    env: {
      DYNAMICS_BASE_URL: url,
      DYNAMICS_TOKEN_URL: tokenUrl,
      DYNAMICS_CLIENT_ID: sandbox.clientId,
      DYNAMICS_CLIENT_SECRET: sandbox.clientSecret,
      DYNAMICS_SCOPE: sandbox.scope,
    },
    objects: (set) => sandbox.objects(set),
    stats: () => sandbox.stats(),
    expireTokens: () => sandbox.expireTokens(),
    reset: () => sandbox.reset(),
  };
}
