import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hubspotSignatureV3, startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { copyConnectors } from './helpers/connectors.ts';
import { pollUntil } from './helpers/poll.ts';
import { useRedis } from './helpers/redis.ts';
import { startSink } from './helpers/sink.ts';

const secret = 'webhook-test-secret';
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const sink = await startSink();
const connectors = await copyConnectors(['hubspot']);
const recsync = await createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, env: { ...sandbox.env, HUBSPOT_WEBHOOK_SECRET: secret, RECSYNC_INBOUND_SINK_URL: sink.url } });
onCleanup(() => recsync.close());
const target = `${recsync.url}/v1/webhooks/hubspot`;

let nextEventId = 1;
const event = (objectId: number, overrides: Record<string, unknown> = {}) => ({
  eventId: nextEventId++, subscriptionId: 7, portalId: 62515, appId: 1, occurredAt: Date.now(), subscriptionType: 'contact.propertyChange',
  attemptNumber: 0, objectId, propertyName: 'firstname', propertyValue: 'x', changeSource: 'CRM_UI', ...overrides,
});

/** Sends a delivery signed as HubSpot signs it (or with the given signature and timestamp). */
async function deliver(body: string, options: { signature?: string; timestamp?: number; key?: string } = {}) {
  const timestamp = String(options.timestamp ?? Date.now());
  const signature = options.signature ?? hubspotSignatureV3(options.key ?? secret, 'POST', target, body, timestamp);
  const response = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp }, body });
  return { status: response.status, body: (await response.json()) as Record<string, any>, signature, timestamp };
}

describe('POST /v1/webhooks/hubspot checks what it is sent', () => {
  it('takes a correctly signed batch and acknowledges it after the enqueue', async () => {
    const answer = await deliver(JSON.stringify([event(900001), event(900002, { subscriptionType: 'contact.associationChange' })]));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { received: 2, accepted: 1, stale: 0, ignored: 1 });
    const counters = await recsync.services.store.counters('hubspot.in');
    assert.ok(counters.accepted >= 1);
  });

  it('refuses a forged signature, a wrong secret, and a body changed after signing', async () => {
    const body = JSON.stringify([event(900003)]);
    assert.equal((await deliver(body, { signature: Buffer.alloc(32, 7).toString('base64') })).status, 401);
    const wrongKey = await deliver(body, { key: 'not-the-secret' });
    assert.equal(wrongKey.status, 401);
    assert.equal(wrongKey.body['code'], 'RECSYNC_ERR_WEBHOOK_SIGNATURE');
    const signed = hubspotSignatureV3(secret, 'POST', target, body, '1700000000000');
    const tampered = await deliver(body.replace('900003', '900004'), { signature: signed, timestamp: 1700000000000 });
    assert.equal(tampered.status, 401);
    const missing = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(missing.status, 401);
  });

  it('refuses a correctly signed request older than 5 minutes', async () => {
    const answer = await deliver(JSON.stringify([event(900005)]), { timestamp: Date.now() - 5 * 60_000 - 1_000 });
    assert.equal(answer.status, 401);
    assert.equal(answer.body['code'], 'RECSYNC_ERR_WEBHOOK_STALE');
  });

  it('refuses a replay of a request it took, but takes the CRM retry of the same events', async () => {
    const events = [event(900006)];
    const body = JSON.stringify(events);
    const first = await deliver(body);
    assert.equal(first.status, 200);
    const replay = await deliver(body, { signature: first.signature, timestamp: Number(first.timestamp) });
    assert.equal(replay.status, 409);
    assert.equal(replay.body['code'], 'RECSYNC_ERR_WEBHOOK_REPLAYED');
    // HubSpot's retry: same events, attemptNumber 1, a new timestamp, so a new signature.
    const retry = await deliver(JSON.stringify(events.map((e) => ({ ...e, attemptNumber: 1 }))), { timestamp: Number(first.timestamp) + 1 });
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.body, { received: 1, accepted: 0, stale: 1, ignored: 0 });
    const sync = await recsync.services.store.syncCounters('hubspot');
    assert.ok((sync['rejected.replayed'] ?? 0) >= 1);
  });

  it('names the field of a malformed event, and refuses a body that is not JSON', async () => {
    const bad = await deliver(JSON.stringify([event(900007), { ...event(900008), objectId: 'x' }]));
    assert.equal(bad.status, 400);
    assert.match(bad.body['message'], /\[1\]\.objectId/);
    assert.equal((await deliver('{not json')).status, 400);
  });

  it('answers 404 for a connector that takes no webhooks', async () => {
    const response = await fetch(`${recsync.url}/v1/webhooks/nope`, { method: 'POST', body: '[]' });
    assert.equal(response.status, 404);
  });
});

describe('the way back, through the sandbox', () => {
  it('delivers a change made in the CRM to the sink, mapped to our model, and suppresses the echo of our own write', async () => {
    sandbox.webhooks.configure({ targetUrl: target, secret, flushMs: 20 });
    // Ours: written by recsync, announced by HubSpot, recognised as our echo.
    const task = { connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'w-1', version: 1, payload: { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper' } };
    assert.equal((await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(task) })).status, 202);
    const echoed = await pollUntil(async () => ((await recsync.services.store.syncCounters('hubspot'))['echoesSuppressed'] ?? 0) >= 1 || undefined, { timeoutMs: 10_000 });
    assert.equal(echoed, true);
    assert.equal(sink.deliveries.filter((d) => d.recordId === 'w-1').length, 0, 'our own write was not sent back');

    // Theirs: a user edits the contact in HubSpot.
    const crmId = (await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'w-1' }))!.crmId!;
    const changed = await fetch(`${sandbox.url}/__sandbox/objects/contacts/${crmId}/change`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ properties: { firstname: 'Grace B.' } }) });
    assert.equal(changed.status, 200);
    const delivery = await pollUntil(() => sink.deliveries.find((d) => d.recordId === 'w-1'), { timeoutMs: 10_000 });
    assert.equal(delivery.action, 'upsert');
    assert.equal(delivery.crmId, crmId);
    assert.deepEqual(delivery.record, { email: 'grace@example.com', firstName: 'Grace B.', lastName: 'Hopper' });
    assert.match(delivery.key, new RegExp(`^hubspot/contact/${crmId}@\\d+$`));
    // The way back's record state, and the connector's status, show it.
    const response = await fetch(`${recsync.url}/v1/records/hubspot.in/${crmId}`);
    assert.equal(response.status, 200);
    const status = (await response.json()) as Record<string, unknown>;
    assert.equal(status['deliveredVersion'], delivery.version);
    assert.equal(status['crmId'], crmId);
    const connector = (await (await fetch(`${recsync.url}/v1/connectors/hubspot`)).json()) as { inbound: Record<string, any> };
    assert.equal(connector.inbound['name'], 'hubspot.in');
    assert.ok(connector.inbound['echoesSuppressed'] >= 1);
    assert.ok(connector.inbound['deliveredToSink'] >= 1);
    assert.ok(connector.inbound['webhooks'].rejected.signature >= 1);
    const ours = (await (await fetch(`${recsync.url}/v1/records/hubspot/w-1?object=contact`)).json()) as Record<string, any>;
    assert.equal(ours['decision'], null, 'the CRM change of w-1 was no conflict');
  });
});

describe('the way back in the management API', () => {
  it('has its own dead letters under <name>.in, listed, shown and replayed like a connector\'s', async () => {
    // A version of the way back that failed for good (written through the store: no job runs it).
    const ref = { connector: 'hubspot.in', tenant: 'default', object: 'contact', recordId: 'dl-1' };
    const written = await recsync.services.store.ingest(ref, { version: 1, action: 'upsert', payload: { id: 'dl-1' } });
    const claim = await recsync.services.store.claim(ref, written.seq);
    assert.ok(claim.kind === 'work');
    await recsync.services.store.deadLetter(ref, claim.claimed, { code: 'RECSYNC_ERR_CRM_REJECTED', message: 'the sink refused it', at: new Date().toISOString() }, { configVersion: 'test', jobId: 'j' });
    const list = await fetch(`${recsync.url}/v1/connectors/hubspot.in/dlq`);
    assert.equal(list.status, 200);
    const items = ((await list.json()) as { items: Array<{ id: string; recordId: string }> }).items;
    assert.deepEqual(items.map((i) => i.recordId), ['dl-1']);
    assert.equal((await fetch(`${recsync.url}/v1/connectors/hubspot.in/dlq/${encodeURIComponent(items[0]!.id)}`)).status, 200);
    const replay = await fetch(`${recsync.url}/v1/connectors/hubspot.in/dlq/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids: [items[0]!.id] }) });
    assert.equal(((await replay.json()) as { replayed: number }).replayed, 1);
    // A name that is no way back is still unknown.
    assert.equal((await fetch(`${recsync.url}/v1/connectors/nothing.in/dlq`)).status, 404);
  });
});
