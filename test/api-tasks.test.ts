import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRecsync } from '../runtime/app.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { useRedis } from './helpers/redis.ts';

const redis = await useRedis();
// No workers: this file is about what the API accepts and what it refuses.
const recsync = await createRecsync({
  redisUrl: redis.url,
  workers: false,
  bodyLimit: 256 * 1024,
  env: { HUBSPOT_BASE_URL: 'http://127.0.0.1:9', HUBSPOT_TOKEN: 'test-token' },
});
onCleanup(() => recsync.close());
const app = recsync.server!;

const contact = (overrides: Record<string, unknown> = {}) => ({
  connector: 'hubspot',
  object: 'contact',
  action: 'upsert',
  recordId: 'c-1',
  version: 1,
  payload: { email: 'ada@example.com', firstName: 'Ada' },
  ...overrides,
});

async function post(body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const response = await app.inject({ method: 'POST', url: '/v1/tasks', headers, payload: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.statusCode, body: response.json() as Record<string, any> };
}

async function nothingQueued(): Promise<void> {
  const counters = await recsync.services.store.counters('hubspot');
  assert.equal(counters.accepted, 0, 'no task was accepted');
  const queue = await recsync.services.queues.counts('hubspot');
  assert.equal(queue.waiting + queue.delayed + queue.active, 0, 'no job was queued');
}

describe('POST /v1/tasks refuses bad input and queues nothing', () => {
  it('malformed JSON → 400 RECSYNC_ERR_BAD_JSON', async () => {
    const { status, body } = await post('{"connector": "hubspot",');
    assert.equal(status, 400);
    assert.equal(body.code, 'RECSYNC_ERR_BAD_JSON');
  });

  it('a wrong type → 400 naming the field', async () => {
    const { status, body } = await post(contact({ recordId: 42 }));
    assert.equal(status, 400);
    assert.equal(body.code, 'RECSYNC_ERR_VALIDATION');
    assert.equal(body.details[0].field, 'recordId');
    assert.match(body.message, /recordId must be string/);
  });

  it('a missing record id → 400 naming it; in an array, with its index', async () => {
    const { recordId: _omit, ...withoutId } = contact();
    const single = await post(withoutId);
    assert.equal(single.status, 400);
    assert.equal(single.body.details[0].field, 'recordId');
    assert.match(single.body.details[0].message, /required/);
    const many = await post([contact(), withoutId]);
    assert.equal(many.status, 400);
    assert.equal(many.body.details[0].field, '[1].recordId');
  });

  for (const [label, version] of [['negative', -1], ['fractional', 1.5], ['a string', '7'], ['beyond 2^53', 2 ** 60]] as const) {
    it(`an invalid version (${label}) → 400 naming version`, async () => {
      const { status, body } = await post(contact({ version }));
      assert.equal(status, 400);
      assert.equal(body.details[0].field, 'version');
    });
  }

  it('an unknown action or an unknown field → 400', async () => {
    assert.equal((await post(contact({ action: 'merge' }))).body.details[0].field, 'action');
    const extra = await post(contact({ priority: 'high' }));
    assert.equal(extra.status, 400);
    assert.equal(extra.body.details[0].field, 'priority');
  });

  it('an upsert without payload → 400', async () => {
    const { payload: _omit, ...withoutPayload } = contact();
    const { status, body } = await post(withoutPayload);
    assert.equal(status, 400);
    assert.equal(body.details[0].field, 'payload');
  });

  it('an unknown connector → 404 naming the known ones', async () => {
    const { status, body } = await post(contact({ connector: 'pipedrive' }));
    assert.equal(status, 404);
    assert.equal(body.code, 'RECSYNC_ERR_UNKNOWN_CONNECTOR');
    assert.match(JSON.stringify(body.errors[0].details), /hubspot/);
  });

  it('an unknown object → 422 naming the declared ones', async () => {
    const { status, body } = await post(contact({ object: 'deal' }));
    assert.equal(status, 422);
    assert.equal(body.code, 'RECSYNC_ERR_UNKNOWN_OBJECT');
    assert.equal(body.errors[0].details[0].field, 'object');
  });

  it("a payload that breaks the object's input schema → 422 naming the payload field, and none of the batch is accepted", async () => {
    const { status, body } = await post([contact({ recordId: 'ok-1' }), contact({ recordId: 'bad', payload: { email: 'not-an-email' } })]);
    assert.equal(status, 422);
    assert.equal(body.code, 'RECSYNC_ERR_INPUT_INVALID');
    assert.equal(body.errors.length, 1);
    assert.equal(body.errors[0].index, 1);
    assert.equal(body.errors[0].details[0].field, 'payload.email');
  });

  it('an oversized body → 413', async () => {
    const { status, body } = await post(contact({ payload: { email: 'a@b.co', firstName: 'x'.repeat(300 * 1024) } }));
    assert.equal(status, 413);
    assert.equal(body.code, 'RECSYNC_ERR_BODY_TOO_LARGE');
  });

  it('more than 1,000 tasks in one request → 400', async () => {
    const { status, body } = await post(Array.from({ length: 1001 }, (_, i) => ({ connector: 'hubspot', object: 'contact', action: 'delete', recordId: `r${i}` })));
    assert.equal(status, 400);
    assert.match(body.message, /1000/);
  });

  it('a __proto__ key → 400, and no prototype is touched', async () => {
    const { status } = await post('{"connector":"hubspot","object":"contact","action":"upsert","recordId":"p","payload":{"email":"a@b.co","__proto__":{"polluted":true}}}');
    assert.equal(status, 400);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('deeply nested JSON → 4xx, and the server keeps serving', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const { status } = await post(`{"connector":"hubspot","object":"contact","action":"upsert","recordId":"d","payload":{"email":"a@b.co","tags":${deep}}}`);
    assert.ok(status >= 400 && status < 500, `status ${status}`);
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });

  it('a body that is not JSON at all → 4xx', async () => {
    const { status } = await post('hello', { 'content-type': 'text/plain' });
    assert.ok(status === 400 || status === 415, `status ${status}`);
  });

  it('none of the above reached Redis', nothingQueued);
});

describe('POST /v1/tasks accepts good input', () => {
  it('202 with per-item ids only after Redis acknowledged; a repeat of the same version is stale', async () => {
    const first = await post([contact({ recordId: 'g-1' }), contact({ recordId: 'g-2', object: 'company', payload: { name: 'Acme' } })]);
    assert.equal(first.status, 202);
    assert.equal(first.body.accepted, 2);
    assert.deepEqual(first.body.items.map((i: { id: string }) => i.id), ['hubspot/default/contact/g-1@1', 'hubspot/default/company/g-2@1']);
    const status = await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'g-1' });
    assert.equal(status?.latestVersion, 1);
    assert.equal(status?.pending, true);
    const queue = await recsync.services.queues.counts('hubspot');
    assert.equal(queue.waiting, 2);
    const repeat = await post(contact({ recordId: 'g-1' }));
    assert.equal(repeat.status, 202);
    assert.equal(repeat.body.items[0].status, 'stale');
    assert.equal((await recsync.services.queues.counts('hubspot')).waiting, 2, 'the repeat queued no second job');
  });

  it('GET /v1/records shows the state, 404 for an unknown record, 400 when the object is ambiguous', async () => {
    const found = await app.inject({ method: 'GET', url: '/v1/records/hubspot/g-1?object=contact' });
    assert.equal(found.statusCode, 200);
    assert.equal(found.json().latestVersion, 1);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/records/hubspot/nope?object=contact' })).statusCode, 404);
    const ambiguous = await app.inject({ method: 'GET', url: '/v1/records/hubspot/g-1' });
    assert.equal(ambiguous.statusCode, 400);
    assert.equal(ambiguous.json().details[0].field, 'querystring.object');
  });
});

describe('answers when several tasks are wrong in different ways', () => {
  it('status and code are those of the most severe problem', async () => {
    const { status, body } = await post([contact({ object: 'deal' }), contact({ connector: 'nope' })]);
    assert.equal(status, 404);
    assert.equal(body.code, 'RECSYNC_ERR_UNKNOWN_CONNECTOR');
    assert.equal(body.errors.length, 2);
  });

  it('a 256-character record id can be looked up', async () => {
    const recordId = 'x'.repeat(256);
    const response = await app.inject({ method: 'GET', url: `/v1/records/hubspot/${recordId}?object=contact` });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().code, 'RECSYNC_ERR_NOT_FOUND');
  });
});
