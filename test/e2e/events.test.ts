import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startSandbox as startHubSpot } from '../../connectors/hubspot/sandbox.ts';
import { startSandbox as startSalesforce } from '../../connectors/salesforce/sandbox.ts';
import { createRecsync } from '../../runtime/app.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { pollUntil } from '../helpers/poll.ts';
import { useRedis } from '../helpers/redis.ts';

// One stream of change events fans out to two connectors whose rules differ: HubSpot (marketing)
// holds only people who consented, Salesforce (sales) everyone but test tenants, and our companies
// as its accounts. Each sandbox must end in exactly the expected state.
const redis = await useRedis();
const [hubspot, salesforce] = await Promise.all([startHubSpot({ limits: false }), startSalesforce()]);
onCleanup(() => Promise.all([hubspot.close(), salesforce.close()]));
const recsync = await createRecsync({ redisUrl: redis.url, env: { ...hubspot.env, ...salesforce.env } });
onCleanup(() => recsync.close());
const app = recsync.server!;

async function post(url: string, payload: unknown) {
  const response = await app.inject({ method: 'POST', url, payload: payload as object });
  return { status: response.statusCode, body: response.json() as any };
}

const person = (name: string, consent?: boolean) => ({ email: `${name.toLowerCase()}@example.com`, firstName: name, lastName: 'Doe', ...(consent === undefined ? {} : { marketingConsent: consent }) });
const settled = () => pollUntil(async () => {
  const counters = await Promise.all(['hubspot', 'salesforce'].map((name) => recsync.services.store.counters(name)));
  return counters.every((c) => c.open === 0) ? counters : undefined;
}, { timeoutMs: 20_000 });

it('one stream of events, two connectors with different rules: each CRM ends in exactly the expected state', async () => {
  const stream = [
    { object: 'contact', recordId: 'ada', op: 'insert', version: 1, after: person('Ada', true) },
    { object: 'contact', recordId: 'bob', op: 'insert', version: 1, after: person('Bob') },
    { object: 'contact', recordId: 'cy', op: 'insert', version: 1, tenant: 'acme-test', after: person('Cy', true) },
    { object: 'company', recordId: 'ae', op: 'insert', version: 1, after: { name: 'Analytical Engines', domain: 'ae.example' } },
    { object: 'contact', recordId: 'bob', op: 'update', version: 2, before: person('Bob'), after: person('Bob', true) },
    { object: 'contact', recordId: 'ada', op: 'update', version: 2, before: person('Ada', true), after: { ...person('Ada', true), lastName: 'King' } },
  ];
  const first = await post('/v1/events', stream);
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.events, 6);
  const decisions = first.body.decisions.map((d: { index: number; connector: string; rule: string | null; decision: string }) => `${d.index} ${d.connector} ${d.rule} ${d.decision}`);
  assert.deepEqual(decisions, [
    '0 hubspot consented-contacts upsert', '0 salesforce contacts upsert',
    '1 hubspot null skip', '1 salesforce contacts upsert',
    '2 hubspot consented-contacts upsert', '2 salesforce internal-tenants skip',
    '3 hubspot companies upsert', '3 salesforce companies-as-accounts upsert',
    '4 hubspot consented-contacts upsert', '4 salesforce contacts skip',
    '5 hubspot consented-contacts upsert', '5 salesforce contacts upsert',
  ]);
  await settled();

  // Ada withdraws consent; Bob is deleted.
  const second = await post('/v1/events', [
    { object: 'contact', recordId: 'ada', op: 'update', version: 3, before: { ...person('Ada', true), lastName: 'King' }, after: { ...person('Ada', false), lastName: 'King' } },
    { object: 'contact', recordId: 'bob', op: 'delete', version: 3, before: person('Bob', true) },
  ]);
  assert.equal(second.status, 202);
  assert.deepEqual(second.body.decisions.map((d: { connector: string; rule: string; decision: string }) => `${d.connector} ${d.rule} ${d.decision}`), [
    'hubspot consent-withdrawn delete', 'salesforce contacts skip',
    'hubspot consent-withdrawn delete', 'salesforce contacts delete',
  ]);
  await settled();

  assert.deepEqual(hubspot.objects('contacts').map((o) => o.properties['email']).sort(), ['cy@example.com'], 'HubSpot: only the consented contact still consenting');
  assert.deepEqual(hubspot.objects('companies').map((o) => o.properties['name']), ['Analytical Engines']);
  assert.deepEqual(salesforce.objects('Contact').map((o) => `${o.fields['FirstName']} ${o.fields['LastName']}`), ['Ada King'], 'Salesforce: Ada (newest data), Bob deleted, the test tenant never sent');
  assert.deepEqual(salesforce.objects('Account').map((o) => o.fields['Name']), ['Analytical Engines']);

  // The decision is visible: on the record, and counted by rule.
  const ada = await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'ada' });
  assert.equal(ada?.rule, 'consent-withdrawn');
  const status = (await app.inject({ method: 'GET', url: '/v1/connectors/hubspot' })).json();
  const byRule = Object.fromEntries(status.rules.map((r: { name: string; decisions: unknown }) => [r.name, r.decisions]));
  assert.deepEqual(byRule['consented-contacts'], { upsert: 4, delete: 0, skip: 0 });
  assert.deepEqual(byRule['consent-withdrawn'], { upsert: 0, delete: 2, skip: 0 });
  assert.equal(status.unmatchedEvents, 1, 'Bob before consent matched no HubSpot rule');
});

it('an event a connector cannot take refuses the whole request, naming the event and the connector', async () => {
  const before = await Promise.all(['hubspot', 'salesforce'].map((name) => recsync.services.store.counters(name)));
  const refused = await post('/v1/events', [
    { object: 'contact', recordId: 'ok', op: 'insert', version: 1, after: person('Ok', true) },
    { object: 'contact', recordId: 'bad', op: 'insert', version: 1, after: { email: 'not an email', marketingConsent: true } },
  ]);
  assert.equal(refused.status, 422);
  assert.equal(refused.body.code, 'RECSYNC_ERR_INPUT_INVALID');
  assert.deepEqual(refused.body.errors.map((e: { index: number; connector: string }) => `${e.index} ${e.connector}`), ['1 hubspot', '1 salesforce']);
  const after = await Promise.all(['hubspot', 'salesforce'].map((name) => recsync.services.store.counters(name)));
  assert.deepEqual(after, before, 'nothing accepted');
  const invalid = await post('/v1/events', { object: 'contact', recordId: 'x', op: 'update', version: 1 });
  assert.equal(invalid.status, 400);
  assert.match(invalid.body.message, /after/);
});

it('dry run: which rules match an event and what each connector would receive, nothing written', async () => {
  const before = hubspot.stats().requests + salesforce.stats().requests;
  const result = await post('/v1/events/dry-run', { object: 'company', recordId: 'dry', op: 'insert', version: 1, after: { name: 'Dry Goods' } });
  assert.equal(result.status, 200);
  const [hs, sf] = result.body.connectors;
  assert.deepEqual(hs.rules, [{ name: 'consented-contacts', matches: false }, { name: 'consent-withdrawn', matches: false }, { name: 'companies', matches: true }]);
  assert.equal(hs.wouldSend.record.name, 'Dry Goods');
  assert.deepEqual([sf.decision.rule, sf.decision.object], ['companies-as-accounts', 'account']);
  assert.equal(sf.wouldSend.record.Name, 'Dry Goods');
  assert.equal(hubspot.stats().requests + salesforce.stats().requests, before);
  assert.equal(await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'company', recordId: 'dry' }), undefined);
});
