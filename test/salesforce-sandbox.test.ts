import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHmac } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checksum, makeId, normalizeId, optionsFromArgs, startSandbox, type SalesforceSandbox } from '../connectors/salesforce/sandbox.ts';

const T0 = Date.parse('2026-03-02T09:00:00.000Z');
const HOUR = 3_600_000;
let clock = T0;
let sb: SalesforceSandbox;
let token = '';

const V = '/services/data/v62.0';
const CONTACTS = `${V}/sobjects/Contact`;
const ACCOUNTS = `${V}/sobjects/Account`;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

async function http(sandbox: SalesforceSandbox, method: string, path: string, init: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}): Promise<Reply> {
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

async function grant(sandbox: SalesforceSandbox, fields: Record<string, string>): Promise<Reply> {
  return http(sandbox, 'POST', '/services/oauth2/token', { token: null, body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

const refreshGrant = (sandbox: SalesforceSandbox, overrides: Record<string, string> = {}) =>
  grant(sandbox, { grant_type: 'refresh_token', client_id: sandbox.clientId, client_secret: sandbox.clientSecret, refresh_token: sandbox.refreshToken, ...overrides });

async function session(sandbox: SalesforceSandbox): Promise<string> {
  const reply = await refreshGrant(sandbox);
  assert.equal(reply.status, 200, reply.text);
  return reply.body.access_token as string;
}

before(async () => {
  sb = await startSandbox({ now: () => clock, limits: { dailyApiRequests: 1_000_000 } });
});
after(() => sb.close());
beforeEach(async () => {
  sb.reset();
  clock = T0;
  token = await session(sb);
});

describe('ids', () => {
  test('18-character ids: the key prefix names the object, the suffix is the case checksum', () => {
    const id = makeId('003', 1);
    assert.match(id, /^003[a-zA-Z0-9]{15}$/);
    assert.equal(id.slice(15), checksum(id.slice(0, 15)));
    // A well-known pair: the checksum encodes which of the 15 characters are upper case.
    assert.equal(checksum('001A0000006Vm9r'), 'IAC');
    assert.equal(normalizeId('001A0000006Vm9r'), '001A0000006Vm9rIAC');
    assert.equal(normalizeId('001A0000006Vm9rIAC'), '001A0000006Vm9rIAC');
    assert.equal(normalizeId('001A0000006Vm9rAAA'), undefined, 'a wrong checksum is no id');
    assert.equal(normalizeId('nope'), undefined);
  });
});

describe('OAuth token endpoint', () => {
  test('the refresh-token grant answers access_token, instance_url, id, issued_at, signature, token_type, scope and no expires_in', async () => {
    const reply = await refreshGrant(sb);
    assert.equal(reply.status, 200);
    assert.deepEqual(Object.keys(reply.body).sort(), ['access_token', 'id', 'instance_url', 'issued_at', 'scope', 'signature', 'token_type']);
    assert.equal(reply.body.token_type, 'Bearer');
    assert.equal(reply.body.instance_url, sb.url);
    assert.equal(reply.body.issued_at, String(T0));
    assert.match(reply.body.id, new RegExp(`^${sb.url}/id/00D\\w{15}/005\\w{15}$`));
    const expected = createHmac('sha256', sb.clientSecret).update(reply.body.id + reply.body.issued_at).digest('base64');
    assert.equal(reply.body.signature, expected);
    assert.notEqual(reply.body.access_token, token, 'every refresh opens a new session');
  });

  test('a revoked refresh token gets 400 invalid_grant "expired access/refresh token", and its sessions end', async () => {
    assert.equal(sb.revokeRefreshToken(), true);
    const reply = await refreshGrant(sb);
    assert.equal(reply.status, 400);
    assert.deepEqual(reply.body, { error: 'invalid_grant', error_description: 'expired access/refresh token' });
    assert.equal((await call('GET', `${V}/limits`)).status, 401);
  });

  test('POST /services/oauth2/revoke revokes a refresh token; an unknown token is refused', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const revoked = await call('POST', '/services/oauth2/revoke', { token: null, body: `token=${sb.refreshToken}`, headers: form });
    assert.equal(revoked.status, 200);
    assert.equal((await refreshGrant(sb)).body.error, 'invalid_grant');
    const unknown = await call('POST', '/services/oauth2/revoke', { token: null, body: 'token=nope', headers: form });
    assert.deepEqual([unknown.status, unknown.body.error], [400, 'unsupported_token_type']);
  });

  test('client and grant errors in OAuth words', async () => {
    assert.deepEqual((await refreshGrant(sb, { client_secret: 'wrong' })).body, { error: 'invalid_client', error_description: 'invalid client credentials' });
    assert.deepEqual((await refreshGrant(sb, { client_id: 'other' })).body, { error: 'invalid_client_id', error_description: 'client identifier invalid' });
    assert.deepEqual((await refreshGrant(sb, { grant_type: 'password' })).body, { error: 'unsupported_grant_type', error_description: 'grant type not supported' });
    assert.equal((await refreshGrant(sb, { refresh_token: 'made-up' })).status, 400);
    assert.equal(sb.stats().tokensRefused, 4);
  });

  test('the token request is logged with its secrets cut short', async () => {
    const entry = sb.requests().find((r) => r.path === '/services/oauth2/token');
    assert.ok(entry);
    assert.match(String(entry.body), /client_secret=sand…/);
    assert.doesNotMatch(String(entry.body), /sandbox-client-secret/);
    assert.match(String((entry.responseBody as { access_token: string }).access_token), /^.{4}…$/);
  });
});

describe('sessions', () => {
  const expired = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }];

  test('a session unused for the session timeout (2 h) is over: 401 INVALID_SESSION_ID', async () => {
    clock += 2 * HOUR - 1;
    assert.equal((await call('GET', `${V}/limits`)).status, 200, 'used just in time, it lives on');
    clock += 2 * HOUR - 1;
    assert.equal((await call('GET', `${V}/limits`)).status, 200);
    clock += 2 * HOUR;
    const reply = await call('GET', `${V}/limits`);
    assert.equal(reply.status, 401);
    assert.deepEqual(reply.body, expired);
    assert.equal(sb.stats().sessionRejected, 1);
  });

  test('expireSessions() ends every session; a refresh gives a working one', async () => {
    assert.equal(sb.expireSessions(), 1);
    assert.deepEqual((await call('GET', `${V}/limits`)).body, expired);
    token = await session(sb);
    assert.equal((await call('GET', `${V}/limits`)).status, 200);
  });

  test('an unknown token is INVALID_SESSION_ID; no Authorization header is INVALID_AUTH_HEADER', async () => {
    assert.deepEqual((await call('GET', `${V}/limits`, { token: 'made-up' })).body, expired);
    const none = await call('GET', `${V}/limits`, { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.body[0].errorCode, 'INVALID_AUTH_HEADER');
  });
});

describe('create, read, update, delete', () => {
  test('create answers 201 {id, success, errors}; ids carry the object\'s key prefix and follow a sequence', async () => {
    const contact = await call('POST', CONTACTS, { body: { LastName: 'Lovelace', Email: 'ada@example.com' } });
    assert.equal(contact.status, 201);
    assert.deepEqual(contact.body, { id: makeId('003', 1), success: true, errors: [] });
    const account = await call('POST', ACCOUNTS, { body: { Name: 'Acme', NumberOfEmployees: 12 } });
    assert.equal(account.body.id, makeId('001', 2));
    assert.deepEqual(sb.objects('Account')[0]?.fields, { Name: 'Acme', NumberOfEmployees: 12 });
  });

  test('an Id in the body is 400 INVALID_FIELD; errors are JSON arrays of {message, errorCode, fields}', async () => {
    const reply = await call('POST', CONTACTS, { body: { Id: makeId('003', 9), LastName: 'X' } });
    assert.equal(reply.status, 400);
    assert.deepEqual(reply.body, [{ message: 'The Id field should not be specified in the sobject data.', errorCode: 'INVALID_FIELD', fields: ['Id'] }]);
    assert.equal(sb.objects('Contact').length, 0);
  });

  test('required fields: Contact.LastName and Account.Name are REQUIRED_FIELD_MISSING', async () => {
    const contact = await call('POST', CONTACTS, { body: { FirstName: 'Ada' } });
    assert.deepEqual(contact.body, [{ message: 'Required fields are missing: [LastName]', errorCode: 'REQUIRED_FIELD_MISSING', fields: ['LastName'] }]);
    const account = await call('POST', ACCOUNTS, { body: { Website: 'acme.test' } });
    assert.deepEqual(account.body[0].fields, ['Name']);
  });

  test('field checks: unknown field, read-only field, too long, bad email, wrong JSON type; every problem listed', async () => {
    const reply = await call('POST', CONTACTS, { body: { LastName: 'X', Shoe__c: '44', CreatedDate: 'x', FirstName: 'y'.repeat(41), Email: 'nope' } });
    assert.equal(reply.status, 400);
    assert.deepEqual(reply.body.map((e: { errorCode: string }) => e.errorCode), ['INVALID_FIELD', 'INVALID_FIELD_FOR_INSERT_UPDATE', 'STRING_TOO_LONG', 'INVALID_EMAIL_ADDRESS']);
    assert.equal(reply.body[0].message, "No such column 'Shoe__c' on sobject of type Contact");
    const typed = await call('POST', ACCOUNTS, { body: { Name: 'A', NumberOfEmployees: 'many' } });
    assert.equal(typed.body[0].errorCode, 'JSON_PARSER_ERROR');
    const broken = await call('POST', CONTACTS, { body: '{"LastName":' });
    assert.deepEqual([broken.status, broken.body[0].errorCode], [400, 'JSON_PARSER_ERROR']);
  });

  test('Ext_Id__c is unique (case-insensitively): a duplicate is 400 DUPLICATE_VALUE naming the holder', async () => {
    const first = await call('POST', CONTACTS, { body: { LastName: 'A', Ext_Id__c: 'CRM-1' } });
    const dup = await call('POST', CONTACTS, { body: { LastName: 'B', Ext_Id__c: 'crm-1' } });
    assert.equal(dup.status, 400);
    assert.deepEqual(dup.body, [{ message: `duplicate value found: Ext_Id__c duplicates value on record with id: ${first.body.id}`, errorCode: 'DUPLICATE_VALUE', fields: ['Ext_Id__c'] }]);
  });

  test('read returns the record with attributes; ?fields= narrows it (Id always in)', async () => {
    const { body } = await call('POST', CONTACTS, { body: { FirstName: 'Ada', LastName: 'Lovelace' } });
    const full = await call('GET', `${CONTACTS}/${body.id}`);
    assert.equal(full.status, 200);
    assert.deepEqual(full.body.attributes, { type: 'Contact', url: `${CONTACTS}/${body.id}` });
    assert.equal(full.body.Name, 'Ada Lovelace');
    assert.equal(full.body.Email, null);
    assert.equal(full.body.CreatedDate, '2026-03-02T09:00:00.000+0000');
    const narrow = await call('GET', `${CONTACTS}/${body.id}?fields=LastName`);
    assert.deepEqual(narrow.body, { attributes: { type: 'Contact', url: `${CONTACTS}/${body.id}` }, LastName: 'Lovelace', Id: body.id });
    const unknown = await call('GET', `${CONTACTS}/${body.id}?fields=Nope`);
    assert.deepEqual([unknown.status, unknown.body[0].errorCode], [400, 'INVALID_FIELD']);
    const short = await call('GET', `${CONTACTS}/${body.id.slice(0, 15)}`);
    assert.equal(short.body.Id, body.id, 'the 15-character form names the same record');
  });

  test('PATCH by id answers 204 with no body; clearing a required field is refused', async () => {
    const { body } = await call('POST', CONTACTS, { body: { LastName: 'Lovelace' } });
    clock += 1000;
    const updated = await call('PATCH', `${CONTACTS}/${body.id}`, { body: { FirstName: 'Ada', Title: 'Countess' } });
    assert.equal(updated.status, 204);
    assert.equal(updated.text, '');
    const stored = sb.objects('Contact')[0];
    assert.deepEqual(stored?.fields, { LastName: 'Lovelace', FirstName: 'Ada', Title: 'Countess' });
    assert.equal(stored?.updatedAt, '2026-03-02T09:00:01.000+0000');
    const cleared = await call('PATCH', `${CONTACTS}/${body.id}`, { body: { LastName: null } });
    assert.equal(cleared.body[0].errorCode, 'REQUIRED_FIELD_MISSING');
    assert.equal((await call('PATCH', `${CONTACTS}/${body.id}`, { body: { Title: null } })).status, 204);
    assert.equal(sb.objects('Contact')[0]?.fields['Title'], undefined, 'null clears a field');
  });

  test('DELETE answers 204, then 404 ENTITY_IS_DELETED for delete and update; GET says NOT_FOUND', async () => {
    const { body } = await call('POST', CONTACTS, { body: { LastName: 'Gone' } });
    const deleted = await call('DELETE', `${CONTACTS}/${body.id}`);
    assert.deepEqual([deleted.status, deleted.text], [204, '']);
    const again = await call('DELETE', `${CONTACTS}/${body.id}`);
    assert.equal(again.status, 404);
    assert.deepEqual(again.body, [{ message: 'entity is deleted', errorCode: 'ENTITY_IS_DELETED', fields: [] }]);
    assert.equal((await call('PATCH', `${CONTACTS}/${body.id}`, { body: { LastName: 'Back' } })).body[0].errorCode, 'ENTITY_IS_DELETED');
    assert.deepEqual((await call('GET', `${CONTACTS}/${body.id}`)).body, [{ message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' }]);
    assert.equal(sb.objects('Contact').length, 0);
    assert.equal(sb.objects('Contact', { includeDeleted: true })[0]?.deleted, true, 'it sits in the recycle bin');
  });

  test('an unknown id is 404 NOT_FOUND; a malformed or wrong-object id is 400 MALFORMED_ID', async () => {
    const unknown = await call('DELETE', `${CONTACTS}/${makeId('003', 999)}`);
    assert.deepEqual(unknown.body, [{ message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' }]);
    assert.equal(unknown.status, 404);
    const malformed = await call('PATCH', `${CONTACTS}/12345`, { body: { LastName: 'x' } });
    assert.deepEqual([malformed.status, malformed.body[0].errorCode], [400, 'MALFORMED_ID']);
    const account = makeId('001', 5);
    const wrongType = await call('DELETE', `${CONTACTS}/${account}`);
    assert.deepEqual(wrongType.body, [{ message: `Contact ID: id value of incorrect type: ${account}`, errorCode: 'MALFORMED_ID', fields: ['Id'] }]);
  });

  test('unknown sObjects, versions and methods', async () => {
    assert.deepEqual((await call('POST', `${V}/sobjects/Lead`, { body: {} })).body[0].errorCode, 'NOT_FOUND');
    assert.equal((await call('GET', '/services/data/v99.0/limits')).status, 404);
    const put = await call('PUT', `${CONTACTS}/${makeId('003', 1)}`, { body: {} });
    assert.deepEqual([put.status, put.body[0].errorCode], [405, 'METHOD_NOT_ALLOWED']);
  });
});

describe('upsert by external id', () => {
  const upsert = (value: string, body: unknown, version = 'v62.0', query = '') =>
    call('PATCH', `/services/data/${version}/sobjects/Contact/Ext_Id__c/${encodeURIComponent(value)}${query}`, { body });

  test('no match creates: 201 {id, success, errors, created: true}, the value from the URL stored', async () => {
    const reply = await upsert('CRM-42', { LastName: 'Lovelace' });
    assert.equal(reply.status, 201);
    assert.deepEqual(reply.body, { id: makeId('003', 1), success: true, errors: [], created: true });
    assert.deepEqual(sb.objects('Contact')[0]?.fields, { LastName: 'Lovelace', Ext_Id__c: 'CRM-42' });
  });

  test('one match updates: 200 {created: false} at v46 and later, 204 with no body at v45', async () => {
    const created = await upsert('CRM-42', { LastName: 'Lovelace' });
    const v62 = await upsert('crm-42', { FirstName: 'Ada' });
    assert.equal(v62.status, 200);
    assert.deepEqual(v62.body, { id: created.body.id, success: true, errors: [], created: false });
    const v45 = await upsert('CRM-42', { Title: 'Countess' }, 'v45.0');
    assert.deepEqual([v45.status, v45.text], [204, '']);
    assert.deepEqual(sb.objects('Contact').map((c) => c.fields), [{ LastName: 'Lovelace', Ext_Id__c: 'CRM-42', FirstName: 'Ada', Title: 'Countess' }]);
    const old = await upsert('CRM-43', { LastName: 'New' }, 'v45.0');
    assert.equal(old.status, 201);
    assert.equal(old.body.created, undefined, 'created is only answered from v46');
  });

  test('several matches (seeded) answer 300 with the records\' URLs and write nothing', async () => {
    const a = sb.seed('Contact', { LastName: 'A', Ext_Id__c: 'DUP' });
    const b = sb.seed('Contact', { LastName: 'B', Ext_Id__c: 'dup' });
    const reply = await upsert('DUP', { LastName: 'C' });
    assert.equal(reply.status, 300);
    assert.deepEqual(reply.body, [`${CONTACTS}/${a}`, `${CONTACTS}/${b}`]);
    assert.deepEqual(sb.objects('Contact').map((c) => c.fields['LastName']), ['A', 'B']);
    assert.equal(sb.stats().multipleChoices, 1);
    assert.equal((await call('GET', `${CONTACTS}/Ext_Id__c/DUP`)).status, 300);
  });

  test('a field that is not an external id is 404 NOT_FOUND', async () => {
    const reply = await call('PATCH', `${CONTACTS}/Email/ada@example.com`, { body: { LastName: 'x' } });
    assert.equal(reply.status, 404);
    assert.deepEqual(reply.body, [{ message: 'Provided external ID field does not exist or is not accessible: Email', errorCode: 'NOT_FOUND' }]);
  });

  test('the external id field or Id in the body is refused', async () => {
    const reply = await upsert('CRM-1', { LastName: 'x', Ext_Id__c: 'CRM-1' });
    assert.deepEqual([reply.status, reply.body[0].errorCode, reply.body[0].fields], [400, 'INVALID_FIELD', ['Ext_Id__c']]);
    assert.equal((await upsert('CRM-1', { LastName: 'x', Id: makeId('003', 1) })).body[0].errorCode, 'INVALID_FIELD');
  });

  test('updateOnly=true with no match creates nothing; a record in the recycle bin is not matched', async () => {
    assert.equal((await upsert('CRM-7', { LastName: 'x' }, 'v62.0', '?updateOnly=true')).status, 404);
    const first = await upsert('CRM-8', { LastName: 'x' });
    await call('DELETE', `${CONTACTS}/${first.body.id}`);
    const again = await upsert('CRM-8', { LastName: 'y' });
    assert.equal(again.status, 201);
    assert.notEqual(again.body.id, first.body.id);
  });

  test('read and delete by external id', async () => {
    const { body } = await upsert('CRM-9', { LastName: 'x' });
    assert.equal((await call('GET', `${CONTACTS}/Ext_Id__c/CRM-9?fields=Id`)).body.Id, body.id);
    assert.equal((await call('DELETE', `${CONTACTS}/Ext_Id__c/CRM-9`)).status, 204);
    assert.equal((await call('GET', `${CONTACTS}/Ext_Id__c/CRM-9`)).status, 404);
  });

  test('Sforce-Call-Options: client= becomes the record\'s change origin', async () => {
    await call('PATCH', `${CONTACTS}/Ext_Id__c/CRM-10`, { body: { LastName: 'x' }, headers: { 'Sforce-Call-Options': 'client=recsync' } });
    assert.equal(sb.objects('Contact')[0]?.changeOrigin, 'com/salesforce/api/rest/62.0;client=recsync');
    await upsert('CRM-10', { LastName: 'y' });
    assert.equal(sb.objects('Contact')[0]?.changeOrigin, 'com/salesforce/api/rest/62.0');
  });
});

describe('API limits', () => {
  let limited: SalesforceSandbox;
  let limitedToken = '';
  before(async () => {
    // Sessions outlive the day these tests cross.
    limited = await startSandbox({ now: () => clock, sessionTimeoutMs: 48 * HOUR, limits: { dailyApiRequests: 3, longRunningConcurrent: 1, longRunningMs: 40 } });
  });
  after(() => limited.close());
  beforeEach(async () => {
    limited.reset();
    limitedToken = await session(limited);
  });
  const get = (path: string) => http(limited, 'GET', path, { token: limitedToken });

  test('Sforce-Limit-Info: api-usage=N/M on every API response, errors included; not on the token or versions resources', async () => {
    assert.equal((await get(`${V}/limits`)).headers.get('sforce-limit-info'), 'api-usage=1/3');
    const missing = await get(`${CONTACTS}/${makeId('003', 77)}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('sforce-limit-info'), 'api-usage=2/3');
    assert.equal((await refreshGrant(limited)).headers.get('sforce-limit-info'), null);
    const versions = await http(limited, 'GET', '/services/data', { token: null });
    assert.equal(versions.status, 200);
    assert.equal(versions.headers.get('sforce-limit-info'), null);
    assert.deepEqual(versions.body.at(-1), { label: "Winter '25", url: '/services/data/v62.0', version: '62.0' });
  });

  test('over the rolling 24 h total: 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded." (never 429), until a day has passed', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await get(`${V}/limits`)).status, 200);
      clock += HOUR;
    }
    const refused = await get(`${V}/limits`);
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    assert.equal(refused.headers.get('sforce-limit-info'), 'api-usage=3/3', 'a refused call is not counted');
    // The first call was made at T0: it leaves the window at T0 + 24 h, not at midnight.
    clock = T0 + 24 * HOUR - 1;
    assert.equal((await get(`${V}/limits`)).status, 403);
    clock = T0 + 24 * HOUR;
    const back = await get(`${V}/limits`);
    assert.equal(back.status, 200);
    assert.deepEqual(back.body, { DailyApiRequests: { Max: 3, Remaining: 0 } });
    assert.deepEqual(limited.stats().limitExceeded, { TotalRequests: 2, ConcurrentRequests: 0 });
    assert.equal(limited.stats().byStatus['429'], undefined);
  });

  test('long-running calls in flight over the limit: 403 REQUEST_LIMIT_EXCEEDED ConcurrentRequests', async () => {
    limited.injectFault({ hang: true });
    const abort = new AbortController();
    const hung = fetch(`${limited.url}${V}/limits`, { headers: { authorization: `Bearer ${limitedToken}` }, signal: abort.signal }).catch(() => undefined);
    // Once the hung call is admitted (counted), it becomes long-running 40 ms of real time later.
    while (limited.stats().apiUsage < 1) await sleep(2);
    await sleep(60);
    const refused = await get(`${V}/limits`);
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, [{ message: 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    abort.abort();
    await hung;
    await sleep(20);
    assert.equal((await get(`${V}/limits`)).status, 200);
  });
});

describe('faults', () => {
  test('an injected 400 is UNABLE_TO_LOCK_ROW; 503 has a Salesforce error array; both write nothing', async () => {
    sb.injectFault({ match: { pathPrefix: CONTACTS }, status: 400 });
    const locked = await call('PATCH', `${CONTACTS}/Ext_Id__c/CRM-1`, { body: { LastName: 'x' } });
    assert.equal(locked.status, 400);
    assert.equal(locked.body[0].errorCode, 'UNABLE_TO_LOCK_ROW');
    assert.match(locked.headers.get('sforce-limit-info') ?? '', /^api-usage=\d+\/1000000$/);
    sb.injectFault({ status: 503 });
    const down = await call('PATCH', `${CONTACTS}/Ext_Id__c/CRM-1`, { body: { LastName: 'x' } });
    assert.deepEqual([down.status, down.body[0].errorCode], [503, 'SERVER_UNAVAILABLE']);
    assert.equal(sb.objects('Contact').length, 0);
    assert.equal(sb.stats().faulted, 2);
  });

  test('apply: the upsert lands though the client saw a lock error; the retry updates the same record', async () => {
    sb.injectFault({ status: 503, apply: true });
    assert.equal((await call('PATCH', `${CONTACTS}/Ext_Id__c/CRM-2`, { body: { LastName: 'x' } })).status, 503);
    const retried = await call('PATCH', `${CONTACTS}/Ext_Id__c/CRM-2`, { body: { LastName: 'x' } });
    assert.deepEqual([retried.status, retried.body.created], [200, false]);
    assert.equal(sb.objects('Contact').length, 1);
  });

  test('a fault on the token endpoint answers in OAuth words', async () => {
    sb.injectFault({ match: { pathPrefix: '/services/oauth2/token' }, status: 503 });
    const reply = await refreshGrant(sb);
    assert.deepEqual([reply.status, reply.body], [503, { error: 'unknown_error', error_description: 'retry your request' }]);
  });
});

describe('control API', () => {
  test('objects, seed and sessions/expire over HTTP', async () => {
    await call('POST', CONTACTS, { body: { LastName: 'A' } });
    const control = (method: string, path: string, body?: unknown) =>
      fetch(`${sb.url}/__sandbox${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    const seeded = await control('POST', '/seed/Contact', { LastName: 'Seeded', Ext_Id__c: 'S-1' });
    assert.equal(seeded.status, 201);
    const { id } = (await seeded.json()) as { id: string };
    const objects = (await (await control('GET', '/objects/Contact')).json()) as Array<{ id: string }>;
    assert.deepEqual(objects.map((o) => o.id).includes(id), true);
    assert.equal((await control('GET', '/objects/Lead')).status, 404);
    assert.equal((await control('POST', '/seed/Contact', { Nope__c: 'x' })).status, 400);
    assert.deepEqual(await (await control('POST', '/sessions/expire')).json(), { expired: 1 });
    assert.equal((await call('GET', `${V}/limits`)).status, 401);
    assert.equal(sb.stats().created, 1, 'seeded records are not counted as created');
  });
});

describe('ids across restarts and resets', () => {
  test('reset() starts the sequence over; freshIds never reissues an id of an earlier run', async () => {
    const first = (await call('POST', CONTACTS, { body: { LastName: 'A' } })).body.id;
    sb.reset();
    token = await session(sb);
    assert.equal((await call('POST', CONTACTS, { body: { LastName: 'A' } })).body.id, first);

    const create = async (): Promise<string> => {
      const fresh = await startSandbox({ freshIds: true });
      try {
        const t = await session(fresh);
        return (await http(fresh, 'POST', CONTACTS, { token: t, body: { LastName: 'A' } })).body.id as string;
      } finally {
        await fresh.close();
      }
    };
    const a = await create();
    await sleep(2);
    const b = await create();
    assert.notEqual(a, b);
    assert.match(a, /^003/);
  });
});

describe('standalone', () => {
  test('optionsFromArgs reads the flags and refuses unknown ones', () => {
    assert.deepEqual(optionsFromArgs(['--port', '4020', '--daily', '50', '--session-timeout-ms', '1000', '--fresh-ids']), {
      port: 4020,
      sessionTimeoutMs: 1000,
      freshIds: true,
      limits: { dailyApiRequests: 50 },
    });
    assert.deepEqual(optionsFromArgs(['--no-limits']), { limits: false });
    assert.throws(() => optionsFromArgs(['--bogus']));
  });

  test('node connectors/salesforce/sandbox.ts prints its env and serves', async () => {
    const entry = fileURLToPath(new URL('../connectors/salesforce/sandbox.ts', import.meta.url));
    const child = spawn(process.execPath, [entry, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const printed: Record<string, string> = {};
      for await (const line of createInterface({ input: child.stdout })) {
        const m = /^(SALESFORCE_[A-Z_]+)=(.+)$/.exec(line);
        if (m?.[1] !== undefined && m[2] !== undefined) printed[m[1]] = m[2];
        if (printed['SALESFORCE_REFRESH_TOKEN'] !== undefined) break;
      }
      assert.deepEqual(Object.keys(printed).sort(), ['SALESFORCE_BASE_URL', 'SALESFORCE_CLIENT_ID', 'SALESFORCE_CLIENT_SECRET', 'SALESFORCE_REFRESH_TOKEN', 'SALESFORCE_TOKEN_URL']);
      const res = await fetch(printed['SALESFORCE_TOKEN_URL']!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: printed['SALESFORCE_CLIENT_ID']!, client_secret: printed['SALESFORCE_CLIENT_SECRET']!, refresh_token: printed['SALESFORCE_REFRESH_TOKEN']! }),
      });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { instance_url: string }).instance_url, printed['SALESFORCE_BASE_URL']);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
