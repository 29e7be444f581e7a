import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { pollUntil } from './helpers/poll.ts';
import { useRedis } from './helpers/redis.ts';

const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const recsync = await createRecsync({ redisUrl: redis.url, env: sandbox.env });
onCleanup(() => recsync.close());
const app = recsync.server!;
const rejected = { status: 400, body: { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR', correlationId: 'c-1' } };

async function api(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) {
  const response = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: response.statusCode, body: response.body === '' ? undefined : (response.json() as any) };
}

async function deadLetter(recordId: string, version = 1) {
  sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, ...rejected });
  const accepted = await api('POST', '/v1/tasks', { connector: 'hubspot', object: 'contact', action: 'upsert', recordId, version, payload: { email: `${recordId}@example.com`, firstName: 'D' } });
  assert.equal(accepted.status, 202);
  return pollUntil(async () => (await recsync.services.store.getDeadLetter('hubspot', `default|contact|${recordId}|${version}`)) ?? undefined, { timeoutMs: 10_000 });
}

const delivered = (recordId: string, version = 1) =>
  pollUntil(async () => ((await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId }))?.deliveredVersion === version ? true : undefined), { timeoutMs: 10_000 });

describe('the dead-letter API', () => {
  it('lists and shows a dead letter with its whole story', async () => {
    const entry = await deadLetter('d1');
    const list = await api('GET', '/v1/connectors/hubspot/dlq?code=RECSYNC_ERR_CRM_REJECTED');
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((i: { id: string }) => i.id === entry.id));
    const one = await api('GET', `/v1/connectors/hubspot/dlq/${encodeURIComponent(entry.id)}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.error.code, 'RECSYNC_ERR_CRM_REJECTED');
    assert.equal(one.body.error.status, 400);
    assert.deepEqual(one.body.payload, { email: 'd1@example.com', firstName: 'D' });
    assert.equal(one.body.configVersion, recsync.services.registry.get('hubspot')!.version);
    assert.equal(one.body.attempts.length, 1);
    assert.equal((await api('GET', '/v1/connectors/hubspot/dlq/nope')).status, 404);
  });

  it('replays by id through today\'s pipeline; a second replay sends nothing', async () => {
    await deadLetter('d2');
    const before = sandbox.stats().requests;
    const first = await api('POST', '/v1/connectors/hubspot/dlq/replay', { ids: ['default|contact|d2|1'] });
    assert.deepEqual([first.status, first.body.replayed], [200, 1]);
    await delivered('d2');
    const second = await api('POST', '/v1/connectors/hubspot/dlq/replay', { ids: ['default|contact|d2|1'] });
    assert.deepEqual([second.body.replayed, second.body.skipped], [0, 1]);
    assert.equal(sandbox.stats().requests - before, 1, 'exactly one CRM request for two replays');
    const counters = await recsync.services.store.counters('hubspot');
    assert.equal(counters.accepted, counters.delivered + counters.superseded + counters.deadLettered + counters.open);
  });

  it('replays a time range, and all', async () => {
    const from = new Date().toISOString();
    await deadLetter('d3');
    await deadLetter('d4');
    const ranged = await api('POST', '/v1/connectors/hubspot/dlq/replay', { from });
    assert.equal(ranged.body.replayed, 2);
    await Promise.all([delivered('d3'), delivered('d4')]);
    await deadLetter('d5');
    const all = await api('POST', '/v1/connectors/hubspot/dlq/replay', { all: true });
    assert.equal(all.body.replayed, 2, 'd1 (left dead by the first test) and d5');
    await Promise.all([delivered('d1'), delivered('d5')]);
  });

  it('a newer delivered version supersedes the dead letter', async () => {
    await deadLetter('d6', 1);
    await api('POST', '/v1/tasks', { connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'd6', version: 2, payload: { email: 'd6@example.com' } });
    await delivered('d6', 2).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'd6' }))} ${JSON.stringify(await recsync.services.queues.counts('hubspot'))}`);
    });
    const entry = await api('GET', `/v1/connectors/hubspot/dlq/${encodeURIComponent('default|contact|d6|1')}`);
    assert.equal(entry.body.state, 'superseded');
    assert.equal((await api('GET', '/v1/connectors/hubspot/dlq?state=dead')).body.items.some((i: { id: string }) => i.id.includes('|d6|')), false);
  });

  it('drops one dead letter (204), then 404', async () => {
    await deadLetter('d7');
    assert.equal((await api('DELETE', `/v1/connectors/hubspot/dlq/${encodeURIComponent('default|contact|d7|1')}`)).status, 204);
    assert.equal((await api('DELETE', `/v1/connectors/hubspot/dlq/${encodeURIComponent('default|contact|d7|1')}`)).status, 404);
  });

  it('refuses bad requests with the field named', async () => {
    const empty = await api('POST', '/v1/connectors/hubspot/dlq/replay', {});
    assert.equal(empty.status, 400);
    const badTime = await api('GET', '/v1/connectors/hubspot/dlq?from=yesterday');
    assert.equal(badTime.status, 400);
    assert.equal(badTime.body.details[0].field, 'querystring.from');
    assert.equal((await api('GET', '/v1/connectors/nope/dlq')).status, 404);
  });
});

describe('dead-letter listing options', () => {
  it('?limit= pages the listing; an out-of-range limit is refused', async () => {
    const page = await api('GET', '/v1/connectors/hubspot/dlq?limit=1');
    assert.equal(page.status, 200);
    assert.ok(page.body.items.length <= 1);
    assert.equal((await api('GET', '/v1/connectors/hubspot/dlq?limit=0')).status, 400);
    assert.equal((await api('GET', '/v1/connectors/hubspot/dlq?limit=501')).status, 400);
  });
});
