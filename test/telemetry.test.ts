import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import { createRecsync } from '../runtime/app.ts';
import { redactedUrl } from '../runtime/http-client.ts';
import { recordKey } from '../runtime/records/record-store.ts';
import { parseResourceAttributes, telemetryConfig } from '../runtime/telemetry.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { useRedis } from './helpers/redis.ts';

describe('telemetry configuration from the OTEL_* variables', () => {
  it('is off without an endpoint, when disabled, or with the exporter none', () => {
    assert.equal(telemetryConfig({}), undefined);
    assert.equal(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }), undefined);
    assert.equal(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }), undefined);
    assert.equal(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }), undefined);
  });

  it('appends /v1/traces to the general endpoint and takes the traces endpoint as it is', () => {
    assert.equal(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' })?.endpoint, 'http://jaeger:4318/v1/traces');
    assert.equal(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom' })?.endpoint, 'http://collector:4318/custom');
  });

  it('reads service name, resource attributes, sampler and batch settings', () => {
    const config = telemetryConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes,deployment.environment.name=prod,note=a%2Cb',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    })!;
    assert.equal(config.serviceName, 'from-attributes');
    assert.equal(config.resourceAttributes['note'], 'a,b');
    assert.deepEqual(config.sampler, { name: 'parentbased_traceidratio', ratio: 0.25 });
    assert.equal(config.batch.scheduledDelayMillis, 200);
    assert.equal(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:1', OTEL_SERVICE_NAME: 'mine', OTEL_RESOURCE_ATTRIBUTES: 'service.name=other' })?.serviceName, 'mine');
    assert.equal(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:1' })?.serviceName, 'recsync');
    assert.deepEqual(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:1' })?.sampler, { name: 'parentbased_always_on', ratio: 1 });
  });

  it('refuses what it cannot honour, naming the variable', () => {
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
    assert.throws(() => telemetryConfig({ ...base, OTEL_TRACES_SAMPLER: 'jaeger_remote' }), { code: 'RECSYNC_ERR_CONFIG_INVALID', message: /^OTEL_TRACES_SAMPLER: jaeger_remote is not supported/ });
    assert.throws(() => telemetryConfig({ ...base, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }), /OTEL_TRACES_SAMPLER_ARG/);
    assert.throws(() => telemetryConfig({ ...base, OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER/);
    assert.throws(() => telemetryConfig({ ...base, OTEL_BSP_MAX_QUEUE_SIZE: '-1' }), /OTEL_BSP_MAX_QUEUE_SIZE/);
    assert.throws(() => telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }), /not a URL/);
    assert.throws(() => parseResourceAttributes('a=%E0%A4%A'), /OTEL_RESOURCE_ATTRIBUTES/);
  });
});

describe('CRM request URLs on spans', () => {
  it('keep the API words and drop record values from path and query', () => {
    const base = 'http://crm.test/api';
    assert.equal(redactedUrl(new URL(`${base}/crm/v3/objects/contacts/batch/upsert`), '/api'), `${base}/crm/v3/objects/contacts/batch/upsert`);
    assert.equal(redactedUrl(new URL(`${base}/crm/v3/objects/contacts/${encodeURIComponent('ada@example.com')}?idProperty=email`), '/api'), `${base}/crm/v3/objects/contacts/{}?idProperty={}`);
    assert.equal(redactedUrl(new URL(`${base}/crm/v3/objects/contacts/901`), '/api'), `${base}/crm/v3/objects/contacts/{}`);
    assert.equal(redactedUrl(new URL(`${base}/data/v9.2/contacts(new_externalid='r%201')`), '/api'), `${base}/data/v9.2/{}`);
    assert.equal(redactedUrl(new URL('http://crm.test/services/data/v60.0/query?q=SELECT+Id+FROM+Contact'), ''), 'http://crm.test/services/data/v60.0/query?q={}');
  });
});

describe('with tracing off', () => {
  it('no tracer is registered and the record state keeps no trace context', async () => {
    const redis = await useRedis();
    const recsync = await createRecsync({ redisUrl: redis.url, workers: false, env: { HUBSPOT_BASE_URL: 'http://127.0.0.1:9', HUBSPOT_TOKEN: 't', SALESFORCE_BASE_URL: 'http://127.0.0.1:9', DYNAMICS_BASE_URL: 'http://127.0.0.1:9' } });
    onCleanup(() => recsync.close());
    assert.equal(recsync.telemetry.enabled, false);
    assert.equal(trace.getTracer('recsync').startSpan('probe').isRecording(), false);
    const response = await fetch(`${recsync.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
      body: JSON.stringify({ connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'off-1', version: 1, payload: { email: 'off@example.com' } }),
    });
    assert.equal(response.status, 202, await response.text());
    const client = await redis.client();
    const fields = await client.hgetall(recordKey('rs', { connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'off-1' }));
    assert.equal(fields['pend'], '1', 'the task waits (no workers)');
    assert.equal(fields['tp'], undefined);
  });
});
