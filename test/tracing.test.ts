import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { copyConnectors } from './helpers/connectors.ts';
import { startOtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.ts';
import { pollUntil } from './helpers/poll.ts';
import { useRedis } from './helpers/redis.ts';

// The trace of a task, as the real OTLP/HTTP exporter sends it to a receiver on 127.0.0.1: the
// API request, the task's hand-over to the queue, each worker run (waits and retries included),
// each pipeline stage and each CRM request, all in one trace. Each scenario uses its own tenant.
const receiver = await startOtlpReceiver();
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
await connectors.edit('hubspot/manifest.yaml', (text) =>
  text
    .replace('{ requests: 100, per: 10s }', '{ requests: 2, per: 1s }')
    .replace('attempts: 8', 'attempts: 3')
    .replace('initial: 500ms, max: 5m', 'initial: 20ms, max: 100ms'),
);
const logLines: string[] = [];
const recsync = await createRecsync({
  redisUrl: redis.url,
  connectorsDir: connectors.root,
  env: {
    ...sandbox.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: 'recsync-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=sync%20ops',
    OTEL_BSP_SCHEDULE_DELAY: '50',
  },
  logger: { level: 'info', stream: { write: (line: string) => logLines.push(line) } },
});
onCleanup(() => recsync.close());
const configVersion = recsync.services.registry.get('hubspot')!.version;

/** Every payload value the tests send, and the CRM token: none may appear in any span. */
const sensitive = new Set<string>([sandbox.env['HUBSPOT_TOKEN']!]);
function payloadOf(tenant: string, recordId: string, version = 1) {
  const payload = { email: `${recordId}.private@${tenant}.example.com`, firstName: `Secretfirst${recordId}v${version}`, lastName: `Secretlast${tenant}` };
  for (const value of Object.values(payload)) sensitive.add(value);
  return payload;
}

const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');

async function post(tasks: unknown[], traceparent?: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (traceparent) headers['traceparent'] = traceparent;
  const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify(tasks) });
  assert.equal(response.status, 202, await response.text());
}

const task = (tenant: string, recordId: string, version = 1) => ({ connector: 'hubspot', object: 'contact', action: 'upsert', recordId, tenant, version, payload: payloadOf(tenant, recordId, version) });

const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
const childrenOf = (span: ReceivedSpan) => receiver.spans.filter((s) => s.parentSpanId === span.spanId && s.traceId === span.traceId);
const consumers = (tenant: string, recordId?: string) =>
  receiver.spans.filter((s) => s.kind === 'consumer' && s.attributes['recsync.tenant'] === tenant && (recordId === undefined || s.attributes['recsync.record_id'] === recordId)).sort((a, b) => a.start - b.start);

/** The stage spans and CRM requests under one consumer span, depth first. */
function descendants(span: ReceivedSpan): ReceivedSpan[] {
  return childrenOf(span).flatMap((child) => [child, ...descendants(child)]);
}

/** Waits until the record's consumer spans reach one with `outcome`, and every span under it has arrived. */
async function until(tenant: string, recordId: string, outcome: string): Promise<ReceivedSpan[]> {
  return pollUntil(
    () => {
      const spans = consumers(tenant, recordId);
      const last = spans.find((s) => s.attributes['recsync.outcome'] === outcome);
      // Children end before their parent, so they were exported no later than it.
      return last ? spans : undefined;
    },
    { timeoutMs: 20_000, describe: () => JSON.stringify(consumers(tenant, recordId).map((s) => s.attributes)) },
  );
}

// two-way is the two-way sync's guard: it runs for every connector, and does nothing without `inbound`.
const stages = ['validate-input', 'transform', 'validate-output', 'limit', 'breaker', 'two-way', 'send'].map((name) => `recsync.stage.${name}`);

describe('tracing', () => {
  it('a delivered task is one trace: request, enqueue, worker, every stage, the CRM request', async () => {
    const [callerTrace, callerSpan] = [randomHex(16), randomHex(8)];
    await post([task('delivered', 'd1')], `00-${callerTrace}-${callerSpan}-01`);
    const [consumer] = await until('delivered', 'd1', 'delivered');
    assert.ok(consumer);
    assert.equal(consumer.traceId, callerTrace, "the task's trace continues the caller's");

    const server = inTrace(callerTrace).find((s) => s.kind === 'server')!;
    assert.equal(server.name, 'POST /v1/tasks');
    assert.equal(server.parentSpanId, callerSpan);
    assert.deepEqual(
      { method: server.attributes['http.request.method'], route: server.attributes['http.route'], path: server.attributes['url.path'], status: server.attributes['http.response.status_code'] },
      { method: 'POST', route: '/v1/tasks', path: '/v1/tasks', status: 202 },
    );

    const producer = inTrace(callerTrace).find((s) => s.kind === 'producer')!;
    assert.equal(producer.name, 'send {hubspot}');
    assert.equal(producer.parentSpanId, server.spanId);
    assert.equal(producer.attributes['messaging.system'], 'bullmq');
    assert.equal(producer.attributes['messaging.destination.name'], '{hubspot}');
    assert.equal(producer.attributes['messaging.operation.type'], 'send');
    assert.equal(producer.attributes['recsync.record_id'], 'd1');
    assert.equal(producer.attributes['recsync.ingest.status'], 'accepted');

    assert.equal(consumer.name, 'process {hubspot}');
    assert.equal(consumer.parentSpanId, producer.spanId, 'the worker joins the trace under the producer span');
    assert.equal(consumer.attributes['messaging.message.id'], producer.attributes['messaging.message.id']);
    assert.equal(consumer.attributes['messaging.operation.type'], 'process');
    for (const [key, value] of Object.entries({ connector: 'hubspot', object: 'contact', tenant: 'delivered', record_id: 'd1', version: 1, attempt: 1, config_version: configVersion, outcome: 'delivered' })) {
      assert.equal(consumer.attributes[`recsync.${key}`], value, `recsync.${key}`);
    }
    assert.equal(typeof consumer.attributes['recsync.queue.wait_ms'], 'number');
    assert.ok(consumer.start >= producer.start, 'the worker picked the job up after it was queued');

    // One span per stage, each inside the previous (a stage calls the next), then the CRM request.
    const chain = descendants(consumer);
    assert.deepEqual(chain.map((s) => s.name), [...stages, 'POST']);
    for (const stage of chain.slice(0, -1)) assert.equal(stage.attributes['recsync.outcome'], 'delivered', stage.name);
    const request = chain.at(-1)!;
    assert.equal(request.kind, 'client');
    assert.equal(request.attributes['http.request.method'], 'POST');
    assert.equal(request.attributes['http.response.status_code'], 200);
    assert.equal(request.attributes['url.full'], `${sandbox.url}/crm/v3/objects/contacts/batch/upsert`);
    assert.equal(request.attributes['server.address'], '127.0.0.1');
    assert.equal(request.attributes['recsync.attempt'], 1);
    assert.equal(request.attributes['http.request.resend_count'], undefined);

    assert.equal(consumer.resource['service.name'], 'recsync-test');
    assert.equal(consumer.resource['deployment.environment.name'], 'test');
    assert.equal(consumer.resource['team'], 'sync ops');
  });

  it('a task retried twice: three worker runs in the same trace, attempts 1 to 3, each CRM answer on its request span', async () => {
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 503, times: 2 });
    await post([task('retried', 'r1')]);
    const all = await until('retried', 'r1', 'delivered');
    // Three requests in a second meet the 2-per-second budget: a run may also have waited for it.
    const runs = all.filter((s) => s.attributes['recsync.outcome'] !== 'wait');
    assert.ok(all.every((s) => s.attributes['recsync.outcome'] !== 'wait' || s.attributes['recsync.wait.reason'] === 'rate-limit'));
    assert.deepEqual(runs.map((s) => s.attributes['recsync.outcome']), ['retry', 'retry', 'delivered']);
    assert.deepEqual(runs.map((s) => s.attributes['recsync.attempt']), [1, 2, 3]);
    assert.equal(new Set(all.map((s) => s.traceId)).size, 1, 'one trace');
    assert.equal(new Set(all.map((s) => s.parentSpanId)).size, 1, 'every run under the one producer span');
    const producer = inTrace(runs[0]!.traceId).find((s) => s.kind === 'producer')!;
    assert.equal(runs[0]!.parentSpanId, producer.spanId);
    for (const run of runs.slice(0, 2)) {
      assert.equal(run.attributes['recsync.error_code'], 'RECSYNC_ERR_CRM_RETRYABLE');
      assert.equal(typeof run.attributes['recsync.delay_ms'], 'number');
    }
    const requests = runs.map((run) => descendants(run).filter((s) => s.kind === 'client'));
    assert.deepEqual(requests.map((r) => r.map((s) => s.attributes['http.response.status_code'])), [[503], [503], [200]]);
    assert.deepEqual(requests.map((r) => r[0]!.attributes['http.request.resend_count']), [undefined, 1, 2]);
    assert.deepEqual(requests.map((r) => r[0]!.attributes['recsync.attempt']), [1, 2, 3]);
    assert.equal(requests[0]![0]!.attributes['error.type'], '503');
    assert.equal(requests[0]![0]!.status.code, 2, 'a 5xx answer is an error of the client span');
  });

  it('a task that waited for the rate budget: a run that only waited (no attempt spent, no CRM request), then the delivery', async () => {
    const ids = ['w1', 'w2', 'w3', 'w4', 'w5'];
    await post(ids.map((id) => task('budget', id)));
    for (const id of ids) await until('budget', id, 'delivered');
    const waited = ids.filter((id) => consumers('budget', id).some((s) => s.attributes['recsync.outcome'] === 'wait'));
    assert.ok(waited.length >= 2, `2 requests per second for 5 records: some must wait (waited: ${waited.join(', ')})`);
    for (const id of waited) {
      const runs = consumers('budget', id);
      const wait = runs.find((s) => s.attributes['recsync.outcome'] === 'wait')!;
      const delivered = runs.find((s) => s.attributes['recsync.outcome'] === 'delivered')!;
      assert.equal(wait.attributes['recsync.wait.reason'], 'rate-limit');
      assert.equal(wait.traceId, delivered.traceId);
      assert.equal(wait.parentSpanId, delivered.parentSpanId);
      assert.equal(delivered.attributes['recsync.attempt'], wait.attributes['recsync.attempt'], 'waiting spent no attempt');
      const under = descendants(wait);
      assert.deepEqual(under.map((s) => s.name), stages.slice(0, 4), 'the run stopped at the limit stage');
      assert.equal(under.at(-1)!.attributes['recsync.outcome'], 'wait');
      assert.ok(delivered.start >= wait.start + Number(wait.attributes['recsync.delay_ms']) - 1, 'the next run came after the wait the span states');
    }
  });

  it('a dead-lettered task: the outcome and error code on its trace, and the dead letter names the trace; log lines carry the trace', async () => {
    const payload = payloadOf('dead', 'x1');
    // The CRM's message quotes the payload, as real validation errors do: it must stay out of the trace.
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 400, body: { status: 'error', message: `Property values were not valid: ${payload.email}`, category: 'VALIDATION_ERROR', correlationId: 'c-1' } });
    await post([{ ...task('dead', 'x1'), payload }]);
    const [run] = await until('dead', 'x1', 'dead-lettered');
    assert.equal(run!.attributes['recsync.error_code'], 'RECSYNC_ERR_CRM_REJECTED');
    assert.equal(run!.status.code, 2);
    const request = descendants(run!).find((s) => s.kind === 'client')!;
    assert.equal(request.attributes['http.response.status_code'], 400);
    assert.equal(request.attributes['error.type'], '400');

    const list = (await (await fetch(`${recsync.url}/v1/connectors/hubspot/dlq`)).json()) as { items: Array<{ id: string; recordId: string; traceId?: string }> };
    const entry = list.items.find((item) => item.recordId === 'x1')!;
    assert.equal(entry.traceId, run!.traceId);

    const operatorTrace = randomHex(16);
    const response = await fetch(`${recsync.url}/v1/connectors/hubspot/dlq/${encodeURIComponent(entry.id)}`, { method: 'DELETE', headers: { traceparent: `00-${operatorTrace}-${randomHex(8)}-01` } });
    assert.equal(response.status, 204);
    const server = await pollUntil(() => inTrace(operatorTrace).find((s) => s.kind === 'server'), { timeoutMs: 10_000 });
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'dead letter dropped');
    assert.ok(line, logLines.join(''));
    assert.equal(line['trace_id'], operatorTrace);
    assert.equal(line['span_id'], server.spanId);
    assert.equal(line['trace_flags'], '01');
  });

  it('a version that replaced a waiting one links to its trace; the worker runs in the newer trace', async () => {
    await post([task('coalesced', 'c1', 1), task('coalesced', 'c1', 2)]);
    const [run] = await until('coalesced', 'c1', 'delivered');
    assert.equal(run!.attributes['recsync.version'], 2);
    const producers = inTrace(run!.traceId).filter((s) => s.kind === 'producer');
    const [v1, v2] = [1, 2].map((v) => producers.find((s) => s.attributes['recsync.version'] === v)!);
    assert.equal(run!.parentSpanId, v2!.spanId);
    assert.deepEqual(v2!.links.map((l) => [l.spanId, l.attributes['recsync.link']]), [[v1!.spanId, 'superseded']]);
  });

  it('no payload value and no secret appears in any exported span, and the export never failed', async () => {
    assert.ok(receiver.spans.length > 50, `${receiver.spans.length} spans`);
    assert.deepEqual(receiver.errors, []);
    const leaks: string[] = [];
    for (const span of receiver.spans) {
      const texts = [
        span.name,
        span.status.message ?? '',
        ...Object.values(span.attributes).map(String),
        ...Object.values(span.resource).map(String),
        ...span.events.flatMap((e) => [e.name, ...Object.values(e.attributes).map(String)]),
        ...span.links.flatMap((l) => Object.values(l.attributes).map(String)),
      ];
      for (const text of texts) for (const secret of sensitive) if (text.toLowerCase().includes(secret.toLowerCase())) leaks.push(`${span.name}: ${text}`);
    }
    assert.deepEqual(leaks, []);
    // The checks above would be empty words if the sensitive values never left the process.
    assert.ok(sandbox.requests().some((r) => JSON.stringify(r.body ?? '').includes('Secretfirst')), 'the payloads did reach the CRM');
  });
});
