import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guidFor, optionsFromArgs, startSandbox, type DynamicsSandbox } from '../connectors/dynamics/sandbox.ts';

const T0 = Date.parse('2026-03-02T09:00:00.000Z');
let clock = T0;
let sb: DynamicsSandbox;
let token = '';

const API = '/api/data/v9.2';
const CONTACTS = `${API}/contacts`;
const byKey = (value: string) => `${CONTACTS}(new_externalid='${encodeURIComponent(value.replaceAll("'", "''"))}')`;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

async function http(sandbox: DynamicsSandbox, method: string, path: string, init: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers };
  const bearerToken = init.token === undefined ? token : init.token;
  if (bearerToken !== null) headers['authorization'] = `Bearer ${bearerToken}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(sandbox.url + path, { method, headers, body });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json') && text !== '';
  return { status: res.status, headers: res.headers, text, body: json ? JSON.parse(text) : undefined };
}

const call = (method: string, path: string, init: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}) => http(sb, method, path, init);

function clientCredentials(sandbox: DynamicsSandbox, overrides: Record<string, string> = {}, url = sandbox.tokenUrl): Promise<Reply> {
  const fields = { grant_type: 'client_credentials', client_id: sandbox.clientId, client_secret: sandbox.clientSecret, scope: sandbox.scope, ...overrides };
  return http(sandbox, 'POST', url.slice(sandbox.url.length), { token: null, body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

async function accessToken(sandbox: DynamicsSandbox): Promise<string> {
  const reply = await clientCredentials(sandbox);
  assert.equal(reply.status, 200, reply.text);
  return reply.body.access_token as string;
}

before(async () => {
  sb = await startSandbox({ now: () => clock, limits: { requests: 100_000 } });
});
after(() => sb.close());
beforeEach(async () => {
  sb.reset();
  clock = T0;
  token = await accessToken(sb);
});

describe('token endpoint (Entra ID, client credentials)', () => {
  test('answers token_type, expires_in (3599 s by default), ext_expires_in and access_token', async () => {
    const reply = await clientCredentials(sb);
    assert.equal(reply.status, 200);
    assert.deepEqual(Object.keys(reply.body).sort(), ['access_token', 'expires_in', 'ext_expires_in', 'token_type']);
    assert.deepEqual([reply.body.token_type, reply.body.expires_in, reply.body.ext_expires_in], ['Bearer', 3599, 3599]);
    assert.equal(sb.tokenUrl, `${sb.url}/72f988bf-0000-4000-8000-00000000cafe/oauth2/v2.0/token`);
    assert.equal(sb.scope, `${sb.url}/.default`);
  });

  test('refusals in Entra ID words: bad secret 401 invalid_client, unknown app, wrong scope, missing scope, other grant, wrong tenant', async () => {
    const badSecret = await clientCredentials(sb, { client_secret: 'wrong' });
    assert.equal(badSecret.status, 401);
    assert.equal(badSecret.body.error, 'invalid_client');
    assert.deepEqual(badSecret.body.error_codes, [7000215]);
    assert.match(badSecret.body.error_description, /^AADSTS7000215: Invalid client secret provided/);
    assert.deepEqual([(await clientCredentials(sb, { client_id: 'other' })).body.error], ['unauthorized_client']);
    assert.equal((await clientCredentials(sb, { scope: 'https://other.crm.dynamics.com/.default' })).body.error, 'invalid_scope');
    assert.deepEqual((await clientCredentials(sb, { scope: '' })).body.error_codes, [900144]);
    assert.equal((await clientCredentials(sb, { grant_type: 'refresh_token' })).body.error, 'unsupported_grant_type');
    const tenant = await clientCredentials(sb, {}, `${sb.url}/some-other-tenant/oauth2/v2.0/token`);
    assert.deepEqual([tenant.status, tenant.body.error_codes], [400, [90002]]);
  });

  test('an expired token, an unknown one or none: 401 with WWW-Authenticate and no body', async () => {
    clock += 3_599_000 - 1;
    assert.equal((await call('GET', `${API}/WhoAmI`)).status, 200);
    clock += 1;
    const expired = await call('GET', `${API}/WhoAmI`);
    assert.equal(expired.status, 401);
    assert.equal(expired.text, '');
    assert.equal(expired.headers.get('www-authenticate'), `Bearer authorization_uri=${sb.url}/72f988bf-0000-4000-8000-00000000cafe/oauth2/authorize, resource_id=${sb.url}/`);
    assert.equal((await call('GET', `${API}/WhoAmI`, { token: 'made-up' })).status, 401);
    assert.equal((await call('GET', `${API}/WhoAmI`, { token: null })).status, 401);
    assert.equal(sb.stats().unauthorized, 3);
  });

  test('expireTokens() ends every token; a new one works', async () => {
    assert.equal(sb.expireTokens(), 1);
    assert.equal((await call('GET', `${API}/WhoAmI`)).status, 401);
    token = await accessToken(sb);
    const who = await call('GET', `${API}/WhoAmI`);
    assert.equal(who.status, 200);
    assert.deepEqual(Object.keys(who.body).sort(), ['@odata.context', 'BusinessUnitId', 'OrganizationId', 'UserId']);
  });
});

describe('writes', () => {
  test('POST answers 204 with OData-EntityId naming the new GUID', async () => {
    const reply = await call('POST', CONTACTS, { body: { firstname: 'Ada', lastname: 'Lovelace' } });
    assert.equal(reply.status, 204);
    assert.equal(reply.text, '');
    assert.equal(reply.headers.get('odata-entityid'), `${sb.url}${CONTACTS}(${guidFor(1)})`);
    assert.equal(reply.headers.get('odata-version'), '4.0');
    assert.deepEqual(sb.objects('contacts')[0]?.attributes, { firstname: 'Ada', lastname: 'Lovelace' });
  });

  test('Prefer: return=representation answers 201 with the record', async () => {
    const reply = await call('POST', CONTACTS, { body: { lastname: 'Lovelace' }, headers: { Prefer: 'return=representation' } });
    assert.equal(reply.status, 201);
    assert.equal(reply.headers.get('preference-applied'), 'return=representation');
    assert.equal(reply.body.contactid, guidFor(1));
    assert.equal(reply.body.lastname, 'Lovelace');
    assert.equal(reply.body.fullname, 'Lovelace');
    assert.equal(reply.body['@odata.etag'], `W/"${sb.objects('contacts')[0]?.version}"`);
    assert.equal(reply.body.createdon, '2026-03-02T09:00:00Z');
  });

  test('PATCH by alternate key is an upsert: 204 creates, 204 again updates the same record (keys compare ignoring case)', async () => {
    const created = await call('PATCH', byKey('CRM-42'), { body: { lastname: 'Lovelace' } });
    assert.equal(created.status, 204);
    const id = created.headers.get('odata-entityid');
    assert.equal(id, `${sb.url}${CONTACTS}(${guidFor(1)})`);
    const updated = await call('PATCH', byKey('crm-42'), { body: { firstname: 'Ada' } });
    assert.equal(updated.status, 204);
    assert.equal(updated.headers.get('odata-entityid'), id);
    assert.deepEqual(sb.objects('contacts').map((c) => c.attributes), [{ lastname: 'Lovelace', new_externalid: 'CRM-42', firstname: 'Ada' }]);
    assert.deepEqual([sb.stats().created, sb.stats().updated], [1, 1]);
  });

  test('an alternate-key value with quotes and slashes travels as an OData literal', async () => {
    const value = "O'Brien/42 & co";
    assert.equal((await call('PATCH', byKey(value), { body: { lastname: 'x' } })).status, 204);
    assert.equal(sb.objects('contacts')[0]?.attributes['new_externalid'], value);
    assert.equal((await call('GET', byKey(value))).body.new_externalid, value);
  });

  test('PATCH by a GUID that does not exist creates the record with that GUID', async () => {
    const id = '6b0e1c2a-1111-4222-8333-444455556666';
    const reply = await call('PATCH', `${CONTACTS}(${id})`, { body: { lastname: 'x' } });
    assert.equal(reply.status, 204);
    assert.equal(sb.objects('contacts')[0]?.id, id);
  });

  test('If-Match: * makes PATCH update-only: 404 0x80040217 when missing', async () => {
    const missing = await call('PATCH', byKey('CRM-1'), { body: { lastname: 'x' }, headers: { 'If-Match': '*' } });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: { code: '0x80040217', message: 'A record with the specified key values does not exist in contact entity' } });
    assert.equal(sb.objects('contacts').length, 0);
    await call('PATCH', byKey('CRM-1'), { body: { lastname: 'x' } });
    assert.equal((await call('PATCH', byKey('CRM-1'), { body: { lastname: 'y' }, headers: { 'If-Match': '*' } })).status, 204);
    const byId = await call('PATCH', `${CONTACTS}(${guidFor(99)})`, { body: { lastname: 'y' }, headers: { 'If-Match': '*' } });
    assert.equal(byId.body.error.message, `contact With Id = ${guidFor(99)} Does Not Exist`);
  });

  test('If-None-Match: * makes PATCH create-only: 412 when the record exists', async () => {
    assert.equal((await call('PATCH', byKey('CRM-2'), { body: { lastname: 'x' }, headers: { 'If-None-Match': '*' } })).status, 204);
    const exists = await call('PATCH', byKey('CRM-2'), { body: { lastname: 'y' }, headers: { 'If-None-Match': '*' } });
    assert.equal(exists.status, 412);
    assert.equal(exists.body.error.code, '0x80040237');
    assert.equal(sb.objects('contacts')[0]?.attributes['lastname'], 'x');
  });

  test('If-Match with an old ETag is 412; with the current one it updates', async () => {
    await call('PATCH', byKey('CRM-3'), { body: { lastname: 'x' } });
    const etag = (await call('GET', byKey('CRM-3'))).headers.get('etag') ?? '';
    assert.match(etag, /^W\/"\d+"$/);
    assert.equal((await call('PATCH', byKey('CRM-3'), { body: { lastname: 'y' }, headers: { 'If-Match': etag } })).status, 204);
    const stale = await call('PATCH', byKey('CRM-3'), { body: { lastname: 'z' }, headers: { 'If-Match': etag } });
    assert.deepEqual([stale.status, stale.body.error.code], [412, '0x80060882']);
  });

  test('DELETE answers 204, then 404 0x80040217; by alternate key too', async () => {
    await call('POST', CONTACTS, { body: { lastname: 'x' } });
    assert.equal((await call('DELETE', `${CONTACTS}(${guidFor(1)})`)).status, 204);
    const again = await call('DELETE', `${CONTACTS}(${guidFor(1)})`);
    assert.equal(again.status, 404);
    assert.deepEqual(again.body, { error: { code: '0x80040217', message: `contact With Id = ${guidFor(1)} Does Not Exist` } });
    await call('PATCH', byKey('CRM-4'), { body: { lastname: 'x' } });
    assert.equal((await call('DELETE', byKey('CRM-4'))).status, 204);
    assert.equal((await call('DELETE', byKey('CRM-4'))).status, 404);
    assert.deepEqual(sb.objects('contacts'), []);
  });

  test('a duplicate alternate key on create is 412 0x80040237 and writes nothing', async () => {
    await call('PATCH', byKey('CRM-5'), { body: { lastname: 'x' } });
    const dup = await call('POST', CONTACTS, { body: { lastname: 'y', new_externalid: 'crm-5' } });
    assert.deepEqual([dup.status, dup.body.error.code], [412, '0x80040237']);
    const sameId = await call('POST', CONTACTS, { body: { contactid: guidFor(1), lastname: 'y' } });
    assert.deepEqual([sameId.status, sameId.body.error.message], [412, 'Cannot insert duplicate key.']);
    assert.equal(sb.objects('contacts').length, 1);
  });
});

describe('reads and errors', () => {
  test('GET by GUID or alternate key, with @odata.context, @odata.etag and $select', async () => {
    await call('PATCH', byKey('CRM-6'), { body: { firstname: 'Ada', lastname: 'Lovelace' } });
    const full = await call('GET', `${CONTACTS}(${guidFor(1)})`);
    assert.equal(full.status, 200);
    assert.equal(full.body['@odata.context'], `${sb.url}${API}/$metadata#contacts/$entity`);
    assert.equal(full.body.fullname, 'Ada Lovelace');
    assert.equal(full.body.emailaddress1, null);
    const narrow = await call('GET', `${byKey('CRM-6')}?$select=firstname`);
    assert.deepEqual(Object.keys(narrow.body).sort(), ['@odata.context', '@odata.etag', 'contactid', 'firstname']);
    const unknown = await call('GET', `${byKey('CRM-6')}?$select=nope`);
    assert.deepEqual([unknown.status, unknown.body.error.code], [400, '0x80060888']);
    assert.equal((await call('GET', byKey('CRM-404'))).status, 404);
  });

  test('validation errors name the attribute, with Dataverse\'s codes', async () => {
    const unknown = await call('POST', CONTACTS, { body: { shoesize: '44' } });
    assert.deepEqual(unknown.body, { error: { code: '0x80060888', message: "The property 'shoesize' does not exist on type 'Microsoft.Dynamics.CRM.contact'. Make sure to only use property names that are defined by the type." } });
    const long = await call('POST', CONTACTS, { body: { firstname: 'x'.repeat(51) } });
    assert.deepEqual([long.status, long.body.error.code], [400, '0x80044331']);
    assert.match(long.body.error.message, /maximum allowed length of '50'/);
    const typed = await call('POST', CONTACTS, { body: { firstname: 5 } });
    assert.equal(typed.body.error.code, '0x80048d19');
    const broken = await call('POST', CONTACTS, { body: '{"lastname":' });
    assert.deepEqual([broken.status, broken.body.error.code], [400, '0x80048d19']);
    const mismatch = await call('PATCH', byKey('CRM-7'), { body: { new_externalid: 'CRM-8' } });
    assert.equal(mismatch.status, 400);
    assert.equal(sb.objects('contacts').length, 0);
  });

  test('unknown entity sets and non-key attributes', async () => {
    const set = await call('GET', `${API}/leads`);
    assert.deepEqual(set.body, { error: { code: '0x8006088a', message: "Resource not found for the segment 'leads'." } });
    assert.equal(set.status, 404);
    const notKey = await call('GET', `${CONTACTS}(emailaddress1='a@b.c')`);
    assert.equal(notKey.status, 400);
  });

  test('every API answer carries OData-Version and a request id that the log shows', async () => {
    const reply = await call('GET', `${API}/WhoAmI`);
    const id = reply.headers.get('x-ms-service-request-id');
    assert.match(id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(reply.headers.get('req_id'), id);
    assert.equal(sb.requests().at(-1)?.correlationId, id);
  });
});

describe('service protection', () => {
  let limited: DynamicsSandbox;
  let limitedToken = '';
  before(async () => {
    limited = await startSandbox({ now: () => clock, tokenLifetimeMs: 24 * 3_600_000, limits: { requests: 3, windowMs: 10_000, concurrent: 2, penaltyMs: 1000 } });
  });
  after(() => limited.close());
  beforeEach(async () => {
    limited.reset();
    limitedToken = await accessToken(limited);
  });
  const who = () => http(limited, 'GET', `${API}/WhoAmI`, { token: limitedToken });

  test('over the window: 429 0x80072322 with Retry-After until the oldest request leaves the window', async () => {
    assert.equal((await who()).headers.get('x-ms-ratelimit-burst-remaining-xrm-requests'), '2');
    clock += 2000;
    await who();
    await who();
    clock += 500;
    const refused = await who();
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, { error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 3 over time window of 10 seconds.' } });
    // The first request (T0) leaves the window at T0 + 10 s: 7.5 s from now, rounded up.
    assert.equal(refused.headers.get('retry-after'), '8');
    clock = T0 + 10_000;
    assert.equal((await who()).status, 200, 'a client that waited gets in');
  });

  test('a client that keeps sending while throttled sees Retry-After grow, and stays out longer', async () => {
    for (let i = 0; i < 3; i++) await who();
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      const reply = await who();
      assert.equal(reply.status, 429);
      seen.push(Number(reply.headers.get('retry-after')));
    }
    assert.deepEqual(seen, [10, 11, 12, 13]);
    // Blocked until T0 + 13 s now; sending at T0 + 10 s (when the window has room) pushes it to T0 + 14 s.
    clock = T0 + 10_000;
    const still = await who();
    assert.deepEqual([still.status, still.headers.get('retry-after')], [429, '4'], 'the window has room, but the block was extended');
    assert.equal(limited.stats().maxRetryAfterSeconds, 13);
    clock = T0 + 14_000;
    assert.equal((await who()).status, 200);
    assert.deepEqual(limited.stats().throttledByLimit, { requests: 5, concurrent: 0 });
  });

  test('over the concurrent limit: 429 0x80072326 at once, fine again when the others end', async () => {
    limited.injectFault({ hang: true, times: 2 });
    const abort = new AbortController();
    const hung = [1, 2].map(() => fetch(`${limited.url}${API}/WhoAmI`, { headers: { authorization: `Bearer ${limitedToken}` }, signal: abort.signal }).catch(() => undefined));
    while (limited.stats().peakConcurrent < 2) await sleep(2);
    const refused = await who();
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body.error, { code: '0x80072326', message: 'Number of concurrent requests exceeded the limit of 2.' });
    assert.equal(refused.headers.get('retry-after'), '1');
    abort.abort();
    await Promise.all(hung);
    await sleep(20);
    clock += 20_000;
    assert.equal((await who()).status, 200);
    assert.equal(limited.stats().peakConcurrent, 2);
  });
});

describe('faults', () => {
  test('injected 503 and 429 answer with Dataverse error bodies; the 429 carries Retry-After', async () => {
    sb.injectFault({ status: 503 });
    const down = await call('PATCH', byKey('CRM-9'), { body: { lastname: 'x' } });
    assert.equal(down.status, 503);
    assert.ok(down.body.error.code.startsWith('0x'));
    sb.injectFault({ status: 429 });
    const throttled = await call('PATCH', byKey('CRM-9'), { body: { lastname: 'x' } });
    assert.deepEqual([throttled.status, throttled.headers.get('retry-after'), throttled.body.error.code], [429, '1', '0x80072322']);
    assert.equal(sb.objects('contacts').length, 0);
    assert.equal(sb.stats().throttled, 0, 'injected 429s are not the sandbox\'s own throttling');
  });

  test('apply + drop: the upsert lands; the retry finds the same record', async () => {
    sb.injectFault({ drop: true, apply: true });
    await assert.rejects(call('PATCH', byKey('CRM-10'), { body: { lastname: 'x' } }));
    const retried = await call('PATCH', byKey('CRM-10'), { body: { lastname: 'x' } });
    assert.equal(retried.status, 204);
    assert.equal(sb.objects('contacts').length, 1);
  });

  test('a fault on the token endpoint answers in Entra ID words', async () => {
    sb.injectFault({ match: { pathPrefix: '/72f988bf' }, status: 503 });
    const reply = await clientCredentials(sb);
    assert.deepEqual([reply.status, reply.body.error], [503, 'temporarily_unavailable']);
  });
});

describe('ids, control API and standalone', () => {
  test('reset() starts the GUID sequence over; freshIds never reissues a GUID of an earlier run', async () => {
    await call('POST', CONTACTS, { body: { lastname: 'x' } });
    sb.reset();
    token = await accessToken(sb);
    assert.equal((await call('POST', CONTACTS, { body: { lastname: 'x' } })).headers.get('odata-entityid')?.endsWith(`(${guidFor(1)})`), true);
    const create = async (): Promise<string> => {
      const fresh = await startSandbox({ freshIds: true });
      try {
        const t = await accessToken(fresh);
        return (await http(fresh, 'POST', CONTACTS, { token: t, body: { lastname: 'x' } })).headers.get('odata-entityid') ?? '';
      } finally {
        await fresh.close();
      }
    };
    const a = await create();
    await sleep(2);
    const b = await create();
    assert.notEqual(a.slice(-38), b.slice(-38));
  });

  test('control API: objects, tokens/expire, stats', async () => {
    await call('PATCH', byKey('CRM-11'), { body: { lastname: 'x' } });
    const objects = (await (await fetch(`${sb.url}/__sandbox/objects/contacts`)).json()) as Array<{ attributes: Record<string, string> }>;
    assert.equal(objects[0]?.attributes['new_externalid'], 'CRM-11');
    assert.equal((await fetch(`${sb.url}/__sandbox/objects/leads`)).status, 404);
    assert.deepEqual(await (await fetch(`${sb.url}/__sandbox/tokens/expire`, { method: 'POST' })).json(), { expired: 1 });
    const stats = (await (await fetch(`${sb.url}/__sandbox/stats`)).json()) as { created: number; tokensIssued: number };
    assert.deepEqual([stats.created, stats.tokensIssued], [1, 1]);
  });

  test('optionsFromArgs reads the flags and refuses unknown ones', () => {
    assert.deepEqual(optionsFromArgs(['--port', '4030', '--requests', '10', '--window-seconds', '60', '--concurrent', '4']), { port: 4030, limits: { requests: 10, windowMs: 60_000, concurrent: 4 } });
    assert.deepEqual(optionsFromArgs(['--no-limits', '--fresh-ids']), { freshIds: true, limits: false });
    assert.throws(() => optionsFromArgs(['--requests', 'lots']), /--requests needs a whole number/);
  });

  test('node connectors/dynamics/sandbox.ts prints its env and serves', async () => {
    const entry = fileURLToPath(new URL('../connectors/dynamics/sandbox.ts', import.meta.url));
    const child = spawn(process.execPath, [entry, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const printed: Record<string, string> = {};
      for await (const line of createInterface({ input: child.stdout })) {
        const m = /^(DYNAMICS_[A-Z_]+)=(.+)$/.exec(line);
        if (m?.[1] !== undefined && m[2] !== undefined) printed[m[1]] = m[2];
        if (printed['DYNAMICS_SCOPE'] !== undefined) break;
      }
      assert.deepEqual(Object.keys(printed).sort(), ['DYNAMICS_BASE_URL', 'DYNAMICS_CLIENT_ID', 'DYNAMICS_CLIENT_SECRET', 'DYNAMICS_SCOPE', 'DYNAMICS_TOKEN_URL']);
      const res = await fetch(printed['DYNAMICS_TOKEN_URL']!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: printed['DYNAMICS_CLIENT_ID']!, client_secret: printed['DYNAMICS_CLIENT_SECRET']!, scope: printed['DYNAMICS_SCOPE']! }),
      });
      assert.equal(res.status, 200);
      await res.json();
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
