import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import salesforce, { CALL_CLIENT, CONCURRENT_REQUESTS_WAIT_MS, readError, TOTAL_REQUESTS_WAIT_MS } from '../connectors/salesforce/connector.ts';
import { makeId, startSandbox, type SalesforceSandbox } from '../connectors/salesforce/sandbox.ts';
import { loadConnector } from '../runtime/connectors/load-connector.ts';
import { createCredentials } from '../runtime/credentials.ts';
import { createHttpClient, TransportError } from '../runtime/http-client.ts';
import type { Outcome, SendContext } from '../runtime/sdk/index.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { repoConnectors } from './helpers/connectors.ts';

/** A session from the sandbox's token endpoint, as the runtime's oauth2 credentials would get it. */
async function sessionFor(sandbox: SalesforceSandbox): Promise<string> {
  const res = await fetch(sandbox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: sandbox.clientId, client_secret: sandbox.clientSecret, refresh_token: sandbox.refreshToken }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function clientFor(sandbox: SalesforceSandbox) {
  const credentials = createCredentials({ type: 'bearer', token: await sessionFor(sandbox) });
  const http = createHttpClient({ baseUrl: sandbox.url, credentials, timeoutMs: 500, connections: 4 });
  onCleanup(() => http.close());
  return http;
}

const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
let http = await clientFor(sandbox);

const contact = (recordId: string, extra: Partial<SendContext> = {}): SendContext => ({
  object: 'contact',
  options: { sobject: 'Contact', externalIdField: 'Ext_Id__c' },
  tenant: 'default',
  recordId,
  version: 1,
  http,
  ...extra,
});

const crmIdOf = (outcome: Outcome): string => (outcome.kind === 'delivered' && outcome.crmId !== undefined ? outcome.crmId : assert.fail(`not delivered with an id: ${JSON.stringify(outcome)}`));
const lastRequest = () => sandbox.requests().at(-1);

describe('Salesforce connector against the sandbox', () => {
  it('creates by upsert on Ext_Id__c, with the external id only in the URL and Sforce-Call-Options sent', async () => {
    const created = await salesforce.upsert({ ...contact('sf-1'), record: { LastName: 'Lovelace', Email: 'ada@example.com', Ext_Id__c: 'sf-1' } });
    assert.equal(created.kind, 'delivered');
    assert.equal(created.kind === 'delivered' && created.created, true);
    const crmId = crmIdOf(created);
    assert.match(crmId, /^003\w{15}$/);
    const request = lastRequest();
    assert.equal(request?.method, 'PATCH');
    assert.equal(request?.path, '/services/data/v62.0/sobjects/Contact/Ext_Id__c/sf-1');
    assert.deepEqual(request?.body, { LastName: 'Lovelace', Email: 'ada@example.com' });
    assert.equal(request?.headers['sforce-call-options'], `client=${CALL_CLIENT}`);
    const stored = sandbox.objects('Contact').find((o) => o.id === crmId);
    assert.deepEqual(stored?.fields, { LastName: 'Lovelace', Email: 'ada@example.com', Ext_Id__c: 'sf-1' });
    assert.equal(stored?.changeOrigin, 'com/salesforce/api/rest/62.0;client=recsync');
  });

  it('updates through the same upsert (200 created:false), keeping the id', async () => {
    const first = crmIdOf(await salesforce.upsert({ ...contact('sf-2'), record: { LastName: 'Hopper', Ext_Id__c: 'sf-2' } }));
    const updated = await salesforce.upsert({ ...contact('sf-2', { crmId: first, version: 2 }), record: { LastName: 'Hopper', FirstName: 'Grace', Ext_Id__c: 'sf-2' } });
    assert.deepEqual(updated, { kind: 'delivered', crmId: first, created: false });
    assert.equal(sandbox.objects('Contact').find((o) => o.id === first)?.fields['FirstName'], 'Grace');
  });

  it('a create retried after its answer was lost (timed out, but it landed) makes no duplicate', async () => {
    sandbox.injectFault({ match: { pathPrefix: '/services/data/v62.0/sobjects/Contact/Ext_Id__c/sf-3' }, hang: true, apply: true });
    const record = { LastName: 'Retry', Ext_Id__c: 'sf-3' };
    await assert.rejects(salesforce.upsert({ ...contact('sf-3'), record }), (error: unknown) => error instanceof TransportError && error.code === 'RECSYNC_ERR_CRM_TIMEOUT');
    const again = await salesforce.upsert({ ...contact('sf-3'), record });
    assert.equal(again.kind === 'delivered' && again.created, false);
    assert.equal(sandbox.objects('Contact').filter((o) => o.fields['Ext_Id__c'] === 'sf-3').length, 1);
  });

  it('a 204 answer (API v45 and older) has no body: the stored crmId is kept', async () => {
    const crmId = crmIdOf(await salesforce.upsert({ ...contact('sf-4'), record: { LastName: 'A', Ext_Id__c: 'sf-4' } }));
    sandbox.injectFault({ status: 204, apply: true });
    assert.deepEqual(await salesforce.upsert({ ...contact('sf-4', { crmId }), record: { LastName: 'B', Ext_Id__c: 'sf-4' } }), { kind: 'delivered', crmId, created: false });
    assert.equal(sandbox.objects('Contact').find((o) => o.id === crmId)?.fields['LastName'], 'B');
  });

  it('upserts accounts by the same external id field', async () => {
    const context: SendContext = { ...contact('acc-1'), object: 'account', options: { sobject: 'Account', externalIdField: 'Ext_Id__c' } };
    const first = crmIdOf(await salesforce.upsert({ ...context, record: { Name: 'Acme', NumberOfEmployees: 12, Ext_Id__c: 'acc-1' } }));
    const second = crmIdOf(await salesforce.upsert({ ...context, record: { Name: 'Acme Ltd', Ext_Id__c: 'acc-1' } }));
    assert.equal(first, second);
    assert.match(first, /^001/);
    assert.deepEqual(sandbox.objects('Account').filter((o) => o.fields['Ext_Id__c'] === 'acc-1').map((o) => o.fields['Name']), ['Acme Ltd']);
  });

  it('deletes by id; a second delete (ENTITY_IS_DELETED) and an unknown id (NOT_FOUND) are already done', async () => {
    const crmId = crmIdOf(await salesforce.upsert({ ...contact('sf-5'), record: { LastName: 'Del', Ext_Id__c: 'sf-5' } }));
    assert.deepEqual(await salesforce.delete(contact('sf-5', { crmId })), { kind: 'delivered' });
    assert.equal(lastRequest()?.headers['sforce-call-options'], 'client=recsync');
    assert.equal(sandbox.objects('Contact', { includeDeleted: true }).find((o) => o.id === crmId)?.deleted, true);
    assert.deepEqual(await salesforce.delete(contact('sf-5', { crmId })), { kind: 'delivered' });
    assert.equal(lastRequest()?.status, 404);
    assert.deepEqual(await salesforce.delete(contact('sf-x', { crmId: makeId('003', 999_999) })), { kind: 'delivered' });
  });

  it('deletes a record it holds no id for by looking it up by external id; nothing there is already done', async () => {
    const crmId = crmIdOf(await salesforce.upsert({ ...contact('sf-6'), record: { LastName: 'Find', Ext_Id__c: 'sf-6' } }));
    assert.deepEqual(await salesforce.delete(contact('sf-6')), { kind: 'delivered' });
    assert.equal(sandbox.objects('Contact', { includeDeleted: true }).find((o) => o.id === crmId)?.deleted, true);
    const before = sandbox.requests().length;
    assert.deepEqual(await salesforce.delete(contact('sf-never')), { kind: 'delivered' });
    const lookups = sandbox.requests().slice(before);
    assert.deepEqual(lookups.map((r) => [r.method, r.path, r.status]), [['GET', '/services/data/v62.0/sobjects/Contact/Ext_Id__c/sf-never', 404]]);
  });

  it('several records with the external id (300) is fatal, naming them', async () => {
    const a = sandbox.seed('Contact', { LastName: 'A', Ext_Id__c: 'sf-dup' });
    const b = sandbox.seed('Contact', { LastName: 'B', Ext_Id__c: 'sf-dup' });
    const outcome = await salesforce.upsert({ ...contact('sf-dup'), record: { LastName: 'C', Ext_Id__c: 'sf-dup' } });
    assert.equal(outcome.kind, 'fatal');
    assert.equal(outcome.kind === 'fatal' && outcome.code, 'RECSYNC_ERR_CRM_REJECTED');
    assert.equal(outcome.kind === 'fatal' && outcome.status, 300);
    assert.match(outcome.kind === 'fatal' ? outcome.message : '', new RegExp(`${a}.*${b}`));
    assert.equal((await salesforce.delete(contact('sf-dup'))).kind, 'fatal', 'a delete cannot pick one either');
  });

  it('an expired session asks the runtime to reauthenticate; a new session delivers', async () => {
    sandbox.expireSessions();
    const outcome = await salesforce.upsert({ ...contact('sf-7'), record: { LastName: 'S', Ext_Id__c: 'sf-7' } });
    assert.equal(outcome.kind, 'reauthenticate');
    assert.equal(outcome.kind === 'reauthenticate' && outcome.status, 401);
    assert.match(outcome.kind === 'reauthenticate' ? outcome.message : '', /INVALID_SESSION_ID/);
    http = await clientFor(sandbox);
    assert.equal((await salesforce.upsert({ ...contact('sf-7'), record: { LastName: 'S', Ext_Id__c: 'sf-7' } })).kind, 'delivered');
  });

  it('with the runtime\'s oauth2 credentials, the session refused after reauthenticate is replaced by a refreshed one', async () => {
    const credentials = createCredentials(
      { type: 'oauth2', grant: 'refresh_token', tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, refreshToken: sandbox.refreshToken },
      { timeoutMs: 1_000 },
    );
    const oauthHttp = createHttpClient({ baseUrl: sandbox.url, credentials, timeoutMs: 500, connections: 2 });
    onCleanup(() => oauthHttp.close());
    const context = contact('sf-13', { http: oauthHttp });
    assert.equal((await salesforce.upsert({ ...context, record: { LastName: 'O', Ext_Id__c: 'sf-13' } })).kind, 'delivered');
    const { generation } = await credentials.authorization();
    sandbox.expireSessions();
    assert.equal((await salesforce.upsert({ ...context, record: { LastName: 'O', Ext_Id__c: 'sf-13' } })).kind, 'reauthenticate');
    credentials.invalidate(generation);
    assert.equal((await salesforce.upsert({ ...context, record: { LastName: 'P', Ext_Id__c: 'sf-13' } })).kind, 'delivered');
    http = await clientFor(sandbox);
  });

  it('the org\'s 24 h allocation used up (403 REQUEST_LIMIT_EXCEEDED) is throttling: wait an hour', async () => {
    const limited = await startSandbox({ limits: { dailyApiRequests: 1 } });
    onCleanup(() => limited.close());
    const limitedHttp = await clientFor(limited);
    const context = contact('sf-8', { http: limitedHttp });
    assert.equal((await salesforce.upsert({ ...context, record: { LastName: 'L', Ext_Id__c: 'sf-8' } })).kind, 'delivered');
    const outcome = await salesforce.upsert({ ...context, record: { LastName: 'L', Ext_Id__c: 'sf-8' } });
    assert.equal(outcome.kind, 'rate-limited');
    assert.deepEqual(outcome.kind === 'rate-limited' && [outcome.status, outcome.afterMs], [403, TOTAL_REQUESTS_WAIT_MS]);
    assert.match(outcome.kind === 'rate-limited' ? outcome.message : '', /TotalRequests Limit exceeded/);
  });

  it('reads every injected error as Salesforce means it', async () => {
    const lock = [{ message: 'unable to obtain exclusive access to this record', errorCode: 'UNABLE_TO_LOCK_ROW', fields: [] }];
    const cases: Array<[Record<string, unknown>, (o: Outcome) => void]> = [
      [{ status: 400 }, (o) => assert.deepEqual([o.kind, o.kind === 'retry' && o.code], ['retry', 'RECSYNC_ERR_CRM_RETRYABLE'])],
      [{ status: 409, body: lock }, (o) => assert.equal(o.kind, 'retry', 'UNABLE_TO_LOCK_ROW is retried whatever its status')],
      [{ status: 503 }, (o) => assert.deepEqual([o.kind, o.kind === 'retry' && o.status], ['retry', 503])],
      [{ status: 500, headers: { 'Retry-After': '4' } }, (o) => assert.equal(o.kind === 'retry' && o.afterMs, 4000)],
      [{ status: 403, body: [{ message: 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }] }, (o) => assert.deepEqual([o.kind, o.kind === 'rate-limited' && o.afterMs], ['rate-limited', CONCURRENT_REQUESTS_WAIT_MS])],
      [{ status: 403, body: [{ message: 'insufficient access rights on object id', errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY' }] }, (o) => assert.equal(o.kind === 'fatal' && o.code, 'RECSYNC_ERR_CRM_AUTH')],
      [{ status: 401 }, (o) => assert.equal(o.kind, 'reauthenticate')],
    ];
    for (const [fault, check] of cases) {
      sandbox.injectFault({ match: { pathPrefix: '/services/data/v62.0/sobjects/Contact' }, ...fault });
      check(await salesforce.upsert({ ...contact('sf-9'), record: { LastName: 'F', Ext_Id__c: 'sf-9' } }));
    }
    assert.equal(sandbox.objects('Contact').some((o) => o.fields['Ext_Id__c'] === 'sf-9'), false);
  });

  it('a record Salesforce refuses is a fatal rejection with its errorCode and message', async () => {
    const missing = await salesforce.upsert({ ...contact('sf-10'), record: { FirstName: 'No last name', Ext_Id__c: 'sf-10' } });
    assert.deepEqual(missing, { kind: 'fatal', code: 'RECSYNC_ERR_CRM_REJECTED', status: 400, message: 'Salesforce 400 REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] [LastName]' });
    const unknown = await salesforce.upsert({ ...contact('sf-11'), record: { LastName: 'X', Shoe_Size__c: '44', Ext_Id__c: 'sf-11' } });
    assert.match(unknown.kind === 'fatal' ? unknown.message : '', /INVALID_FIELD: No such column 'Shoe_Size__c'/);
    const notExternal = await salesforce.upsert({ ...contact('sf-12', { options: { sobject: 'Contact', externalIdField: 'Email' } }), record: { LastName: 'X' } });
    assert.equal(notExternal.kind === 'fatal' && notExternal.status, 404);
  });

  it('loads from its manifest; the mapped contact passes the output schema and is delivered', async () => {
    const version = await loadConnector(join(repoConnectors, 'salesforce'), sandbox.env);
    assert.deepEqual([...version.objects.keys()], ['contact', 'account']);
    assert.deepEqual(version.limits, [{ requests: 100_000, perMs: 86_400_000 }]);
    const plan = version.objects.get('contact')!;
    const record = (await plan.mapping.evaluate({ email: ' Ada@Example.com ', firstName: 'Ada', lastName: 'Lovelace', address: { city: 'London', country: 'gb' } }, { recordId: 'sf-map' })) as Record<string, unknown>;
    assert.deepEqual({ ...record }, { FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@example.com', MailingCity: 'London', MailingCountry: 'GB', Ext_Id__c: 'sf-map' });
    assert.equal(plan.validateOutput(record), true);
    assert.equal(plan.validateOutput({ FirstName: 'Ada', Ext_Id__c: 'x' }), false, 'LastName is required');
    const outcome = await version.connector.upsert({ ...contact('sf-map', { options: plan.options }), record });
    assert.equal(outcome.kind, 'delivered');
    const account = version.objects.get('account')!;
    const mappedAccount = (await account.mapping.evaluate({ name: 'Acme', employees: 12, annualRevenue: 1.5e6, domain: 'acme.test' }, { recordId: 'acc-map' })) as Record<string, unknown>;
    assert.deepEqual({ ...mappedAccount }, { Name: 'Acme', Website: 'https://acme.test', NumberOfEmployees: 12, AnnualRevenue: 1_500_000, Ext_Id__c: 'acc-map' });
    assert.equal(account.validateOutput(mappedAccount), true);
  });
});

describe("readError: Salesforce's error dialect", () => {
  const reply = (status: number, body: unknown = undefined, headers: Record<string, string> = {}) => readError({ status, headers, body });
  it('2xx is no error', () => assert.equal(reply(204), undefined));
  it('UNABLE_TO_LOCK_ROW retries whatever the status', () => assert.equal(reply(400, [{ errorCode: 'UNABLE_TO_LOCK_ROW', message: 'x' }])?.kind, 'retry'));
  it('403 TotalRequests waits an hour, ConcurrentRequests a few seconds', () => {
    assert.deepEqual(reply(403, [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' }]), {
      kind: 'rate-limited',
      message: 'Salesforce 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.',
      status: 403,
      afterMs: 3_600_000,
    });
    assert.equal((reply(403, [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.' }]) as { afterMs: number }).afterMs, 5_000);
  });
  it('401 reauthenticates; 300 and other 4xx are fatal; 5xx retries', () => {
    assert.deepEqual(reply(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]), { kind: 'reauthenticate', message: 'Salesforce 401 INVALID_SESSION_ID: Session expired or invalid', status: 401 });
    assert.match((reply(300, ['/services/data/v62.0/sobjects/Contact/003A', '/services/data/v62.0/sobjects/Contact/003B']) as { message: string }).message, /matches 2 records \(003A, 003B\)/);
    assert.deepEqual(reply(404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]), { kind: 'fatal', code: 'RECSYNC_ERR_CRM_REJECTED', message: 'Salesforce 404 NOT_FOUND: The requested resource does not exist', status: 404 });
    assert.equal(reply(502, '<html>bad gateway</html>')?.kind, 'retry');
  });
});
