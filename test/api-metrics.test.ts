import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { copyConnectors } from './helpers/connectors.ts';
import { pollUntil } from './helpers/poll.ts';
import { useRedis } from './helpers/redis.ts';

// GET /metrics after real deliveries: every named metric is there with the value the work implies.
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
// A budget of 2 requests a second makes the limiter hold jobs back, so rate-limit waits happen.
await connectors.edit('hubspot/manifest.yaml', (text) => text.replace('{ requests: 100, per: 10s }', '{ requests: 2, per: 1s }'));
const secret = (role: string) => `${role}-secret-0123456789abcdef`;
const tokens = (['ingest', 'read', 'admin'] as const).map((role) => ({ name: `${role}-bot`, role, token: secret(role) }));
const recsync = await createRecsync({ redisUrl: redis.url, env: sandbox.env, connectorsDir: connectors.root, tokens, development: false });
onCleanup(() => recsync.close());
const app = recsync.server!;

async function api(method: 'GET' | 'POST', url: string, as: string, payload?: unknown) {
  const response = await app.inject({ method, url, headers: { authorization: `Bearer ${secret(as)}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  return response;
}

/** The samples of a Prometheus text exposition: `name{a="b",...}` -> value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return samples;
}

async function scrape(): Promise<Map<string, number>> {
  const response = await api('GET', '/metrics', 'read');
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parse(response.body);
}

const contact = (recordId: string, version: number) => ({ connector: 'hubspot', object: 'contact', action: 'upsert', recordId, version, payload: { email: `${recordId}@example.com`, firstName: `V${version}` } });
const value = (samples: Map<string, number>, key: string) => {
  assert.ok(samples.has(key), `${key} is missing; have ${[...samples.keys()].filter((k) => k.startsWith(key.split('{')[0]!)).join(', ')}`);
  return samples.get(key)!;
};

describe('GET /metrics', () => {
  it('needs a read token', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    assert.equal((await api('GET', '/metrics', 'ingest')).statusCode, 403);
  });

  it('counts deliveries, retries, dead letters, stale versions and rate-limit waits, with latencies, queue, ledger, breaker and reload gauges', async () => {
    // One transient 500 (a retry, then delivered), one rejection (a dead letter).
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 500, times: 1 });
    assert.equal((await api('POST', '/v1/tasks', 'ingest', contact('m-0', 1))).statusCode, 202);
    await pollUntil(async () => ((await recsync.services.store.counters('hubspot')).delivered === 1 ? true : undefined), { timeoutMs: 15_000 });
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 400, body: { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR', correlationId: 'c-1' } });
    assert.equal((await api('POST', '/v1/tasks', 'ingest', contact('m-dead', 1))).statusCode, 202);
    await pollUntil(async () => ((await recsync.services.store.counters('hubspot')).deadLettered === 1 ? true : undefined), { timeoutMs: 15_000 });
    // Five records at once against a budget of 2/s: some wait for the rate budget.
    assert.equal((await api('POST', '/v1/tasks', 'ingest', [1, 2, 3, 4, 5].map((i) => contact(`m-${i}`, 1)))).statusCode, 202);
    // A version not newer than the one accepted: superseded at ingest.
    assert.equal((await api('POST', '/v1/tasks', 'ingest', contact('m-0', 1))).statusCode, 202);
    await pollUntil(async () => ((await recsync.services.store.counters('hubspot')).open === 0 ? true : undefined), { timeoutMs: 20_000 });
    assert.equal((await api('POST', '/v1/connectors/hubspot/reload', 'admin')).statusCode, 200);

    const m = await scrape();
    const tasks = (outcome: string) => value(m, `recsync_tasks_total{connector="hubspot",outcome="${outcome}"}`);
    assert.equal(tasks('accepted'), 8, 'every task answered 202, the stale one too (as the ledger counts)');
    assert.equal(tasks('superseded'), 1);
    assert.equal(tasks('delivered'), 6);
    assert.equal(tasks('retried'), 1);
    assert.equal(tasks('dead_lettered'), 1);
    assert.ok(tasks('waited') >= 1, 'some jobs waited for the rate budget');
    assert.ok(value(m, 'recsync_waits_total{connector="hubspot",reason="rate-limit"}') >= 1);
    assert.ok(value(m, 'recsync_wait_seconds_total{connector="hubspot",reason="rate-limit"}') > 0);

    // End to end: one observation per delivery; the retried one took at least a backoff.
    assert.equal(value(m, 'recsync_delivery_latency_seconds_count{connector="hubspot"}'), 6);
    assert.ok(value(m, 'recsync_delivery_latency_seconds_sum{connector="hubspot"}') > 0);
    assert.equal(value(m, 'recsync_delivery_latency_seconds_bucket{le="+Inf",connector="hubspot"}'), 6);
    // Per stage: every attempt that reached send is timed there, with its outcome.
    assert.equal(value(m, 'recsync_stage_duration_seconds_count{connector="hubspot",stage="send",outcome="delivered"}'), 6);
    assert.equal(value(m, 'recsync_stage_duration_seconds_count{connector="hubspot",stage="send",outcome="retry"}'), 1);
    assert.equal(value(m, 'recsync_stage_duration_seconds_count{connector="hubspot",stage="send",outcome="fatal"}'), 1);
    assert.ok(value(m, 'recsync_stage_duration_seconds_count{connector="hubspot",stage="limit",outcome="wait"}') >= 1);
    assert.ok(value(m, 'recsync_stage_duration_seconds_count{connector="hubspot",stage="validate-input",outcome="delivered"}') >= 6);

    // Shared state, read from Redis at scrape.
    for (const state of ['waiting', 'active', 'delayed']) assert.equal(value(m, `recsync_queue_jobs{connector="hubspot",state="${state}"}`), 0);
    assert.equal(value(m, 'recsync_queue_oldest_waiting_seconds{connector="hubspot"}'), 0);
    assert.equal(value(m, 'recsync_dlq_entries{connector="hubspot"}'), 1);
    assert.equal(value(m, 'recsync_ledger{connector="hubspot",counter="accepted"}'), 8);
    assert.equal(value(m, 'recsync_ledger{connector="hubspot",counter="delivered"}'), 6);
    assert.equal(value(m, 'recsync_ledger{connector="hubspot",counter="deadLettered"}'), 1);
    assert.equal(value(m, 'recsync_breaker_state{connector="hubspot",account="default"}'), 0);
    assert.equal(value(m, 'recsync_config_reloads_total{result="loaded"}'), 1);
    assert.equal(value(m, 'recsync_config_reloads_total{result="refused"}'), 0);
    assert.ok(value(m, 'process_cpu_user_seconds_total') > 0, 'default process metrics are there');
  });

  it('shows a waiting job and its age while the connector is paused', async () => {
    assert.equal((await api('POST', '/v1/connectors/hubspot/pause', 'admin')).statusCode, 200);
    onCleanup(() => recsync.services.queues.resume('hubspot'));
    assert.equal((await api('POST', '/v1/tasks', 'ingest', contact('m-paused', 1))).statusCode, 202);
    const m = await pollUntil(async () => {
      const samples = await scrape();
      return samples.get('recsync_queue_oldest_waiting_seconds{connector="hubspot"}')! > 0.05 ? samples : undefined;
    }, { timeoutMs: 5000 });
    assert.equal(value(m, 'recsync_queue_jobs{connector="hubspot",state="waiting"}'), 1);
    assert.ok(value(m, 'recsync_queue_oldest_waiting_seconds{connector="hubspot"}') < 60);
  });
});
