// The only module that imports the OpenTelemetry SDK. Everything else uses @opentelemetry/api, so
// with no endpoint configured the API's no-op tracer is all that runs.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { context, diag, DiagConsoleLogger, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import packageJson from '../package.json' with { type: 'json' };
import { RecsyncError } from './errors.ts';

/** A variable set to something recsync cannot honour: refused at start, naming the variable. */
function invalid(variable: string, message: string): RecsyncError {
  return new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', `${variable}: ${message}`, [{ field: variable, message }]);
}

type Env = Readonly<Record<string, string | undefined>>;

/** What the OTEL_* variables ask for; `undefined` when tracing is off. */
export interface TelemetryConfig {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  endpoint: string;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: { name: string; ratio: number };
  batch: { scheduledDelayMillis: number; exportTimeoutMillis: number; maxQueueSize: number; maxExportBatchSize: number };
}

export interface Telemetry {
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  readonly config: TelemetryConfig | undefined;
  /** Exports every span ended so far. */
  forceFlush(): Promise<void>;
  /** Flushes, and when no other user is left, stops the SDK and clears the global tracer. */
  shutdown(): Promise<void>;
}

const samplers = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/**
 * Reads the standard variables. Tracing is off without an endpoint, with OTEL_SDK_DISABLED=true or
 * with OTEL_TRACES_EXPORTER=none. The exporter speaks OTLP over HTTP with JSON bodies (what
 * @opentelemetry/exporter-trace-otlp-http sends; Jaeger and the Collector accept it on 4318).
 * Headers, timeout, compression and TLS files of the exporter (OTEL_EXPORTER_OTLP_*_HEADERS, …)
 * are read by the exporter itself from the process environment.
 */
export function telemetryConfig(env: Env): TelemetryConfig | undefined {
  const value = (name: string) => {
    const text = env[name]?.trim();
    return text === undefined || text === '' ? undefined : text;
  };
  if (value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporter = value('OTEL_TRACES_EXPORTER')?.toLowerCase() ?? 'otlp';
  if (exporter === 'none') return undefined;
  if (exporter !== 'otlp') throw invalid('OTEL_TRACES_EXPORTER', `${exporter} is not supported: use otlp or none`);
  const specific = value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const general = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  // The spec: the signal-specific URL is used as it is; the general one gets the signal's path.
  const endpoint = specific ?? (general === undefined ? undefined : `${general.replace(/\/+$/, '')}/v1/traces`);
  if (endpoint === undefined) return undefined;
  try {
    new URL(endpoint);
  } catch {
    throw invalid(specific === undefined ? 'OTEL_EXPORTER_OTLP_ENDPOINT' : 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', `"${endpoint}" is not a URL`);
  }

  const resourceAttributes = parseResourceAttributes(value('OTEL_RESOURCE_ATTRIBUTES') ?? '');
  const serviceName = value('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? 'recsync';

  const samplerName = value('OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on';
  if (!samplers.includes(samplerName)) throw invalid('OTEL_TRACES_SAMPLER', `${samplerName} is not supported: use one of ${samplers.join(', ')}`);
  const ratioText = value('OTEL_TRACES_SAMPLER_ARG');
  const ratio = ratioText === undefined ? 1 : Number(ratioText);
  if (samplerName.endsWith('traceidratio') && !(ratio >= 0 && ratio <= 1)) throw invalid('OTEL_TRACES_SAMPLER_ARG', `${ratioText} must be a number from 0 to 1`);

  const positive = (name: string, fallback: number) => {
    const text = value(name);
    if (text === undefined) return fallback;
    const number = Number(text);
    if (!Number.isInteger(number) || number <= 0) throw invalid(name, `${text} must be a positive integer`);
    return number;
  };
  // The spec's defaults, except a larger queue: at a few thousand tasks a second, ten spans each,
  // 2,048 spans fill up between two exports and spans would be dropped.
  const batch = {
    scheduledDelayMillis: positive('OTEL_BSP_SCHEDULE_DELAY', 5000),
    exportTimeoutMillis: positive('OTEL_BSP_EXPORT_TIMEOUT', 30_000),
    maxQueueSize: positive('OTEL_BSP_MAX_QUEUE_SIZE', 16_384),
    maxExportBatchSize: positive('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512),
  };
  batch.maxExportBatchSize = Math.min(batch.maxExportBatchSize, batch.maxQueueSize);
  return { endpoint, serviceName, resourceAttributes, sampler: { name: samplerName, ratio }, batch };
}

/** `key1=value1,key2=value2`, values percent-encoded (the W3C Baggage octet rules of the spec). */
export function parseResourceAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const key = pair.slice(0, at).trim();
    try {
      attributes[key] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      throw invalid('OTEL_RESOURCE_ATTRIBUTES', `the value of ${key} is not percent-encoded correctly`);
    }
  }
  return attributes;
}

function samplerOf(config: TelemetryConfig['sampler']): Sampler {
  const root = (name: string): Sampler => (name.endsWith('always_off') ? new AlwaysOffSampler() : name.endsWith('traceidratio') ? new TraceIdRatioBasedSampler(config.ratio) : new AlwaysOnSampler());
  // Parent-based by default: a worker's span follows the sampling decision stored with the task.
  return config.name.startsWith('parentbased_') ? new ParentBasedSampler({ root: root(config.name) }) : root(config.name);
}

const off: Telemetry = { enabled: false, config: undefined, forceFlush: async () => {}, shutdown: async () => {} };

/**
 * The SDK is process-wide (a global tracer provider, context manager and propagator), while one
 * process may run several recsync instances (tests do): they share one provider, and the last one
 * to shut down stops it. The first instance's configuration wins.
 */
let shared: { provider: TracerProvider; config: TelemetryConfig; users: number } | undefined;

/**
 * Starts tracing from the OTEL_* variables of `env`, or returns a handle that does nothing when no
 * endpoint is set. `exporter` replaces the OTLP exporter (for tools, not for tests of the export).
 */
export function startTelemetry(env: Env, options: { exporter?: SpanExporter } = {}): Telemetry {
  const config = telemetryConfig(env);
  if (!config) return off;
  if (!shared) {
    const level = (env['OTEL_LOG_LEVEL'] ?? 'error').toUpperCase();
    // Export failures (collector away) are reported through diag: on stderr, errors only by default.
    diag.setLogger(new DiagConsoleLogger(), { logLevel: DiagLogLevel[level as keyof typeof DiagLogLevel] ?? DiagLogLevel.ERROR, suppressOverrideMessage: true });
    const exporter = options.exporter ?? new OTLPTraceExporter({ url: config.endpoint });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({
        'service.version': packageJson.version,
        'service.instance.id': randomUUID(),
        'host.name': hostname(),
        'process.pid': process.pid,
        ...config.resourceAttributes,
        'service.name': config.serviceName,
      }),
      sampler: samplerOf(config.sampler),
      spanProcessors: [new BatchSpanProcessor({ exporter, ...config.batch })],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    shared = { provider, config, users: 0 };
  }
  const mine = shared;
  mine.users += 1;
  let stopped = false;
  return {
    enabled: true,
    config: mine.config,
    forceFlush: () => mine.provider.forceFlush(),
    async shutdown() {
      if (stopped) return;
      stopped = true;
      mine.users -= 1;
      if (mine.users > 0) return mine.provider.forceFlush();
      if (shared === mine) shared = undefined;
      trace.disable();
      propagation.disable();
      context.disable();
      await mine.provider.shutdown();
    },
  };
}
