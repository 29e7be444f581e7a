import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hubspotSignatureV3, startSandbox, type SandboxObject } from '../../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../../runtime/app.ts';
import type { SinkDelivery } from '../../plugins/sink.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { copyConnectors } from '../helpers/connectors.ts';
import { pollUntil } from '../helpers/poll.ts';
import { useRedis } from '../helpers/redis.ts';
import { startSink } from '../helpers/sink.ts';

// Both directions at once: our system (this test, holding its records in `internal`) and HubSpot
// (the sandbox, changed through its control API as a user would) change the same 500 contacts;
// recsync carries each side's changes to the other. Policy: lastWriter (the manifest's).
const records = 500;
const limitPerTenSeconds = 1000;
const secret = 'two-way-secret';

const redis = await useRedis();
const sandbox = await startSandbox({ limits: { perTenSeconds: limitPerTenSeconds, daily: 1_000_000 } });
onCleanup(() => sandbox.close());
/** Our system: its records, as it holds them; the sink applies what comes back. */
const internal = new Map<string, Record<string, unknown> | null>();
const sink = await startSink((delivery: SinkDelivery) => {
  internal.set(delivery.recordId, delivery.action === 'delete' ? null : delivery.record);
  return 204;
});
const connectors = await copyConnectors(['hubspot']);
await connectors.edit('hubspot/manifest.yaml', (text) => text.replace('{ requests: 100, per: 10s }', `{ requests: ${limitPerTenSeconds}, per: 10s }`));
const recsync = await createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, env: { ...sandbox.env, HUBSPOT_WEBHOOK_SECRET: secret, RECSYNC_INBOUND_SINK_URL: sink.url } });
onCleanup(() => recsync.close());
const target = `${recsync.url}/v1/webhooks/hubspot`;
// HubSpot duplicates some deliveries; one in five here.
sandbox.webhooks.configure({ targetUrl: target, secret, flushMs: 25, duplicateRate: 0.2 });
const { store, queues } = recsync.services;

const id = (i: number) => `tw-${i}`;
const ours = (i: number, firstName: string) => ({ email: `p${i}@example.com`, firstName, lastName: `L${i}` });

async function sendTasks(tasks: Array<{ recordId: string; version: number; payload: Record<string, unknown> }>): Promise<void> {
  for (let i = 0; i < tasks.length; i += 100) {
    const batch = tasks.slice(i, i + 100).map((t) => ({ connector: 'hubspot', object: 'contact', action: 'upsert', ...t }));
    for (const t of batch) internal.set(t.recordId, t.payload);
    const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    assert.equal(response.status, 202, await response.text());
  }
}

async function crmChange(crmId: string, properties: Record<string, string>): Promise<void> {
  const response = await fetch(`${sandbox.url}/__sandbox/objects/contacts/${crmId}/change`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ properties }) });
  assert.equal(response.status, 200, await response.text());
}

/** Quiet: nothing owed in either direction and no webhook waiting at the CRM, twice in a row. */
async function settled(): Promise<void> {
  let quietOnce = false;
  await pollUntil(
    async () => {
      const [out, back] = await Promise.all([store.counters('hubspot'), store.counters('hubspot.in')]);
      const quiet = out.open === 0 && back.open === 0 && sandbox.webhooks.stats().pending === 0;
      if (quiet && quietOnce) return true;
      quietOnce = quiet;
      return undefined;
    },
    { timeoutMs: 180_000, intervalMs: 250, describe: async () => JSON.stringify({ out: await store.counters('hubspot'), back: await store.counters('hubspot.in'), webhooks: sandbox.webhooks.stats() }) },
  );
}

const crmContacts = () => new Map(sandbox.objects('contacts').map((o: SandboxObject) => [o.properties['recsync_id'] ?? `crm-${o.id}`, o]));
const view = (o: SandboxObject) => ({ email: o.properties['email'], firstName: o.properties['firstname'], lastName: o.properties['lastname'] });

it(`syncs ${records} contacts both ways at once: both sides equal, no echo sent back, every change accounted for, forged and replayed webhooks refused`, async () => {
  const started = performance.now();
  // 1. Our system creates every contact. Each create comes back as a webhook: all echoes.
  await sendTasks(Array.from({ length: records }, (_, i) => ({ recordId: id(i), version: 1, payload: ours(i, 'v1') })));
  await settled();
  assert.equal(sink.deliveries.length, 0, 'no create of ours was sent back');
  const crmIdOf = new Map([...crmContacts()].map(([recordId, o]) => [recordId, o.id]));
  assert.equal(crmIdOf.size, records);

  // 2. Both sides change at once: ours only (0-149), the CRM only (150-299), both (300-399), neither (400-499);
  //    and users create 20 contacts in HubSpot.
  const crmOnly = Array.from({ length: 150 }, (_, k) => 150 + k);
  const both = Array.from({ length: 100 }, (_, k) => 300 + k);
  const oursOnly = Array.from({ length: 150 }, (_, k) => k);
  const forged = fetch(target, { method: 'POST', headers: { 'x-hubspot-signature-v3': Buffer.alloc(32).toString('base64'), 'x-hubspot-request-timestamp': String(Date.now()) }, body: '[]' });
  await Promise.all([
    sendTasks([...oursOnly, ...both].map((i) => ({ recordId: id(i), version: 2, payload: ours(i, `ours-${i}`) }))),
    (async () => {
      for (const i of [...crmOnly, ...both]) await crmChange(crmIdOf.get(id(i))!, { firstname: `crm-${i}` });
      for (let n = 0; n < 20; n += 1) {
        const created = await fetch(`${sandbox.url}/__sandbox/objects/contacts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ properties: { email: `new${n}@example.com`, firstname: `New ${n}` } }) });
        assert.equal(created.status, 201);
      }
    })(),
  ]);
  assert.equal((await forged).status, 401);
  // A replay of a delivery recsync took: refused.
  const body = JSON.stringify([{ eventId: 1, subscriptionId: 1, portalId: 62515, appId: 1, occurredAt: Date.now(), subscriptionType: 'contact.propertyChange', attemptNumber: 0, objectId: Number(crmIdOf.get(id(450))), propertyName: 'firstname', propertyValue: 'v1', changeSource: 'CRM_UI' }]);
  const timestamp = String(Date.now());
  const headers = { 'x-hubspot-signature-v3': hubspotSignatureV3(secret, 'POST', target, body, timestamp), 'x-hubspot-request-timestamp': timestamp };
  assert.equal((await fetch(target, { method: 'POST', headers, body })).status, 200);
  assert.equal((await fetch(target, { method: 'POST', headers, body })).status, 409);
  await settled();
  const elapsedMs = performance.now() - started;

  // Both sides equal, record by record (the contacts made in the CRM arrive as crm-<id>).
  const crm = crmContacts();
  assert.equal(crm.size, records + 20);
  for (const [recordId, object] of crm) {
    const mine = internal.get(recordId) as Record<string, unknown> | undefined;
    assert.ok(mine, `${recordId} reached our system`);
    const story = async () =>
      JSON.stringify({
        ours: await store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId }),
        back: await store.status({ connector: 'hubspot.in', tenant: 'default', object: 'contact', recordId: object.id }),
        sink: sink.deliveries.filter((d) => d.recordId === recordId),
        crm: object,
      });
    const equal = JSON.stringify({ email: mine['email'], firstName: mine['firstName'], lastName: mine['lastName'] }) === JSON.stringify(view(object));
    assert.ok(equal, `${recordId} differs: ours ${JSON.stringify(mine)}; ${await story()}`);
  }
  for (const i of crmOnly) assert.equal(internal.get(id(i))!['firstName'], `crm-${i}`);
  for (const i of oursOnly) assert.equal(crm.get(id(i))!.properties['firstname'], `ours-${i}`);
  for (const i of both) assert.ok([`ours-${i}`, `crm-${i}`].includes(crm.get(id(i))!.properties['firstname']!), id(i));

  // No echo: nothing of ours came back, for records only we changed or nobody changed.
  const echoedBack = sink.deliveries.filter((d) => oursOnly.map(id).includes(d.recordId) || (d.recordId.startsWith('tw-') && Number(d.recordId.slice(3)) >= 400 && d.recordId !== id(450)));
  assert.deepEqual(echoedBack.map((d) => d.recordId), []);

  // Every change accounted for, in both directions.
  const [out, back, sync] = await Promise.all([store.counters('hubspot'), store.counters('hubspot.in'), store.syncCounters('hubspot')]);
  for (const counters of [out, back]) {
    assert.equal(counters.open, 0);
    assert.equal(counters.deadLettered, 0);
    assert.equal(counters.accepted, counters.delivered + counters.superseded);
  }
  assert.equal(out.accepted, records + oursOnly.length + both.length);
  // The way back: each change either reached our system, or was an echo, a lost conflict, or a
  // duplicate or older version (superseded without a decision).
  assert.equal(back.delivered, sync['toSink']);
  assert.ok((sync['echoesSuppressed'] ?? 0) >= records, JSON.stringify(sync));
  assert.ok((sync['rejected.signature'] ?? 0) >= 1 && (sync['rejected.replayed'] ?? 0) >= 1);
  assert.equal((await queues.counts('hubspot.in')).failed, 0);
  const webhooks = sandbox.webhooks.stats();
  console.log(JSON.stringify({ records, elapsedMs: Math.round(elapsedMs), outbound: out, inbound: back, sync, webhooks, sinkDeliveries: sink.deliveries.length }));
});

it('decides a conflict by the policy (lastWriter) once, for both directions, and records it on the record', async () => {
  await sendTasks([{ recordId: 'cf-a', version: 1, payload: ours(9001, 'v1') }, { recordId: 'cf-b', version: 1, payload: ours(9002, 'v1') }]);
  await settled();
  const crmIds = crmContacts();
  const [a, b] = [crmIds.get('cf-a')!.id, crmIds.get('cf-b')!.id];
  const syncBefore = await store.syncCounters('hubspot');
  // Both directions held back, so that both changes of each record are owed at once.
  await queues.pause('hubspot');
  await queues.pause('hubspot.in');
  try {
    // cf-a: ours first, then the CRM's (later: the CRM wins). cf-b: the CRM's first, then ours (ours wins).
    await sendTasks([{ recordId: 'cf-a', version: 2, payload: ours(9001, 'ours-a') }]);
    await crmChange(a, { firstname: 'crm-a' });
    await crmChange(b, { firstname: 'crm-b' });
    await new Promise((resolve) => setTimeout(resolve, 5)); // distinct clock readings for the two sides
    await sendTasks([{ recordId: 'cf-b', version: 2, payload: ours(9002, 'ours-b') }]);
    await pollUntil(async () => sandbox.webhooks.stats().pending === 0 || undefined, { timeoutMs: 10_000 });
    await queues.resume('hubspot.in');
    await pollUntil(async () => (await store.counters('hubspot.in')).open === 0 || undefined, { timeoutMs: 10_000 });
  } finally {
    await queues.resume('hubspot');
    await queues.resume('hubspot.in');
  }
  await settled();

  const crm = crmContacts();
  assert.equal(crm.get('cf-a')!.properties['firstname'], 'crm-a');
  assert.equal((internal.get('cf-a') as Record<string, unknown>)['firstName'], 'crm-a');
  assert.equal(crm.get('cf-b')!.properties['firstname'], 'ours-b');
  assert.equal((internal.get('cf-b') as Record<string, unknown>)['firstName'], 'ours-b');

  const statusA = await store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'cf-a' });
  assert.equal(statusA!.decision?.kind, 'conflict');
  assert.equal(statusA!.decision?.winner, 'crm');
  assert.equal(statusA!.deliveredVersion, 1, 'our version 2 lost and was never sent');
  const statusB = await store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'cf-b' });
  assert.equal(statusB!.deliveredVersion, 2);
  const inboundB = await store.status({ connector: 'hubspot.in', tenant: 'default', object: 'contact', recordId: b });
  assert.ok(inboundB!.decision, 'the CRM change of cf-b carries a decision');
  const sync = await store.syncCounters('hubspot');
  assert.equal((sync['conflicts.crm'] ?? 0) - (syncBefore['conflicts.crm'] ?? 0), 1);
  assert.equal((sync['conflicts.ours'] ?? 0) - (syncBefore['conflicts.ours'] ?? 0), 1);
  assert.equal((sync['oursYielded'] ?? 0) - (syncBefore['oursYielded'] ?? 0), 1, 'our version 2 of cf-a was not sent');
  const out = await store.counters('hubspot');
  assert.equal(out.accepted, out.delivered + out.superseded);
});
