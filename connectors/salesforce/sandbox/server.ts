import { createHmac } from 'node:crypto';
import {
  bearer, formFields, MonotonicClock, SandboxHarness, harnessSettings, listenSandbox, TokenService,
  type Admission, type ApiCall, type ApiResult, type GrantResult, type SandboxApi,
} from '../../../runtime/sdk/sandbox-kit/index.ts';
import { apiFaultResult, missingAuthHeader, oauthError, oauthFaultResult, requestLimitExceeded, sessionExpired, SfError } from './errors.ts';
import { FieldCatalog } from './fields.ts';
import { KEY_PREFIXES, makeId } from './ids.ts';
import { OrgLimits } from './limits.ts';
import { resolveRoute, versionsBody, type Route } from './routing.ts';
import { SObjectApi, type SObjectRequest } from './sobjects.ts';
import { snapshot, Store } from './store.ts';
import {
  SOBJECT_TYPES,
  type FieldValue, type SalesforceSandbox, type SalesforceSandboxOptions, type SalesforceSandboxStats,
  type SandboxRecord, type SObjectType,
} from './types.ts';

export const DEFAULT_CLIENT_ID = 'sandbox-client-id';
export const DEFAULT_CLIENT_SECRET = 'sandbox-client-secret';
export const DEFAULT_REFRESH_TOKEN = 'sandbox-refresh-token';
export const DEFAULT_SESSION_TIMEOUT_MS = 2 * 3_600_000;
export const DEFAULT_MAX_API_VERSION = 62;
/** The org and its integration user; their ids show up in the token answer's identity URL. */
export const ORG_ID = makeId(KEY_PREFIXES.Organization, 1);
export const USER_ID = makeId(KEY_PREFIXES.User, 1);

const SECRET_FIELDS = ['client_secret', 'refresh_token', 'access_token', 'token', 'signature'];

/** Cuts secrets in a logged token request or answer to their first four characters. */
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

/** The `client=` part of a Sforce-Call-Options header. */
function callClient(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  const m = /(?:^|[,;]\s*)client=([^,;\s]+)/.exec(text ?? '');
  return m?.[1];
}

class Sandbox implements SandboxApi<Route> {
  readonly #clock: MonotonicClock;
  readonly #store: Store;
  readonly #catalog: FieldCatalog;
  readonly #api: SObjectApi;
  readonly #limits: OrgLimits;
  readonly #tokens: TokenService;
  readonly #maxVersion: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  #limitExceeded = { TotalRequests: 0, ConcurrentRequests: 0 };
  #sessionRejected = 0;
  #multipleChoices = 0;
  readonly harness: SandboxHarness<Route>;

  constructor(options: SalesforceSandboxOptions) {
    this.#clock = new MonotonicClock(options.now ?? Date.now);
    this.#store = new Store(options.firstId ?? (options.freshIds === true ? Date.now() : 1));
    this.#catalog = new FieldCatalog(options.extraFields);
    this.#api = new SObjectApi(this.#store, this.#catalog);
    this.#limits = new OrgLimits(options.limits ?? {});
    this.#maxVersion = options.maxApiVersion ?? DEFAULT_MAX_API_VERSION;
    this.clientId = options.clientId ?? DEFAULT_CLIENT_ID;
    this.clientSecret = options.clientSecret ?? DEFAULT_CLIENT_SECRET;
    this.#tokens = new TokenService({
      now: () => this.now(),
      clients: [{ clientId: this.clientId, clientSecret: this.clientSecret }],
      grants: ['refresh_token'],
      // A session ends after this long without use (Salesforce's session timeout), not at a fixed time.
      accessTokenTtlMs: options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      idleExpiry: true,
      tokenPrefix: `${ORG_ID.slice(0, 15)}!AQ`,
      rotateRefreshTokens: options.rotateRefreshTokens ?? false,
    });
    this.refreshToken = this.#tokens.addRefreshToken(this.clientId, USER_ID, options.refreshToken ?? DEFAULT_REFRESH_TOKEN);
    this.harness = new SandboxHarness<Route>({
      api: this,
      control: {
        stats: () => this.stats(),
        objectTypes: SOBJECT_TYPES,
        objects: (type, query) => (SOBJECT_TYPES.includes(type as SObjectType) ? this.objects(type as SObjectType, { includeDeleted: query['deleted'] === 'true' }) : undefined),
        reset: () => this.reset(),
      },
      now: () => this.now(),
      jsonContentType: 'application/json;charset=UTF-8',
      ...harnessSettings(options),
    });
    this.#controlRoutes();
  }

  now(): number {
    return this.#clock.now();
  }

  objects(type: SObjectType, opts: { includeDeleted?: boolean } = {}): SandboxRecord[] {
    if (!SOBJECT_TYPES.includes(type)) throw new TypeError(`unknown sObject type: ${String(type)}`);
    return this.#store.all(type).filter((r) => opts.includeDeleted === true || !r.deleted).map(snapshot);
  }

  /** Stores a record without the required-field and uniqueness checks (names and values are still checked). */
  seed(type: SObjectType, fields: Record<string, FieldValue>): string {
    if (!SOBJECT_TYPES.includes(type)) throw new TypeError(`unknown sObject type: ${String(type)}`);
    const changes = this.#catalog.parse(type, fields);
    return this.#store.create(type, changes.set, this.now(), undefined, { seeded: true }).id;
  }

  stats(): SalesforceSandboxStats {
    const c = this.harness.counters;
    const w = this.#store.counts;
    const t = this.#tokens.stats;
    return {
      requests: c.requests,
      byStatus: { ...c.byStatus },
      byRoute: { ...c.byRoute },
      faulted: c.faulted,
      apiUsage: this.#limits.usage(this.now()),
      apiLimit: this.#limits.max,
      limitExceeded: { ...this.#limitExceeded },
      sessionRejected: this.#sessionRejected,
      tokensIssued: t.issued,
      tokensRefused: Object.values(t.refused).reduce((a, b) => a + (b ?? 0), 0),
      created: w.created,
      updated: w.updated,
      deleted: w.deleted,
      multipleChoices: this.#multipleChoices,
    };
  }

  expireSessions(): number {
    return this.#tokens.expireAccessTokens();
  }

  revokeRefreshToken(token: string = this.refreshToken): boolean {
    return this.#tokens.revoke(token);
  }

  reset(): void {
    this.#store.reset();
    this.#limits.reset();
    this.#tokens.reset();
    this.harness.reset();
    this.#limitExceeded = { TotalRequests: 0, ConcurrentRequests: 0 };
    this.#sessionRejected = 0;
    this.#multipleChoices = 0;
    this.#clock.reset();
  }

  // SandboxApi: what the kit calls for every request.

  route(method: string, path: string): Route {
    return resolveRoute(method, path, this.#maxVersion);
  }

  admit(call: ApiCall<Route>): Admission {
    if (call.route.kind !== 'api') return {};
    const header = call.headers.authorization;
    const token = bearer(header);
    if (token === undefined) {
      this.#sessionRejected += 1;
      return { reject: (header === undefined ? missingAuthHeader() : sessionExpired()).toResult() };
    }
    if (!this.#tokens.check(token).ok) {
      this.#sessionRejected += 1;
      return { reject: sessionExpired().toResult() };
    }
    const admission = this.#limits.admit(call.at);
    if (admission.refused !== undefined) {
      this.#limitExceeded[admission.refused] += 1;
      return { reject: requestLimitExceeded(admission.refused).toResult() };
    }
    return { done: admission.release };
  }

  run(call: ApiCall<Route>): ApiResult {
    const { route } = call;
    switch (route.kind) {
      case 'versions':
        return { status: 200, body: versionsBody(this.#maxVersion) };
      case 'token':
        return this.#token(call);
      case 'revoke':
        return this.#revoke(call);
      case 'api':
        break;
    }
    try {
      if (route.error !== undefined) throw route.error;
      if (route.limits === true) {
        const max = this.#limits.max ?? 0;
        return { status: 200, body: { DailyApiRequests: { Max: max, Remaining: Math.max(0, max - this.#limits.usage(call.at)) } } };
      }
      if (route.operation === undefined || route.type === undefined || route.version === undefined) throw new Error(`route ${route.key} has no operation`);
      const request: SObjectRequest = { type: route.type, version: route.version, query: call.query, body: call.body, at: this.now(), client: callClient(call.headers['sforce-call-options']) };
      if (route.id !== undefined) request.id = route.id;
      if (route.field !== undefined) request.field = route.field;
      if (route.value !== undefined) request.value = route.value;
      const result = route.operation(this.#api, request);
      if (result.status === 300) this.#multipleChoices += 1;
      return result;
    } catch (error) {
      if (error instanceof SfError) return error.toResult();
      const message = error instanceof Error ? error.message : String(error);
      return this.errorResult(500, `Internal error: ${message}`);
    }
  }

  faultResult(status: number, body: unknown, call: ApiCall<Route>): ApiResult {
    return call.route.kind === 'token' || call.route.kind === 'revoke' ? oauthFaultResult(status, body) : apiFaultResult(status, body);
  }

  errorResult(status: number, message: string): ApiResult {
    return { status, body: [{ message, errorCode: status >= 500 ? 'UNKNOWN_EXCEPTION' : 'BAD_REQUEST' }] };
  }

  responseHeaders(call: ApiCall<Route> | undefined): Record<string, string> {
    const max = this.#limits.max;
    if (call?.route.kind !== 'api' || max === undefined) return {};
    return { 'Sforce-Limit-Info': `api-usage=${this.#limits.usage(this.now())}/${max}` };
  }

  redact(call: ApiCall<Route>, body: unknown): unknown {
    return call.route.kind === 'token' || call.route.kind === 'revoke' ? redactSecrets(body) : body;
  }

  /** POST /services/oauth2/token, the refresh-token grant: a new session, no expires_in. */
  #token(call: ApiCall<Route>): ApiResult {
    if (call.method !== 'POST') return oauthError(400, 'invalid_request', 'must use HTTP POST');
    const fields = formFields(call.body);
    const result = this.#tokens.grant(fields, call.headers.authorization);
    if (!result.ok) return grantRefusal(result);
    const url = this.harness.url;
    const id = `${url}/id/${ORG_ID}/${USER_ID}`;
    const issuedAt = String(result.issuedAt);
    const body: Record<string, string> = {
      access_token: result.accessToken,
      signature: createHmac('sha256', this.clientSecret).update(id + issuedAt).digest('base64'),
      scope: 'api refresh_token',
      instance_url: url,
      id,
      token_type: 'Bearer',
      issued_at: issuedAt,
    };
    if (result.refreshToken !== undefined) body['refresh_token'] = result.refreshToken;
    return { status: 200, body, headers: { 'cache-control': 'no-cache,no-store' } };
  }

  /** POST /services/oauth2/revoke: a refresh token (with its sessions) or one session. */
  #revoke(call: ApiCall<Route>): ApiResult {
    if (call.method !== 'POST') return oauthError(400, 'invalid_request', 'must use HTTP POST');
    const token = formFields(call.body).get('token') ?? '';
    if (token !== '' && this.#tokens.revoke(token)) return { status: 200 };
    return oauthError(400, 'unsupported_token_type', 'this token type is not supported');
  }

  #controlRoutes(): void {
    const app = this.harness.app;
    app.post('/__sandbox/sessions/expire', async () => ({ expired: this.expireSessions() }));
    app.post<{ Body: { token?: string } | undefined }>('/__sandbox/refresh-tokens/revoke', async (request, reply) => {
      const token = typeof request.body?.token === 'string' ? request.body.token : undefined;
      return this.revokeRefreshToken(token) ? reply.code(204).send() : reply.code(404).send({ error: 'unknown refresh token' });
    });
    app.post<{ Params: { type: string }; Body: unknown }>('/__sandbox/seed/:type', async (request, reply) => {
      const type = request.params.type as SObjectType;
      if (!SOBJECT_TYPES.includes(type)) return reply.code(404).send({ error: `unknown sObject type: ${request.params.type}` });
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return reply.code(400).send({ error: 'the body must be an object of fields' });
      try {
        return await reply.code(201).send({ id: this.seed(type, body as Record<string, FieldValue>) });
      } catch (error) {
        return reply.code(400).send({ error: error instanceof SfError ? error.entries : String(error) });
      }
    });
  }
}

function grantRefusal(result: Extract<GrantResult, { ok: false }>): ApiResult {
  switch (result.failure) {
    case 'unsupported_grant_type':
      return oauthError(400, 'unsupported_grant_type', 'grant type not supported');
    case 'unknown_client':
      return oauthError(400, 'invalid_client_id', 'client identifier invalid');
    case 'invalid_request':
      return result.clientId === undefined ? oauthError(400, 'invalid_client_id', 'client identifier invalid') : oauthError(400, 'invalid_grant', 'expired access/refresh token');
    case 'bad_secret':
      return oauthError(400, 'invalid_client', 'invalid client credentials');
    case 'invalid_grant':
      return oauthError(400, 'invalid_grant', 'expired access/refresh token');
  }
}

/** Starts a Salesforce REST twin (sObjects Contact and Account, plus its OAuth token endpoint) on a local port. See docs/sandboxes/salesforce.md. */
export async function startSandbox(options: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
  const sandbox = new Sandbox(options);
  const controls = await listenSandbox(sandbox.harness, options);
  const { url } = controls;
  const tokenUrl = `${url}/services/oauth2/token`;
  return {
    ...controls,
    tokenUrl,
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    refreshToken: sandbox.refreshToken,
    env: {
      SALESFORCE_BASE_URL: url,
      SALESFORCE_TOKEN_URL: tokenUrl,
      SALESFORCE_CLIENT_ID: sandbox.clientId,
      SALESFORCE_CLIENT_SECRET: sandbox.clientSecret,
      SALESFORCE_REFRESH_TOKEN: sandbox.refreshToken,
    },
    objects: (type, opts) => sandbox.objects(type, opts),
    seed: (type, fields) => sandbox.seed(type, fields),
    stats: () => sandbox.stats(),
    expireSessions: () => sandbox.expireSessions(),
    revokeRefreshToken: (token) => sandbox.revokeRefreshToken(token),
    reset: () => sandbox.reset(),
  };
}
