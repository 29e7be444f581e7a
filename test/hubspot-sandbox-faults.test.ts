import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startSandbox, type HubSpotSandbox, type LoggedRequest } from '../connectors/hubspot/sandbox.ts';

const T0 = Date.parse('2026-03-02T09:00:00.000Z');
let clock = T0;
let sb: HubSpotSandbox;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

async function call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${sb.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const init: RequestInit = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  if (signal !== undefined) init.signal = signal;
  const res = await fetch(sb.url + path, init);
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').startsWith('application/json') && text !== '';
  return { status: res.status, headers: res.headers, text, body: json ? JSON.parse(text) : undefined };
}

async function control(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (body !== undefined) init.headers = { 'content-type': 'application/json' };
  const res = await fetch(`${sb.url}/__sandbox${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

const createContact = (email: string, signal?: AbortSignal) => call('POST', '/crm/v3/objects/contacts', { properties: { email } }, signal);

/** Polls until `probe` returns something, for effects that land after the client has already given up. */
async function eventually<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const logged = (path: string, status: number) => (): LoggedRequest | undefined =>
  sb.requests().find((r) => r.path === path && r.status === status && r.fault !== undefined);

before(async () => {
  sb = await startSandbox({ now: () => clock, limits: { perTenSeconds: 1000, daily: 100_000 } });
});
after(() => sb.close());
beforeEach(() => {
  sb.reset();
  clock = T0;
});

describe('status faults', () => {
  test('423 answers once with a HubSpot error body, then the next request is normal', async () => {
    sb.injectFault({ status: 423 });
    const locked = await createContact('a@x.test');
    assert.equal(locked.status, 423);
    assert.equal(locked.body.status, 'error');
    assert.equal(locked.body.category, 'LOCKED');
    assert.equal(locked.headers.get('x-hubspot-correlation-id'), locked.body.correlationId);
    assert.equal(sb.objects('contacts').length, 0, 'a fault without apply writes nothing');
    assert.equal((await createContact('a@x.test')).status, 201);
  });

  test('477 carries the Retry-After header it was given', async () => {
    sb.injectFault({ status: 477, headers: { 'Retry-After': '3' } });
    const r = await createContact('a@x.test');
    assert.equal(r.status, 477);
    assert.equal(r.headers.get('retry-after'), '3');
    assert.equal(r.body.category, 'MIGRATION_IN_PROGRESS');
  });

  test('5xx with a custom body, matched by method and path prefix, used up after `times`', async () => {
    sb.injectFault({ match: { method: 'post', pathPrefix: '/crm/v3/objects/companies' }, times: 2, status: 502, body: { oops: true } });
    assert.equal((await createContact('a@x.test')).status, 201, 'contacts do not match the prefix');
    assert.equal((await call('GET', '/crm/v3/objects/companies')).status, 200, 'GET does not match the method');
    for (let i = 0; i < 2; i++) {
      const r = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'A' } });
      assert.equal(r.status, 502);
      assert.deepEqual(r.body, { oops: true });
    }
    assert.equal((await call('POST', '/crm/v3/objects/companies', { properties: { name: 'A' } })).status, 201);
    assert.equal(sb.stats().faulted, 2);
  });

  test('faults match in insertion order; times: Infinity lasts until cleared', async () => {
    sb.injectFault({ status: 503, times: Infinity });
    sb.injectFault({ status: 500 });
    for (let i = 0; i < 3; i++) assert.equal((await call('GET', '/crm/v3/objects/contacts')).status, 503);
    sb.clearFaults();
    assert.equal((await call('GET', '/crm/v3/objects/contacts')).status, 200);
  });

  test('524 after a delay answers with the CDN\'s HTML page once the delay has passed', async () => {
    sb.injectFault({ status: 524, delayMs: 150 });
    const started = performance.now();
    const r = await createContact('a@x.test');
    assert.ok(performance.now() - started >= 145, 'the answer waited for the delay');
    assert.equal(r.status, 524);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(r.text, /524/);
    assert.equal(sb.objects('contacts').length, 0);
  });
});

describe('timing faults', () => {
  test('a delay alone answers normally, late', async () => {
    sb.injectFault({ delayMs: 150 });
    const started = performance.now();
    const r = await createContact('a@x.test');
    assert.ok(performance.now() - started >= 145);
    assert.equal(r.status, 201);
    assert.equal(sb.objects('contacts').length, 1);
  });

  test('a delayed write the client gave up on does not land without apply', async () => {
    sb.injectFault({ delayMs: 60_000 });
    await assert.rejects(createContact('a@x.test', AbortSignal.timeout(100)), { name: 'TimeoutError' });
    const entry = await eventually('the abandoned request in the log', logged('/crm/v3/objects/contacts', 0));
    assert.equal(entry.fault, 'delay');
    assert.equal(sb.objects('contacts').length, 0);
  });

  test('hang never answers; the client gives up and nothing is written', async () => {
    sb.injectFault({ hang: true });
    await assert.rejects(createContact('a@x.test', AbortSignal.timeout(100)), { name: 'TimeoutError' });
    const entry = await eventually('the hung request in the log', logged('/crm/v3/objects/contacts', 0));
    assert.equal(entry.fault, 'hang');
    assert.equal(sb.objects('contacts').length, 0);
    assert.equal(sb.stats().byStatus['0'], 1);
  });

  test('drop destroys the socket without an answer', async () => {
    sb.injectFault({ drop: true });
    await assert.rejects(createContact('a@x.test'), TypeError);
    const entry = await eventually('the dropped request in the log', logged('/crm/v3/objects/contacts', 0));
    assert.equal(entry.fault, 'drop');
    assert.equal(sb.objects('contacts').length, 0);
    assert.equal((await createContact('a@x.test')).status, 201, 'the next request is served');
  });

  for (const fault of [{ hang: true }, { delayMs: 60_000 }, { drop: true }, { status: 504, delayMs: 60_000 }]) {
    test(`apply with ${JSON.stringify(fault)}: the client sees a failure but the write landed`, async () => {
      sb.injectFault({ ...fault, apply: true });
      await assert.rejects(createContact('landed@x.test', AbortSignal.timeout(200)));
      const [stored] = await eventually('the applied write', () => {
        const rows = sb.objects('contacts');
        return rows.length > 0 ? rows : undefined;
      });
      assert.equal(stored?.properties.email, 'landed@x.test');
      // A retry now runs into the write that landed: exactly what a client must be ready for.
      const retry = await createContact('landed@x.test');
      assert.equal(retry.status, 409);
      assert.equal(retry.body.message, `Contact already exists. Existing ID: ${stored?.id}`);
    });
  }

  test('latencyMs delays every API answer', async () => {
    const slow = await startSandbox({ latencyMs: 120, limits: false });
    try {
      const started = performance.now();
      const res = await fetch(`${slow.url}/crm/v3/objects/contacts`, { headers: { authorization: `Bearer ${slow.token}` } });
      await res.text();
      assert.equal(res.status, 200);
      assert.ok(performance.now() - started >= 115);
    } finally {
      await slow.close();
    }
  });

  test('close() ends hung requests instead of waiting for them', async () => {
    const other = await startSandbox({ limits: false });
    other.injectFault({ hang: true });
    const pending = fetch(`${other.url}/crm/v3/objects/contacts`, { headers: { authorization: `Bearer ${other.token}` } });
    await eventually('the hung request to arrive', () => (other.stats().requests > 0 ? true : undefined));
    await other.close();
    await assert.rejects(pending, TypeError);
  });
});

describe('request log', () => {
  test('records method, path, query, status and bodies, with the token shortened', async () => {
    await createContact('a@x.test');
    await call('GET', '/crm/v3/objects/contacts?limit=5&properties=email');
    const [create, list] = sb.requests();
    assert.equal(create?.method, 'POST');
    assert.equal(create?.path, '/crm/v3/objects/contacts');
    assert.equal(create?.status, 201);
    assert.equal(create?.at, T0);
    assert.deepEqual(create?.body, { properties: { email: 'a@x.test' } });
    assert.equal((create?.responseBody as { properties: { email: string } }).properties.email, 'a@x.test');
    assert.equal(create?.headers.authorization, 'Bearer sand…');
    assert.deepEqual(list?.query, { limit: '5', properties: 'email' });
  });

  test('keeps only the newest requestLogSize entries', async () => {
    const small = await startSandbox({ requestLogSize: 3, limits: false });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${small.url}/crm/v3/objects/contacts?n=${i}`, { headers: { authorization: `Bearer ${small.token}` } });
        await res.text();
      }
      assert.deepEqual(small.requests().map((r) => r.query.n), ['2', '3', '4']);
      assert.equal(small.stats().requests, 5);
    } finally {
      await small.close();
    }
  });
});

describe('control API', () => {
  test('serves stats, objects, requests and faults over HTTP, uncounted and unthrottled', async () => {
    const tight = sb;
    const limited = await startSandbox({ limits: { perTenSeconds: 1, daily: 10 }, now: () => clock });
    sb = limited;
    try {
      assert.equal((await createContact('a@x.test')).status, 201);
      for (let i = 0; i < 5; i++) assert.equal((await control('GET', '/stats')).status, 200);

      const stats = await control('GET', '/stats');
      assert.equal(stats.body.requests, 1);
      assert.equal(stats.body.created, 1);
      assert.equal(stats.body.throttled, 0);
      assert.deepEqual(stats.body.byRoute, { 'POST /crm/v3/objects/contacts': 1 });
      assert.deepEqual(stats.body, limited.stats());

      const id = limited.objects('contacts')[0]?.id;
      clock += 10_000;
      assert.equal((await call('DELETE', `/crm/v3/objects/contacts/${id}`)).status, 204);
      assert.deepEqual((await control('GET', '/objects/contacts')).body, []);
      const archived = await control('GET', '/objects/contacts?archived=true');
      assert.deepEqual(archived.body, limited.objects('contacts', { includeArchived: true }));
      assert.equal(archived.body[0]?.archived, true);
      assert.equal((await control('GET', '/objects/deals')).status, 404);

      const requests = await control('GET', '/requests');
      assert.deepEqual(requests.body.map((r: LoggedRequest) => [r.method, r.status]), [['POST', 201], ['DELETE', 204]]);

      assert.equal((await control('POST', '/faults', { status: 503, times: 'Infinity' })).status, 201);
      const armed = await control('GET', '/faults');
      assert.deepEqual(armed.body, [{ status: 503, times: null }], 'Infinity travels as null in JSON');
      clock += 10_000;
      assert.equal((await call('GET', '/crm/v3/objects/contacts')).status, 503);
      assert.equal((await control('DELETE', '/faults')).status, 204);
      clock += 10_000;
      assert.equal((await call('GET', '/crm/v3/objects/contacts')).status, 200);

      const bad = await control('POST', '/faults', { status: 'soon' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error, /status/);

      assert.equal((await control('POST', '/reset')).status, 204);
      assert.equal(limited.stats().requests, 0);
      assert.deepEqual(limited.objects('contacts', { includeArchived: true }), []);
    } finally {
      sb = tight;
      await limited.close();
    }
  });

  test('reset() drops records, counters, the log, faults and rate-limit windows', async () => {
    const limited = await startSandbox({ limits: { perTenSeconds: 2, daily: 100 }, now: () => clock });
    const get = () => fetch(`${limited.url}/crm/v3/objects/contacts`, { headers: { authorization: `Bearer ${limited.token}` } }).then(async (r) => {
      await r.text();
      return r.status;
    });
    try {
      await fetch(`${limited.url}/crm/v3/objects/contacts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${limited.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ properties: { email: 'a@x.test' } }),
      }).then((r) => r.text());
      assert.equal(await get(), 200);
      assert.equal(await get(), 429);
      limited.injectFault({ status: 500 });

      limited.reset();
      assert.deepEqual(limited.objects('contacts', { includeArchived: true }), []);
      assert.deepEqual(limited.requests(), []);
      const stats = limited.stats();
      assert.equal(stats.requests, 0);
      assert.equal(stats.throttled, 0);
      assert.equal(stats.maxInTenSecondWindow, 0);
      assert.equal(stats.created, 0);
      assert.equal(await get(), 200, 'the window is empty again and the fault is gone');
    } finally {
      await limited.close();
    }
  });
});

describe('standalone', () => {
  test('node connectors/hubspot/sandbox.ts prints its URL and token and stops cleanly on SIGTERM', async () => {
    const entry = fileURLToPath(new URL('../connectors/hubspot/sandbox.ts', import.meta.url));
    const child = spawn(process.execPath, [entry, '--port', '0', '--no-limits'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const printed: Record<string, string> = {};
      for await (const line of createInterface({ input: child.stdout })) {
        const m = /^(HUBSPOT_BASE_URL|HUBSPOT_TOKEN)=(.+)$/.exec(line);
        if (m?.[1] !== undefined && m[2] !== undefined) printed[m[1]] = m[2];
        if (printed.HUBSPOT_BASE_URL !== undefined && printed.HUBSPOT_TOKEN !== undefined) break;
      }
      assert.match(printed.HUBSPOT_BASE_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(printed.HUBSPOT_TOKEN, 'sandbox-token');
      const res = await fetch(`${printed.HUBSPOT_BASE_URL}/crm/v3/objects/contacts`, { headers: { authorization: `Bearer ${printed.HUBSPOT_TOKEN}` } });
      await res.text();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('X-HubSpot-RateLimit-Max'), null, '--no-limits');
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
