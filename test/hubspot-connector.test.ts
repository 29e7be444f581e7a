import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import hubspot, { readError } from '../connectors/hubspot/connector.ts';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createCredentials } from '../runtime/credentials.ts';
import { createHttpClient, TransportError } from '../runtime/http-client.ts';
import type { SendContext } from '../runtime/sdk/index.ts';
import { onCleanup } from './helpers/cleanup.ts';

const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const http = createHttpClient({ baseUrl: sandbox.url, credentials: createCredentials({ type: 'bearer', token: sandbox.token }), timeoutMs: 500, connections: 4 });
onCleanup(() => http.close());

const contactContext = (recordId: string, extra: Partial<SendContext> = {}): SendContext => ({
  object: 'contact',
  options: { type: 'contacts', idProperty: 'email' },
  tenant: 'default',
  recordId,
  version: 1,
  http,
  ...extra,
});

describe('HubSpot connector against the sandbox', () => {
  it('creates by upsert on the id property, then updates by id', async () => {
    const created = await hubspot.upsert({ ...contactContext('h-1'), record: { email: 'grace@example.com', firstname: 'Grace' } });
    assert.equal(created.kind, 'delivered');
    const crmId = created.kind === 'delivered' ? created.crmId! : '';
    assert.match(crmId, /^\d+$/);
    const updated = await hubspot.upsert({ ...contactContext('h-1', { crmId, version: 2 }), record: { email: 'grace@example.com', firstname: 'Grace B.' } });
    assert.deepEqual(updated, { kind: 'delivered', crmId, created: false });
    const stored = sandbox.objects('contacts').find((o) => o.id === crmId);
    assert.equal(stored?.properties['firstname'], 'Grace B.');
  });

  it('a create retried after a lost answer makes no second contact', async () => {
    const record = { email: 'retry@example.com', firstname: 'R' };
    const first = await hubspot.upsert({ ...contactContext('h-2'), record });
    const again = await hubspot.upsert({ ...contactContext('h-2'), record });
    assert.equal(first.kind === 'delivered' && first.crmId, again.kind === 'delivered' && again.crmId);
    assert.equal(sandbox.objects('contacts').filter((o) => o.properties['email'] === 'retry@example.com').length, 1);
  });

  it('writes again by id property when the stored id was archived in HubSpot', async () => {
    const first = await hubspot.upsert({ ...contactContext('h-3'), record: { email: 'gone@example.com' } });
    const crmId = first.kind === 'delivered' ? first.crmId! : '';
    await hubspot.delete(contactContext('h-3', { crmId }));
    const back = await hubspot.upsert({ ...contactContext('h-3', { crmId }), record: { email: 'gone@example.com', firstname: 'Back' } });
    assert.equal(back.kind, 'delivered');
    assert.notEqual(back.kind === 'delivered' && back.crmId, crmId);
  });

  it('archives on delete; a second delete, or one for an unknown id, is already done', async () => {
    const created = await hubspot.upsert({ ...contactContext('h-4'), record: { email: 'del@example.com' } });
    const crmId = created.kind === 'delivered' ? created.crmId! : '';
    assert.deepEqual(await hubspot.delete(contactContext('h-4', { crmId })), { kind: 'delivered' });
    assert.equal(sandbox.objects('contacts', { includeArchived: true }).find((o) => o.id === crmId)?.archived, true);
    assert.deepEqual(await hubspot.delete(contactContext('h-4', { crmId })), { kind: 'delivered' });
    assert.deepEqual(await hubspot.delete(contactContext('h-4', { crmId: '999999' })), { kind: 'delivered' });
  });

  it('deletes a never-delivered record found by its id property', async () => {
    await hubspot.upsert({ ...contactContext('h-5'), record: { email: 'found@example.com' } });
    assert.deepEqual(await hubspot.delete({ ...contactContext('h-5'), record: { email: 'found@example.com' } }), { kind: 'delivered' });
    assert.equal(sandbox.objects('contacts').some((o) => o.properties['email'] === 'found@example.com'), false);
  });

  it('companies upsert by the unique recsync_id', async () => {
    const context: SendContext = { ...contactContext('co-1'), object: 'company', options: { type: 'companies', idProperty: 'recsync_id' } };
    const first = await hubspot.upsert({ ...context, record: { name: 'Acme', recsync_id: 'co-1' } });
    const second = await hubspot.upsert({ ...context, record: { name: 'Acme Ltd', recsync_id: 'co-1' } });
    assert.equal(first.kind === 'delivered' && first.crmId, second.kind === 'delivered' && second.crmId);
    assert.equal(sandbox.objects('companies').filter((o) => o.properties['recsync_id'] === 'co-1').length, 1);
  });

  it('an update that would take another contact\'s email is rejected, naming the existing id', async () => {
    const a = await hubspot.upsert({ ...contactContext('h-6'), record: { email: 'a6@example.com' } });
    const b = await hubspot.upsert({ ...contactContext('h-7'), record: { email: 'b7@example.com' } });
    const bId = b.kind === 'delivered' ? b.crmId! : '';
    const outcome = await hubspot.upsert({ ...contactContext('h-7', { crmId: bId }), record: { email: 'a6@example.com' } });
    assert.equal(outcome.kind, 'fatal');
    assert.equal(outcome.kind === 'fatal' && outcome.code, 'RECSYNC_ERR_CRM_REJECTED');
    assert.match(outcome.kind === 'fatal' ? outcome.message : '', new RegExp(`Existing ID: ${a.kind === 'delivered' ? a.crmId : 'x'}`));
  });

  it('an unknown property is a fatal rejection with HubSpot\'s reason', async () => {
    const outcome = await hubspot.upsert({ ...contactContext('h-8'), record: { email: 'p@example.com', shoe_size: '44' } });
    assert.equal(outcome.kind, 'fatal');
    assert.match(outcome.kind === 'fatal' ? outcome.message : '', /PROPERTY_DOESNT_EXIST|shoe_size/);
  });

  it('reads injected faults as HubSpot means them', async () => {
    const cases: Array<[Record<string, unknown>, (o: Awaited<ReturnType<typeof hubspot.upsert>>) => void]> = [
      [{ status: 503 }, (o) => assert.equal(o.kind, 'retry')],
      [{ status: 423 }, (o) => assert.deepEqual(o.kind === 'retry' && [o.status, o.afterMs], [423, 2000])],
      [{ status: 477, headers: { 'Retry-After': '3' } }, (o) => assert.deepEqual(o.kind === 'rate-limited' && [o.status, o.afterMs], [477, 3000])],
      [{ status: 401 }, (o) => assert.equal(o.kind === 'fatal' && o.code, 'RECSYNC_ERR_CRM_AUTH')],
    ];
    for (const [fault, check] of cases) {
      sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, ...fault });
      check(await hubspot.upsert({ ...contactContext('h-9'), record: { email: 'fault@example.com' } }));
    }
  });

  it('a CRM that hangs past the timeout is aborted and reported as a timeout', async () => {
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, hang: true });
    await assert.rejects(hubspot.upsert({ ...contactContext('h-10'), record: { email: 'hang@example.com' } }), (error: unknown) => error instanceof TransportError && error.code === 'RECSYNC_ERR_CRM_TIMEOUT');
  });
});

describe("readError: HubSpot's error dialect", () => {
  const now = Date.parse('2026-11-24T22:00:00Z');
  const reply = (status: number, body: unknown = {}, headers: Record<string, string> = {}) => readError({ status, headers, body }, now);
  it('429 TEN_SECONDLY_ROLLING waits out the 10 s window', () =>
    assert.deepEqual(reply(429, { policyName: 'TEN_SECONDLY_ROLLING', category: 'RATE_LIMIT', message: 'You have reached your ten_secondly_rolling limit.' }), {
      kind: 'rate-limited',
      message: 'HubSpot 429 RATE_LIMIT: You have reached your ten_secondly_rolling limit.',
      status: 429,
      afterMs: 10_000,
    }));
  it('429 DAILY waits until midnight', () => assert.equal((reply(429, { policyName: 'DAILY' }) as { afterMs: number }).afterMs, 2 * 3600 * 1000));
  it('5xx and 52x retry; 525 is fatal', () => {
    assert.equal(reply(502)?.kind, 'retry');
    assert.equal(reply(524)?.kind, 'retry');
    assert.equal(reply(525)?.kind, 'fatal');
  });
  it('403 MISSING_SCOPES is fatal auth; 400 is a fatal rejection', () => {
    assert.equal(reply(403, { category: 'MISSING_SCOPES' })?.kind === 'fatal' && (reply(403) as { code: string }).code, 'RECSYNC_ERR_CRM_AUTH');
    assert.equal((reply(400, { category: 'VALIDATION_ERROR' }) as { code: string }).code, 'RECSYNC_ERR_CRM_REJECTED');
  });
  it('2xx is no error', () => assert.equal(reply(200), undefined));
  it('401 EXPIRED_AUTHENTICATION asks for a new token; INVALID_AUTHENTICATION is fatal', () => {
    assert.equal(reply(401, { category: 'EXPIRED_AUTHENTICATION' })?.kind, 'reauthenticate');
    assert.equal((reply(401, { category: 'INVALID_AUTHENTICATION' }) as { code: string }).code, 'RECSYNC_ERR_CRM_AUTH');
  });
});
