import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { startSandbox, type HubSpotSandbox, type HubSpotSandboxOptions } from '../connectors/hubspot/sandbox.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// 23:59:50 UTC, so a test can cross midnight by moving the clock ten seconds.
const T0 = Date.parse('2026-03-02T23:59:50.000Z');
let clock = T0;
const open: HubSpotSandbox[] = [];

async function sandbox(options: HubSpotSandboxOptions): Promise<HubSpotSandbox> {
  clock = T0;
  const sb = await startSandbox({ now: () => clock, ...options });
  open.push(sb);
  return sb;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((sb) => sb.close()));
});
after(async () => {
  await Promise.all(open.splice(0).map((sb) => sb.close()));
});

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function call(sb: HubSpotSandbox, method: string, path: string, body?: unknown, token = sb.token): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(sb.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

const list = (sb: HubSpotSandbox, token?: string) => call(sb, 'GET', '/crm/v3/objects/contacts?limit=1', undefined, token);
const search = (sb: HubSpotSandbox) => call(sb, 'POST', '/crm/v3/objects/contacts/search', { filterGroups: [] });

function rateHeaders(reply: Reply): Record<string, string | null> {
  const names = ['Daily', 'Daily-Remaining', 'Interval-Milliseconds', 'Max', 'Remaining', 'Secondly', 'Secondly-Remaining'];
  return Object.fromEntries(names.map((n) => [n, reply.headers.get(`X-HubSpot-RateLimit-${n}`)]));
}

describe('ten-second rolling window', () => {
  test('the 6th request within 10 s is 429 with the exact body, and passes once the window has moved on', async () => {
    const sb = await sandbox({ limits: { perTenSeconds: 5, daily: 1000 } });
    for (let i = 1; i <= 5; i++) {
      const r = await call(sb, 'POST', '/crm/v3/objects/contacts', { properties: { email: `c${i}@x.test` } });
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('X-HubSpot-RateLimit-Remaining'), String(5 - i));
    }
    const throttled = await call(sb, 'POST', '/crm/v3/objects/contacts', { properties: { email: 'c6@x.test' } });
    assert.equal(throttled.status, 429);
    assert.deepEqual(throttled.body, {
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      correlationId: throttled.body.correlationId,
      policyName: 'TEN_SECONDLY_ROLLING',
    });
    assert.match(throttled.body.correlationId, UUID);
    assert.equal(throttled.headers.get('x-hubspot-correlation-id'), throttled.body.correlationId);
    assert.equal(throttled.headers.get('retry-after'), null);
    assert.equal(throttled.headers.get('content-type'), 'application/json;charset=utf-8');
    assert.deepEqual(rateHeaders(throttled), {
      Daily: '1000', 'Daily-Remaining': '994', 'Interval-Milliseconds': '10000', Max: '5', Remaining: '0', Secondly: '1', 'Secondly-Remaining': '0',
    });
    assert.equal(sb.objects('contacts').length, 5, 'a throttled write changes nothing');
    assert.equal(sb.stats().throttled, 1);

    // Requests made at T0 leave the window at exactly T0+10s, not a millisecond earlier.
    clock = T0 + 9_999;
    assert.equal((await list(sb)).status, 429);
    clock = T0 + 10_000;
    const passed = await call(sb, 'POST', '/crm/v3/objects/contacts', { properties: { email: 'c6@x.test' } });
    assert.equal(passed.status, 201);
    assert.equal(sb.objects('contacts').length, 6);
  });

  test('throttled requests count toward the window', async () => {
    const sb = await sandbox({ limits: { perTenSeconds: 2, daily: 1000 } });
    assert.equal((await list(sb)).status, 200);
    assert.equal((await list(sb)).status, 200);
    clock += 5_000;
    assert.equal((await list(sb)).status, 429);
    // The first two have left; the 429 at +5 s has not, so only one more fits.
    clock = T0 + 10_000;
    assert.equal((await list(sb)).status, 200);
    assert.equal((await list(sb)).status, 429);
  });

  test('normal responses carry the X-HubSpot-RateLimit headers', async () => {
    const sb = await sandbox({ limits: { perTenSeconds: 100, daily: 250_000 } });
    const r = await list(sb);
    assert.deepEqual(rateHeaders(r), {
      Daily: '250000', 'Daily-Remaining': '249999', 'Interval-Milliseconds': '10000', Max: '100', Remaining: '99', Secondly: '10', 'Secondly-Remaining': '9',
    });
  });

  test('each token has its own window', async () => {
    const sb = await sandbox({ tokens: ['a', 'b'], limits: { perTenSeconds: 1, daily: 1000 } });
    assert.equal((await list(sb, 'a')).status, 200);
    assert.equal((await list(sb, 'a')).status, 429);
    assert.equal((await list(sb, 'b')).status, 200);
  });

  test('limits: false never throttles and sends no rate-limit headers', async () => {
    const sb = await sandbox({ limits: false });
    for (let i = 0; i < 150; i++) assert.equal((await list(sb)).status, 200);
    const r = await list(sb);
    assert.equal(r.headers.get('X-HubSpot-RateLimit-Max'), null);
    assert.equal(sb.stats().throttled, 0);
  });
});

describe('daily limit', () => {
  test('past the daily limit every request is 429 DAILY until midnight UTC', async () => {
    const sb = await sandbox({ limits: { perTenSeconds: 100, daily: 3 } });
    for (let i = 0; i < 3; i++) assert.equal((await list(sb)).status, 200);
    const r = await list(sb);
    assert.equal(r.status, 429);
    assert.deepEqual(r.body, {
      status: 'error',
      message: 'You have reached your daily limit.',
      errorType: 'RATE_LIMIT',
      correlationId: r.body.correlationId,
      policyName: 'DAILY',
    });
    assert.equal(r.headers.get('X-HubSpot-RateLimit-Daily-Remaining'), '0');
    assert.equal(r.headers.get('retry-after'), null);
    assert.equal(sb.stats().throttledByPolicy.DAILY, 1);

    clock = Date.parse('2026-03-03T00:00:00.000Z');
    const tomorrow = await list(sb);
    assert.equal(tomorrow.status, 200);
    assert.equal(tomorrow.headers.get('X-HubSpot-RateLimit-Daily-Remaining'), '2');
    assert.equal(sb.stats().dailyUsed, 1);
  });
});

describe('maxInTenSecondWindow', () => {
  test('is the exact peak over every rolling window, per token, search excluded', async () => {
    const sb = await sandbox({ tokens: ['a', 'b'], limits: false });
    // Chosen so that an off-by-one at either edge of the window gives a different peak (10 or 12).
    const arrivals = [0, 0, 0, 0, 0, 9_999, 9_999, 9_999, 10_000, 10_000, 15_000, 19_998, 19_999, 19_999, 19_999, 19_999, 19_999];
    for (const t of arrivals) {
      clock = T0 + t;
      assert.equal((await list(sb, 'a')).status, 200);
    }
    // Brute force over the same arrivals: the largest count of arrivals within (t - 10 s, t].
    const expected = Math.max(...arrivals.map((t) => arrivals.filter((u) => u > t - 10_000 && u <= t).length));
    assert.equal(expected, 9);
    // Interleaved requests from another token and searches must not add to token a's peak.
    clock = T0 + 19_999;
    for (let i = 0; i < 4; i++) await list(sb, 'b');
    for (let i = 0; i < 5; i++) await search(sb);
    assert.equal(sb.stats().maxInTenSecondWindow, expected);
  });

  test('counts throttled requests, so a client that overran the limit shows a peak above it', async () => {
    const sb = await sandbox({ limits: { perTenSeconds: 3, daily: 1000 } });
    for (let i = 0; i < 3; i++) await list(sb);
    assert.equal(sb.stats().maxInTenSecondWindow, 3);
    assert.equal((await list(sb)).status, 429);
    assert.equal(sb.stats().maxInTenSecondWindow, 4);
  });
});

describe('search bucket', () => {
  test('search has its own 5 per second bucket, says "secondly" when throttled and sends no rate-limit headers', async () => {
    const sb = await sandbox({ limits: { perTenSeconds: 100, daily: 1000 } });
    for (let i = 0; i < 5; i++) {
      const r = await search(sb);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('X-HubSpot-RateLimit-Remaining'), null);
      assert.equal(r.headers.get('X-HubSpot-RateLimit-Daily'), null);
    }
    const throttled = await search(sb);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.body.message, 'You have reached your secondly limit.');
    assert.equal(throttled.body.policyName, 'SECONDLY');
    assert.equal(throttled.body.errorType, 'RATE_LIMIT');
    // Searches do not use up the 10 s window of normal calls.
    assert.equal((await list(sb)).headers.get('X-HubSpot-RateLimit-Remaining'), '99');
    clock += 1_000;
    assert.equal((await search(sb)).status, 200);
  });
});
