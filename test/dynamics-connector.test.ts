import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import dynamics, { DEFAULT_THROTTLE_WAIT_MS, entityIdFrom, odataString, readError } from '../connectors/dynamics/connector.ts';
import { guidFor, startSandbox, type DynamicsSandbox } from '../connectors/dynamics/sandbox.ts';
import { loadConnector } from '../runtime/connectors/load-connector.ts';
import { createCredentials } from '../runtime/credentials.ts';
import { createHttpClient, TransportError } from '../runtime/http-client.ts';
import type { Outcome, SendContext } from '../runtime/sdk/index.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { repoConnectors } from './helpers/connectors.ts';

/** A token from the sandbox's Entra-ID-like endpoint, as the runtime's oauth2 credentials would get it. */
async function tokenFor(sandbox: DynamicsSandbox): Promise<string> {
  const res = await fetch(sandbox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: sandbox.clientId, client_secret: sandbox.clientSecret, scope: sandbox.scope }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function clientFor(sandbox: DynamicsSandbox) {
  const credentials = createCredentials({ type: 'bearer', token: await tokenFor(sandbox) });
  const http = createHttpClient({ baseUrl: sandbox.url, credentials, timeoutMs: 500, connections: 4 });
  onCleanup(() => http.close());
  return http;
}

let clock = Date.parse('2026-03-02T09:00:00.000Z');
const sandbox = await startSandbox({ now: () => clock, limits: false });
onCleanup(() => sandbox.close());
let http = await clientFor(sandbox);

const contact = (recordId: string, extra: Partial<SendContext> = {}): SendContext => ({
  object: 'contact',
  options: { entitySet: 'contacts', alternateKey: 'new_externalid' },
  tenant: 'default',
  recordId,
  version: 1,
  http,
  ...extra,
});

const crmIdOf = (outcome: Outcome): string => (outcome.kind === 'delivered' && outcome.crmId !== undefined ? outcome.crmId : assert.fail(`not delivered with an id: ${JSON.stringify(outcome)}`));
const lastRequest = () => sandbox.requests().at(-1);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Dynamics connector against the sandbox', () => {
  it('creates by PATCH on the alternate key; the GUID comes from OData-EntityId; the key is not in the body', async () => {
    const created = await dynamics.upsert({ ...contact('dv-1'), record: { lastname: 'Lovelace', emailaddress1: 'ada@example.com', new_externalid: 'dv-1' } });
    const crmId = crmIdOf(created);
    assert.match(crmId, GUID);
    const request = lastRequest();
    assert.equal(request?.method, 'PATCH');
    assert.equal(request?.path, "/api/data/v9.2/contacts(new_externalid='dv-1')");
    assert.deepEqual(request?.body, { lastname: 'Lovelace', emailaddress1: 'ada@example.com' });
    assert.equal(request?.headers['if-match'], undefined, 'a plain PATCH: an upsert');
    assert.deepEqual(sandbox.objects('contacts').find((c) => c.id === crmId)?.attributes, { lastname: 'Lovelace', emailaddress1: 'ada@example.com', new_externalid: 'dv-1' });
  });

  it('updates through the same upsert, keeping the GUID', async () => {
    const first = crmIdOf(await dynamics.upsert({ ...contact('dv-2'), record: { lastname: 'Hopper', new_externalid: 'dv-2' } }));
    const second = await dynamics.upsert({ ...contact('dv-2', { crmId: first, version: 2 }), record: { lastname: 'Hopper', firstname: 'Grace', new_externalid: 'dv-2' } });
    assert.deepEqual(second, { kind: 'delivered', crmId: first });
    assert.equal(sandbox.objects('contacts').find((c) => c.id === first)?.attributes['firstname'], 'Grace');
  });

  it('a create retried after its answer was lost (timed out, but it landed) makes no duplicate', async () => {
    sandbox.injectFault({ match: { method: 'PATCH' }, hang: true, apply: true });
    const record = { lastname: 'Retry', new_externalid: 'dv-3' };
    await assert.rejects(dynamics.upsert({ ...contact('dv-3'), record }), (error: unknown) => error instanceof TransportError && error.code === 'RECSYNC_ERR_CRM_TIMEOUT');
    assert.equal(crmIdOf(await dynamics.upsert({ ...contact('dv-3'), record })), sandbox.objects('contacts').find((c) => c.attributes['new_externalid'] === 'dv-3')?.id);
    assert.equal(sandbox.objects('contacts').filter((c) => c.attributes['new_externalid'] === 'dv-3').length, 1);
  });

  it('record ids with quotes, slashes and spaces reach Dataverse intact as OData string literals', async () => {
    const recordId = "o'neil/7 & co";
    assert.equal(odataString(recordId), "'o''neil%2F7%20%26%20co'");
    const crmId = crmIdOf(await dynamics.upsert({ ...contact(recordId), record: { lastname: "O'Neil", new_externalid: recordId } }));
    assert.equal(sandbox.objects('contacts').find((c) => c.id === crmId)?.attributes['new_externalid'], recordId);
    assert.deepEqual(await dynamics.delete(contact(recordId)), { kind: 'delivered' });
    assert.equal(sandbox.objects('contacts').some((c) => c.id === crmId), false);
  });

  it('deletes by GUID; a second delete and an unknown GUID are already done (404)', async () => {
    const crmId = crmIdOf(await dynamics.upsert({ ...contact('dv-4'), record: { lastname: 'Del', new_externalid: 'dv-4' } }));
    assert.deepEqual(await dynamics.delete(contact('dv-4', { crmId })), { kind: 'delivered' });
    assert.equal(lastRequest()?.path, `/api/data/v9.2/contacts(${crmId})`);
    assert.equal(sandbox.objects('contacts').some((c) => c.id === crmId), false);
    assert.deepEqual(await dynamics.delete(contact('dv-4', { crmId })), { kind: 'delivered' });
    assert.equal(lastRequest()?.status, 404);
    assert.deepEqual(await dynamics.delete(contact('dv-x', { crmId: guidFor(999_999) })), { kind: 'delivered' });
  });

  it('deletes by alternate key when it holds no GUID; nothing there is already done', async () => {
    const crmId = crmIdOf(await dynamics.upsert({ ...contact('dv-5'), record: { lastname: 'Find', new_externalid: 'dv-5' } }));
    assert.deepEqual(await dynamics.delete(contact('dv-5')), { kind: 'delivered' });
    assert.equal(lastRequest()?.path, "/api/data/v9.2/contacts(new_externalid='dv-5')");
    assert.equal(sandbox.objects('contacts').some((c) => c.id === crmId), false);
    assert.deepEqual(await dynamics.delete(contact('dv-never')), { kind: 'delivered' });
  });

  it('an expired token asks the runtime to reauthenticate; a new token delivers', async () => {
    clock += 3_600_000;
    const outcome = await dynamics.upsert({ ...contact('dv-6'), record: { lastname: 'T', new_externalid: 'dv-6' } });
    assert.deepEqual(outcome, { kind: 'reauthenticate', message: 'Dataverse 401', status: 401 });
    http = await clientFor(sandbox);
    assert.equal((await dynamics.upsert({ ...contact('dv-6'), record: { lastname: 'T', new_externalid: 'dv-6' } })).kind, 'delivered');
  });

  it('with the runtime\'s oauth2 credentials (client credentials, expires_in), tokens are renewed before they expire', async () => {
    const credentials = createCredentials(
      { type: 'oauth2', grant: 'client_credentials', tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, scope: sandbox.scope },
      { timeoutMs: 1_000, now: () => clock },
    );
    const oauthHttp = createHttpClient({ baseUrl: sandbox.url, credentials, timeoutMs: 500, connections: 2 });
    onCleanup(() => oauthHttp.close());
    const context = contact('dv-7', { http: oauthHttp });
    assert.equal((await dynamics.upsert({ ...context, record: { lastname: 'O', new_externalid: 'dv-7' } })).kind, 'delivered');
    const issued = sandbox.stats().tokensIssued;
    clock += 3_599_000 - 30_000;
    assert.equal((await dynamics.upsert({ ...context, record: { lastname: 'P', new_externalid: 'dv-7' } })).kind, 'delivered');
    assert.equal(sandbox.stats().tokensIssued, issued + 1, 'renewed inside the refresh margin, so never refused');
    http = await clientFor(sandbox);
  });

  it('service protection (429 with Retry-After) is throttling for that long', async () => {
    const limited = await startSandbox({ now: () => clock, limits: { requests: 1, windowMs: 300_000 } });
    onCleanup(() => limited.close());
    const context = contact('dv-8', { http: await clientFor(limited) });
    assert.equal((await dynamics.upsert({ ...context, record: { lastname: 'L', new_externalid: 'dv-8' } })).kind, 'delivered');
    const outcome = await dynamics.upsert({ ...context, record: { lastname: 'L', new_externalid: 'dv-8' } });
    assert.equal(outcome.kind, 'rate-limited');
    assert.deepEqual(outcome.kind === 'rate-limited' && [outcome.status, outcome.afterMs], [429, 300_000]);
    assert.match(outcome.kind === 'rate-limited' ? outcome.message : '', /0x80072322/);
  });

  it('reads every injected error as Dataverse means it', async () => {
    const cases: Array<[Record<string, unknown>, (o: Outcome) => void]> = [
      [{ status: 429, headers: { 'Retry-After': '7' } }, (o) => assert.deepEqual([o.kind, o.kind === 'rate-limited' && o.afterMs], ['rate-limited', 7000])],
      [{ status: 412 }, (o) => assert.deepEqual([o.kind, o.kind === 'fatal' && o.code], ['fatal', 'RECSYNC_ERR_CRM_REJECTED'])],
      [{ status: 503 }, (o) => assert.deepEqual([o.kind, o.kind === 'retry' && o.status], ['retry', 503])],
      [{ status: 500, headers: { 'Retry-After': '2' } }, (o) => assert.equal(o.kind === 'retry' && o.afterMs, 2000)],
      [{ status: 401 }, (o) => assert.equal(o.kind, 'reauthenticate')],
      [{ status: 403, body: { error: { code: '0x80040220', message: 'Principal user is missing prvWriteContact privilege' } } }, (o) => assert.equal(o.kind === 'fatal' && o.code, 'RECSYNC_ERR_CRM_AUTH')],
    ];
    for (const [fault, check] of cases) {
      sandbox.injectFault({ match: { pathPrefix: '/api/data/v9.2/contacts' }, ...fault });
      check(await dynamics.upsert({ ...contact('dv-9'), record: { lastname: 'F', new_externalid: 'dv-9' } }));
    }
    assert.equal(sandbox.objects('contacts').some((c) => c.attributes['new_externalid'] === 'dv-9'), false);
  });

  it('a record Dataverse refuses is a fatal rejection with its code and message', async () => {
    const outcome = await dynamics.upsert({ ...contact('dv-10'), record: { lastname: 'X', shoesize: '44', new_externalid: 'dv-10' } });
    assert.equal(outcome.kind, 'fatal');
    assert.equal(outcome.kind === 'fatal' && outcome.code, 'RECSYNC_ERR_CRM_REJECTED');
    assert.match(outcome.kind === 'fatal' ? outcome.message : '', /^Dataverse 400 0x80060888: The property 'shoesize' does not exist/);
    const long = await dynamics.upsert({ ...contact('dv-11'), record: { firstname: 'x'.repeat(60), new_externalid: 'dv-11' } });
    assert.match(long.kind === 'fatal' ? long.message : '', /0x80044331/);
  });

  it('loads from its manifest; the mapped contact passes the output schema and is delivered', async () => {
    const version = await loadConnector(join(repoConnectors, 'dynamics'), sandbox.env);
    assert.deepEqual([...version.objects.keys()], ['contact']);
    assert.deepEqual(version.limits, [{ requests: 6000, perMs: 300_000 }]);
    assert.ok(version.concurrency <= 52);
    const plan = version.objects.get('contact')!;
    const record = (await plan.mapping.evaluate({ email: ' Ada@Example.com ', firstName: 'Ada', lastName: 'Lovelace', title: 'Countess', address: { city: 'London', country: 'gb' } }, { recordId: 'dv-map' })) as Record<string, unknown>;
    assert.deepEqual({ ...record }, { firstname: 'Ada', lastname: 'Lovelace', emailaddress1: 'ada@example.com', jobtitle: 'Countess', address1_city: 'London', address1_country: 'GB', new_externalid: 'dv-map' });
    assert.equal(plan.validateOutput(record), true);
    assert.equal(plan.validateOutput({ ...record, firstname: 'x'.repeat(51) }), false);
    assert.equal((await version.connector.upsert({ ...contact('dv-map', { options: plan.options }), record })).kind, 'delivered');
  });
});

describe("readError: Dataverse's error dialect", () => {
  const now = Date.parse('2026-03-02T09:00:00Z');
  const reply = (status: number, body: unknown = undefined, headers: Record<string, string> = {}) => readError({ status, headers, body }, now);
  it('2xx is no error', () => assert.equal(reply(204), undefined));
  it('429 waits Retry-After (seconds or an HTTP date), or a default without it', () => {
    assert.deepEqual(reply(429, { error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.' } }, { 'retry-after': '20' }), {
      kind: 'rate-limited',
      message: 'Dataverse 429 0x80072322: Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
      status: 429,
      afterMs: 20_000,
    });
    assert.equal((reply(429, undefined, { 'retry-after': 'Mon, 02 Mar 2026 09:00:30 GMT' }) as { afterMs: number }).afterMs, 30_000);
    assert.equal((reply(429) as { afterMs: number }).afterMs, DEFAULT_THROTTLE_WAIT_MS);
  });
  it('401 reauthenticates; 412 and 404 are fatal; 5xx retries', () => {
    assert.equal(reply(401)?.kind, 'reauthenticate');
    assert.deepEqual(reply(412, { error: { code: '0x80040237', message: 'A record with matching key values already exists.' } }), {
      kind: 'fatal',
      code: 'RECSYNC_ERR_CRM_REJECTED',
      message: 'Dataverse 412 0x80040237: A record with matching key values already exists.',
      status: 412,
    });
    assert.equal((reply(404, { error: { code: '0x80040217', message: 'x' } }) as { code: string }).code, 'RECSYNC_ERR_CRM_REJECTED');
    assert.equal(reply(502, '<html>bad gateway</html>')?.kind, 'retry');
  });
  it('entityIdFrom reads the GUID of an OData-EntityId header', () => {
    assert.equal(entityIdFrom('https://org.crm.dynamics.com/api/data/v9.2/contacts(6B0E1C2A-1111-4222-8333-444455556666)'), '6b0e1c2a-1111-4222-8333-444455556666');
    assert.equal(entityIdFrom(undefined), undefined);
  });
});
