import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { copyConnectors } from './helpers/connectors.ts';
import { pollUntil } from './helpers/poll.ts';
import { useRedis } from './helpers/redis.ts';

// How the worker turns each outcome into the record's next state, against the real runtime and
// the HubSpot sandbox. Every scenario uses its own tenant: budgets and breakers are per account.
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
await connectors.edit('hubspot/manifest.yaml', (text) =>
  text
    .replace('timeout: 10s', 'timeout: 300ms')
    .replace('{ requests: 100, per: 10s }', '{ requests: 2, per: 1s }')
    .replace('attempts: 8', 'attempts: 3')
    .replace('initial: 500ms, max: 5m', 'initial: 20ms, max: 100ms')
    .replace('volumeThreshold: 20', 'volumeThreshold: 2')
    .replace('resetTimeout: 30s', 'resetTimeout: 400ms'),
);
const recsync = await createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, env: sandbox.env });
onCleanup(() => recsync.close());
const { store } = recsync.services;

async function send(tenant: string, recordIds: string[], payload: (id: string) => Record<string, unknown> = (id) => ({ email: `${id}@${tenant}.example.com`, firstName: id })) {
  const tasks = recordIds.map((recordId) => ({ connector: 'hubspot', object: 'contact', action: 'upsert', recordId, tenant, version: 1, payload: payload(recordId) }));
  const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tasks) });
  assert.equal(response.status, 202, await response.text());
}

const statusOf = (tenant: string, recordId: string) => store.status({ connector: 'hubspot', tenant, object: 'contact', recordId });

/** Waits until every record of the list has left flight (delivered or dead-lettered). */
async function settled(tenant: string, recordIds: string[]) {
  return pollUntil(
    async () => {
      const statuses = await Promise.all(recordIds.map((id) => statusOf(tenant, id)));
      return statuses.every((s) => s && !s.pending && s.inFlightVersion === null) ? statuses : undefined;
    },
    { timeoutMs: 30_000, describe: async () => JSON.stringify(await Promise.all(recordIds.map((id) => statusOf(tenant, id)))) },
  );
}

const requestsFor = (tenant: string) => sandbox.requests().filter((r) => JSON.stringify(r.body ?? '').includes(`@${tenant}.example.com`));

describe('worker outcomes', () => {
  it('a transient CRM error is retried with backoff and then delivered', async () => {
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 503, times: 2 });
    await send('transient', ['t1']);
    const [status] = await settled('transient', ['t1']);
    assert.equal(status?.deliveredVersion, 1);
    assert.equal(status?.lastError, null, 'a delivery clears the last error');
    assert.equal(requestsFor('transient').length, 3);
  });

  it('a fatal CRM answer dead-letters the version with its reason, at the first attempt', async () => {
    const before = (await store.counters('hubspot')).deadLettered;
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 400, body: { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR', correlationId: 'c-1' } });
    await send('fatal', ['f2'], () => ({ email: 'fatal2@fatal.example.com' }));
    const [status] = await settled('fatal', ['f2']);
    assert.equal(status?.deliveredVersion, null);
    assert.equal((status?.lastError as { code: string }).code, 'RECSYNC_ERR_CRM_REJECTED');
    assert.equal((await store.counters('hubspot')).deadLettered, before + 1);
  });

  it('attempts are capped by the retry policy: the version is dead-lettered as exhausted', async () => {
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 500, times: 3 });
    await send('exhausted', ['x1']);
    const [status] = await settled('exhausted', ['x1']);
    const error = status?.lastError as { code: string; lastCode: string; attempts: number };
    assert.equal(error.code, 'RECSYNC_ERR_ATTEMPTS_EXHAUSTED');
    assert.equal(error.lastCode, 'RECSYNC_ERR_CRM_RETRYABLE');
    assert.equal(error.attempts, 3);
  });

  it('waiting for the rate budget spends no attempt, and the budget holds', async () => {
    const ids = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
    await send('budget', ids);
    const statuses = await settled('budget', ids);
    assert.ok(statuses.every((s) => s?.deliveredVersion === 1), 'all delivered although the policy allows only 3 attempts');
    const times = requestsFor('budget').map((r) => r.at).sort((a, b) => a - b);
    for (let i = 2; i < times.length; i += 1) assert.ok(times[i]! - times[i - 2]! >= 1000, `3 requests within 1 s: ${times.join(',')}`);
  });

  it('a CRM 429 holds the account back as it says, without spending attempts', async () => {
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 429, headers: { 'Retry-After': '1' }, body: { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING', correlationId: 'c' }, times: 4 });
    await send('throttled', ['q1']);
    const [status] = await settled('throttled', ['q1']);
    assert.equal(status?.deliveredVersion, 1, 'four 429s did not exhaust three attempts');
    const times = requestsFor('throttled').map((r) => r.at);
    for (let i = 1; i < times.length; i += 1) assert.ok(times[i]! - times[i - 1]! >= 1000, `pushed back by Retry-After: ${times.join(',')}`);
  });

  it('an open breaker holds every request until its half-open probe, spending no attempts, then recovers', async () => {
    const before = (await store.counters('hubspot')).deadLettered;
    // Two concurrent failures at 100 % open the breaker (volume threshold 2); the retries' backoff
    // (20–100 ms) is far shorter than its reset timeout (400 ms), so only the breaker explains a long
    // gap. The half-open probe meets the third fault and re-opens it; the next probe succeeds.
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 503, times: 3 });
    const ids = ['b1', 'b2'];
    await send('breaker', ids);
    const statuses = await settled('breaker', ids);
    assert.ok(statuses.every((s) => s?.deliveredVersion === 1), JSON.stringify(statuses.map((s) => s?.lastError)));
    assert.equal((await store.counters('hubspot')).deadLettered, before, 'waiting on the open breaker spent no attempt');
    const requests = requestsFor('breaker').sort((a, b) => a.at - b.at);
    const failures = requests.filter((r) => r.status === 503);
    assert.equal(failures.length, 3);
    const opened = failures[1]!.at;
    const next = requests.find((r) => r.at > opened + 5);
    assert.ok(next && next.at - opened >= 350, `the first request after the breaker opened came ${next ? next.at - opened : '?'} ms later`);
    assert.equal(recsync.services.breakers.state('hubspot:breaker'), 'closed');
  });
});
