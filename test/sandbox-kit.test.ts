import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  Arrivals, faultKind, FaultQueue, formFields, harnessSettings, intFlag, InvalidJson, loggedHeaders, MonotonicClock, parseSandboxArgs, RequestLog, SandboxHarness, TokenService,
  validateFault, type Admission, type ApiCall, type ApiResult, type SandboxApi,
} from '../runtime/sdk/sandbox-kit/index.ts';

describe('FaultQueue and validateFault', () => {
  test('faults match in the order they were armed and are used up after `times`', () => {
    const q = new FaultQueue();
    q.add({ status: 500, times: 2 });
    q.add({ status: 503 });
    assert.equal(q.take('GET', '/a')?.status, 500);
    assert.deepEqual(q.list().map((f) => [f.status, f.times]), [[500, 1], [503, 1]]);
    assert.equal(q.take('GET', '/a')?.status, 500);
    assert.equal(q.take('GET', '/a')?.status, 503);
    assert.equal(q.take('GET', '/a'), undefined);
  });

  test('match restricts by method (any case) and path prefix; Infinity never runs out', () => {
    const q = new FaultQueue();
    q.add({ match: { method: 'patch', pathPrefix: '/x/' }, status: 409, times: Infinity });
    assert.equal(q.take('GET', '/x/1'), undefined);
    assert.equal(q.take('PATCH', '/y/1'), undefined);
    for (let i = 0; i < 5; i++) assert.equal(q.take('PATCH', '/x/1')?.status, 409);
    q.clear();
    assert.equal(q.take('PATCH', '/x/1'), undefined);
  });

  test('validateFault accepts JSON forms of Infinity and refuses what makes no sense', () => {
    assert.equal(validateFault({ times: null }).times, Infinity);
    assert.equal(validateFault({ times: 'Infinity' }).times, Infinity);
    assert.throws(() => validateFault({ bogus: 1 }), /unknown fault fields: bogus/);
    assert.throws(() => validateFault({ status: 99 }), /status/);
    assert.throws(() => validateFault({ times: 0 }), /times/);
    assert.throws(() => validateFault({ hang: true, drop: true }), /both hang and drop/);
    assert.throws(() => validateFault({ drop: true, status: 500 }), /no effect/);
    assert.throws(() => validateFault([]), /must be an object/);
  });

  test('faultKind names what the client will see', () => {
    assert.equal(faultKind({ drop: true, delayMs: 5 }), 'drop');
    assert.equal(faultKind({ hang: true }), 'hang');
    assert.equal(faultKind({ status: 503, delayMs: 5 }), 'status');
    assert.equal(faultKind({ delayMs: 5 }), 'delay');
    assert.equal(faultKind({ headers: { a: 'b' } }), 'headers');
  });
});

describe('small parts', () => {
  test('RequestLog keeps the last N entries, oldest first', () => {
    const log = new RequestLog<number>(3);
    for (let i = 1; i <= 5; i++) log.push(i);
    assert.deepEqual(log.list(), [3, 4, 5]);
    log.clear();
    assert.deepEqual(log.list(), []);
    const none = new RequestLog<number>(0);
    none.push(1);
    assert.deepEqual(none.list(), []);
  });

  test('Arrivals counts a sliding window: an arrival at t drops out exactly w later', () => {
    const a = new Arrivals();
    for (const t of [0, 100, 200, 300]) a.push(t);
    a.prune(100 - 1);
    assert.equal(a.size, 3);
    assert.equal(a.oldest, 100);
    assert.equal(a.countAfter(150), 2);
    a.prune(300);
    assert.equal(a.size, 0);
    assert.equal(a.oldest, undefined);
  });

  test('MonotonicClock never goes back until reset', () => {
    let t = 1000;
    const clock = new MonotonicClock(() => t);
    assert.equal(clock.now(), 1000);
    t = 500;
    assert.equal(clock.now(), 1000);
    clock.reset();
    assert.equal(clock.now(), 500);
  });

  test('formFields reads form bodies the lenient parser kept as text', () => {
    assert.equal(formFields(new InvalidJson('grant_type=x&a=1%202', 'not JSON')).get('a'), '1 2');
    assert.equal(formFields('b=2').get('b'), '2');
    assert.equal(formFields({ a: 1 }).get('a'), null);
  });

  test('loggedHeaders cuts Bearer tokens and Basic credentials to four characters', () => {
    const out = loggedHeaders({ authorization: 'Bearer abcdefghij', 'x-other': ['a', 'b'] });
    assert.equal(out['authorization'], 'Bearer abcd…');
    assert.equal(out['x-other'], 'a, b');
    assert.equal(loggedHeaders({ authorization: 'Basic dXNlcjpwYXNz' })['authorization'], 'Basic dXNl…');
  });

  test('intFlag parses whole numbers and refuses anything else', () => {
    assert.equal(intFlag('port', '4010'), 4010);
    assert.equal(intFlag('port', undefined), undefined);
    assert.throws(() => intFlag('port', '4o'), /--port needs a whole number, got 4o/);
  });

  test('parseSandboxArgs reads the flags every sandbox takes, then the sandbox\'s own', () => {
    const parsed = parseSandboxArgs(['--port', '4010', '--host', '::1', '--latency', '5', '--fresh-ids', '--daily', '9', '--token', 'a', '--token', 'b'], { ints: ['daily', 'hourly'], lists: ['token'] });
    assert.deepEqual(parsed, { options: { port: 4010, host: '::1', latencyMs: 5, freshIds: true }, noLimits: false, ints: { daily: 9, hourly: undefined }, lists: { token: ['a', 'b'] } });
    assert.deepEqual(parseSandboxArgs(['--no-limits']), { options: {}, noLimits: true, ints: {}, lists: {} });
    assert.throws(() => parseSandboxArgs(['--daily', '9']), /Unknown option '--daily'/);
    assert.throws(() => parseSandboxArgs(['--daily', 'x'], { ints: ['daily'] }), /--daily needs a whole number, got x/);
  });

  test('harnessSettings passes on only the settings given, so the harness defaults hold', () => {
    assert.deepEqual(harnessSettings({ port: 1, latencyMs: 0, logBodies: false }), { latencyMs: 0, logBodies: false });
    assert.deepEqual(harnessSettings({}), {});
  });
});

describe('TokenService', () => {
  let now = 1_000_000;
  const clients = [{ clientId: 'app', clientSecret: 's3cret' }];
  const form = (fields: Record<string, string>) => new URLSearchParams(fields);

  test('client credentials: a token that expires on the clock, with expires_in in seconds', () => {
    const tokens = new TokenService({ now: () => now, clients, grants: ['client_credentials'], accessTokenTtlMs: 3_600_000, tokenPrefix: 'T.' });
    const issued = tokens.grant(form({ grant_type: 'client_credentials', client_id: 'app', client_secret: 's3cret' }));
    assert.ok(issued.ok);
    assert.match(issued.accessToken, /^T\./);
    assert.equal(issued.expiresIn, 3600);
    assert.equal(issued.subject, 'app');
    assert.deepEqual(tokens.check(issued.accessToken), { ok: true, subject: 'app', clientId: 'app' });
    now += 3_599_999;
    assert.equal(tokens.check(issued.accessToken).ok, true);
    now += 1;
    assert.deepEqual(tokens.check(issued.accessToken), { ok: false, reason: 'expired' });
    assert.deepEqual(tokens.check('nope'), { ok: false, reason: 'unknown' });
    assert.equal(tokens.stats.issued, 1);
    assert.equal(tokens.stats.rejectedTokens, 2);
  });

  test('client authentication: unknown client, wrong secret, missing id, unsupported grant; Basic credentials work', () => {
    const tokens = new TokenService({ now: () => now, clients, grants: ['client_credentials'] });
    const failure = (fields: Record<string, string>, authorization?: string) => {
      const r = tokens.grant(form(fields), authorization);
      return r.ok ? 'ok' : r.failure;
    };
    assert.equal(failure({ grant_type: 'client_credentials', client_id: 'other', client_secret: 's3cret' }), 'unknown_client');
    assert.equal(failure({ grant_type: 'client_credentials', client_id: 'app', client_secret: 'wrong' }), 'bad_secret');
    assert.equal(failure({ grant_type: 'client_credentials' }), 'invalid_request');
    assert.equal(failure({ grant_type: 'password', client_id: 'app', client_secret: 's3cret' }), 'unsupported_grant_type');
    assert.equal(failure({ grant_type: 'client_credentials' }, `Basic ${Buffer.from('app:s3cret').toString('base64')}`), 'ok');
    assert.deepEqual(tokens.stats.refused, { unknown_client: 1, bad_secret: 1, invalid_request: 1, unsupported_grant_type: 1 });
  });

  test('refresh tokens: grant, revoke (with the sessions they gave), invalid_grant, reset restores them', () => {
    const tokens = new TokenService({ now: () => now, clients, grants: ['refresh_token'] });
    const rt = tokens.addRefreshToken('app', 'user-1', 'rt-1');
    const grant = () => tokens.grant(form({ grant_type: 'refresh_token', client_id: 'app', client_secret: 's3cret', refresh_token: rt }));
    const first = grant();
    assert.ok(first.ok);
    assert.equal(first.subject, 'user-1');
    assert.equal(first.expiresAt, undefined, 'no fixed lifetime without accessTokenTtlMs');
    assert.equal(tokens.revoke(rt), true);
    assert.deepEqual(tokens.check(first.accessToken), { ok: false, reason: 'revoked' });
    const refused = grant();
    assert.equal(refused.ok ? 'ok' : refused.failure, 'invalid_grant');
    tokens.reset();
    assert.equal(grant().ok, true);
    assert.equal(tokens.revoke('unknown'), false);
  });

  test('idle expiry: each use starts the lifetime over; expireAccessTokens ends every session', () => {
    const tokens = new TokenService({ now: () => now, clients, grants: ['refresh_token'], accessTokenTtlMs: 1000, idleExpiry: true });
    const rt = tokens.addRefreshToken('app', 'user-1');
    const issued = tokens.grant(form({ grant_type: 'refresh_token', client_id: 'app', client_secret: 's3cret', refresh_token: rt }));
    assert.ok(issued.ok);
    for (let i = 0; i < 3; i++) {
      now += 900;
      assert.equal(tokens.check(issued.accessToken).ok, true, 'used within the timeout, it lives on');
    }
    now += 1000;
    assert.deepEqual(tokens.check(issued.accessToken), { ok: false, reason: 'expired' });
    const again = tokens.grant(form({ grant_type: 'refresh_token', client_id: 'app', client_secret: 's3cret', refresh_token: rt }));
    assert.ok(again.ok);
    assert.equal(tokens.expireAccessTokens(), 1);
    assert.equal(tokens.check(again.accessToken).ok, false);
  });

  test('rotation: a refresh gives a new refresh token and retires the old one', () => {
    const tokens = new TokenService({ now: () => now, clients, grants: ['refresh_token'], rotateRefreshTokens: true });
    const rt = tokens.addRefreshToken('app', 'user-1');
    const grant = (token: string) => tokens.grant(form({ grant_type: 'refresh_token', client_id: 'app', client_secret: 's3cret', refresh_token: token }));
    const first = grant(rt);
    assert.ok(first.ok && first.refreshToken !== undefined && first.refreshToken !== rt);
    assert.equal(grant(rt).ok, false);
    assert.equal(grant(first.refreshToken).ok, true);
  });
});

/** A tiny CRM on the harness: POST /items creates, Bearer good-token required, `X-Limit: no` refused as 429. */
interface Route {
  key: string;
  kind: 'write' | 'boom' | 'other';
}

let writes = 0;
let inFlight = 0;
let doneCalls = 0;
let clock = 5_000;

const api: SandboxApi<Route> = {
  route: (method, path) => ({ key: `${method} ${path}`, kind: path === '/items' ? 'write' : path === '/boom' ? 'boom' : 'other' }),
  admit(call: ApiCall<Route>): Admission {
    if (call.headers.authorization !== 'Bearer good-token') return { reject: { status: 401, body: { error: 'who are you' } } };
    if (call.headers['x-limit'] === 'no') return { reject: { status: 429, body: { error: 'slow down' } }, headers: { 'x-budget': '0' } };
    inFlight += 1;
    return {
      headers: { 'x-budget': '9' },
      done: () => {
        inFlight -= 1;
        doneCalls += 1;
      },
    };
  },
  run(call: ApiCall<Route>): ApiResult {
    if (call.route.kind === 'boom') throw new Error('kaput');
    if (call.route.kind === 'write') {
      writes += 1;
      return { status: 201, body: { n: writes, secret: 'hunter2' } };
    }
    return { status: 404, body: { error: 'no such thing' } };
  },
  faultResult: (status, body) => (body !== undefined ? { status, body } : { status, body: { error: `injected ${status}` } }),
  errorResult: (status, message) => ({ status, body: { error: message } }),
  responseHeaders: (_call, correlationId) => ({ 'x-request-id': correlationId }),
  redact: (_call, body) => (typeof body === 'object' && body !== null && 'secret' in body ? { ...body, secret: '…' } : body),
};

describe('SandboxHarness over real HTTP', () => {
  let harness: SandboxHarness<Route>;
  let resets = 0;

  const call = (path: string, init: RequestInit & { token?: string } = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${init.token ?? 'good-token'}`);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    return fetch(harness.url + path, { method: 'POST', ...init, headers });
  };

  before(async () => {
    harness = new SandboxHarness<Route>({
      api,
      control: {
        stats: () => ({ writes, ...harness.counters }),
        objectTypes: ['items'],
        objects: (type) => (type === 'items' ? [{ writes }] : undefined),
        reset: () => {
          resets += 1;
          harness.reset();
        },
      },
      now: () => clock,
    });
    await harness.listen('127.0.0.1', 0);
  });
  after(() => harness.close());
  beforeEach(() => {
    harness.reset();
    writes = 0;
    doneCalls = 0;
  });

  test('a normal request: admission headers, per-response headers, JSON body, logged with redaction', async () => {
    const res = await call('/items', { body: JSON.stringify({ a: 1 }) });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-budget'), '9');
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('content-type'), 'application/json;charset=utf-8');
    assert.deepEqual(await res.json(), { n: 1, secret: 'hunter2' });
    const [entry] = harness.requests();
    assert.equal(entry?.status, 201);
    assert.equal(entry?.at, 5_000);
    assert.equal(entry?.correlationId, res.headers.get('x-request-id'));
    assert.deepEqual(entry?.body, { a: 1 });
    assert.deepEqual(entry?.responseBody, { n: 1, secret: '…' });
    assert.equal(entry?.headers['authorization'], 'Bearer good…');
    assert.equal(doneCalls, 1);
  });

  test('a rejected admission is answered as given and no fault or operation runs', async () => {
    harness.injectFault({ status: 503 });
    const res = await call('/items', { token: 'bad' });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'who are you' });
    const throttled = await call('/items', { headers: { 'x-limit': 'no' } });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('x-budget'), '0');
    await throttled.text();
    assert.equal(writes, 0);
    assert.equal(harness.faults().length, 1, 'the fault is still armed');
  });

  test('a status fault answers with the API\'s fault body plus the fault\'s headers, and writes nothing', async () => {
    harness.injectFault({ status: 503, headers: { 'Retry-After': '7' } });
    const res = await call('/items');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.deepEqual(await res.json(), { error: 'injected 503' });
    assert.equal(writes, 0);
    assert.equal(harness.counters.faulted, 1);
    assert.equal(harness.requests()[0]?.fault, 'status');
  });

  test('apply + drop: the write lands though the client gets no answer (logged as status 0)', async () => {
    harness.injectFault({ drop: true, apply: true });
    await assert.rejects(call('/items'));
    assert.equal(writes, 1);
    const entry = await eventually(() => harness.requests().find((r) => r.fault === 'drop'));
    assert.equal(entry.status, 0);
    assert.equal(harness.counters.byStatus['0'], 1);
  });

  test('hang: no answer until the client gives up; done() still runs once', async () => {
    harness.injectFault({ hang: true });
    await assert.rejects(call('/items', { signal: AbortSignal.timeout(100) }));
    const entry = await eventually(() => harness.requests().find((r) => r.fault === 'hang'));
    assert.equal(entry.status, 0);
    assert.equal(writes, 0);
    assert.equal(doneCalls, 1);
    assert.equal(inFlight, 0);
  });

  test('delay answers normally, late, with the write done after the delay', async () => {
    harness.injectFault({ delayMs: 60, headers: { 'x-extra': 'yes' } });
    const started = performance.now();
    const res = await call('/items');
    assert.ok(performance.now() - started >= 55);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-extra'), 'yes');
    assert.equal(res.headers.get('x-budget'), '9');
    await res.text();
    assert.equal(writes, 1);
  });

  test('an exception in the operation is answered by errorResult as a 500', async () => {
    const res = await call('/boom');
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'Internal error: kaput' });
  });

  test('control API: stats, objects, requests, faults (armed, refused, cleared) and reset', async () => {
    await (await call('/items')).text();
    const control = (method: string, path: string, body?: unknown) =>
      fetch(`${harness.url}/__sandbox${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    assert.equal(((await (await control('GET', '/stats')).json()) as { writes: number }).writes, 1);
    assert.deepEqual(await (await control('GET', '/objects/items')).json(), [{ writes: 1 }]);
    assert.equal((await control('GET', '/objects/nope')).status, 404);
    assert.deepEqual(await (await control('GET', '/objects')).json(), { items: [{ writes: 1 }] });
    assert.equal(((await (await control('GET', '/requests')).json()) as unknown[]).length, 1);
    const armed = await control('POST', '/faults', { status: 502, times: null });
    assert.equal(armed.status, 201);
    assert.deepEqual(await armed.json(), { armed: [{ status: 502, times: null }] }, 'Infinity travels as null in JSON');
    const refused = await control('POST', '/faults', { status: 502, bogus: true });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /bogus/);
    assert.equal((await control('DELETE', '/faults')).status, 204);
    assert.deepEqual(harness.faults(), []);
    assert.equal((await control('GET', '/nothing-here')).status, 404);
    const before = resets;
    assert.equal((await control('POST', '/reset')).status, 204);
    assert.equal(resets, before + 1);
    assert.deepEqual(harness.requests(), []);
    assert.equal(harness.counters.requests, 0, 'control requests are not counted');
  });

  test('a body that is not JSON reaches the API as InvalidJson, text kept in the log', async () => {
    const res = await fetch(`${harness.url}/items`, { method: 'POST', headers: { authorization: 'Bearer good-token', 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=2' });
    assert.equal(res.status, 201);
    await res.text();
    assert.equal(harness.requests()[0]?.body, 'a=1&b=2');
  });
});

describe('SandboxHarness latency and close', () => {
  test('latencyMs delays every API answer; close() ends hung requests', async () => {
    const harness = new SandboxHarness<Route>({
      api,
      control: { stats: () => ({}), objectTypes: [], objects: () => undefined, reset: () => {} },
      now: () => clock,
      latencyMs: 50,
    });
    await harness.listen('127.0.0.1', 0);
    try {
      const started = performance.now();
      const res = await fetch(`${harness.url}/other`, { headers: { authorization: 'Bearer good-token' } });
      await res.text();
      assert.ok(performance.now() - started >= 45);
      harness.injectFault({ hang: true });
      const hung = fetch(`${harness.url}/other`, { headers: { authorization: 'Bearer good-token' } });
      await sleep(20);
      await harness.close();
      await assert.rejects(hung);
    } finally {
      await harness.close();
    }
  });
});

async function eventually<T>(probe: () => T | undefined): Promise<T> {
  const deadline = performance.now() + 3_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error('timed out waiting');
    await sleep(5);
  }
}
