import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { limit, withSafetyMargin } from '../plugins/limit.ts';
import { breaker } from '../plugins/breaker.ts';
import { send } from '../plugins/send.ts';
import { decideConflict, suppressEcho } from '../plugins/conflict.ts';
import { twoWayGuard } from '../plugins/fingerprint.ts';
import { readBack } from '../plugins/read-back.ts';
import { deliverToSink } from '../plugins/sink.ts';
import { transform } from '../plugins/transform.ts';
import { validateInput } from '../plugins/validate-input.ts';
import { validateOutput } from '../plugins/validate-output.ts';
import { AuditLog } from './audit.ts';
import { BreakerRegistry } from './breakers.ts';
import { ConfigSync } from './connectors/config-sync.ts';
import type { ConnectorVersion } from './connectors/load-connector.ts';
import { ConnectorRegistry } from './connectors/registry.ts';
import { createCredentials, type Credentials } from './credentials.ts';
import { createHttpClient, type ClosableHttpClient } from './http-client.ts';
import { checkAuthSettings, type ApiToken } from './http/auth.ts';
import { buildServer, type LoggerOptions } from './http/server.ts';
import { Ingest } from './ingest.ts';
import { createRateLimiter, type RateLimiter } from './limiter/rate-limiter.ts';
import { Metrics } from './metrics.ts';
import { buildPipeline, type Handler, type TaskContext } from './pipeline.ts';
import { QueueSystem } from './queue/record-queue.ts';
import { connectRedis } from './redis/connect.ts';
import { jobIdOf, RecordStore, type RecordRef } from './records/record-store.ts';
import type { Services } from './services.ts';
import { EventRouter } from './rules/events.ts';
import { inboundName } from './sync/two-way.ts';
import { WebhookReceiver } from './sync/webhooks.ts';
import { startTelemetry, type Telemetry } from './telemetry.ts';
import { createRecordProcessor } from './worker/record-processor.ts';
import { Sweeper } from './worker/sweeper.ts';

export interface RecsyncOptions {
  redisUrl: string;
  /** Folder holding one sub-folder per connector (default `connectors/` of this repository). */
  connectorsDir?: string;
  /** Prefix of every Redis key recsync writes (default `rs`). */
  prefix?: string;
  /** Serve the HTTP API (default true). */
  api?: boolean;
  /** Run the workers that deliver records (default true). */
  workers?: boolean;
  host?: string;
  port?: number;
  bodyLimit?: number;
  logger?: boolean | LoggerOptions;
  /** Environment of connector manifests and of tracing (the OTEL_* variables); default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** BullMQ's lock and stalled-check timings; defaults: lock max(30 s, 3 × the connector timeout), check every 30 s. */
  worker?: { lockDurationMs?: number; stalledIntervalMs?: number };
  /** How long close() waits for jobs in progress before cutting connections (default 10 s). */
  shutdownGraceMs?: number;
  /** How often the sweeper looks for records owing a job that was never queued (default 30 s). */
  sweepIntervalMs?: number;
  /** API tokens. None: allowed only on a loopback host in development mode, and every caller is admin. */
  tokens?: ApiToken[];
  /** Development mode (default: NODE_ENV is not `production`). */
  development?: boolean;
  /** Reload a connector when a file in its folder changes (default false; `npm start` turns it on). */
  watch?: boolean;
}

export interface Recsync {
  services: Services;
  /** Tracing of this process: on when `env` names an OTLP endpoint. */
  telemetry: Telemetry;
  server: FastifyInstance | undefined;
  /** The API's base URL once listening. */
  url: string | undefined;
  close(): Promise<void>;
}

export const defaultConnectorsDir = resolve(new URL('../connectors', import.meta.url).pathname);

/** Builds and starts one recsync process: loads connectors, connects to Redis, serves the API and runs the workers. */
export async function createRecsync(options: RecsyncOptions): Promise<Recsync> {
  const prefix = options.prefix ?? 'rs';
  const env = options.env ?? process.env;
  const auth = { tokens: options.tokens ?? [], host: options.host ?? '127.0.0.1', development: options.development ?? env['NODE_ENV'] !== 'production' };
  const { open: authOpen } = checkAuthSettings(auth);
  // Before anything that makes spans, so that they go to the configured exporter.
  const telemetry = startTelemetry(env);
  const registry = await ConnectorRegistry.load(options.connectorsDir ?? defaultConnectorsDir, env);
  // Fail fast: an API caller gets an error while Redis is away, instead of a write parked in memory.
  const redis = connectRedis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {}); // reconnects by itself; /readyz and failed calls show the outage
  await redis.connect();

  const store = new RecordStore(redis, prefix);
  const queues = new QueueSystem({ redisUrl: options.redisUrl, prefix: `${prefix}:q` });
  const breakers = new BreakerRegistry();
  const limiters = new WeakMap<ConnectorVersion, RateLimiter | undefined>();
  const sessions = new Map<ConnectorVersion, { http: ClosableHttpClient; credentials: Credentials }>();
  const limiterOf = (connector: ConnectorVersion) => {
    if (!limiters.has(connector)) limiters.set(connector, connector.limits.length === 0 ? undefined : createRateLimiter(redis, withSafetyMargin(connector.limits), { prefix: `${prefix}:rl` }));
    return limiters.get(connector);
  };
  /** A replaced version's HTTP client closes once the jobs that started on it can have finished. */
  const retireSessions = (current: ConnectorVersion) => {
    for (const [version, session] of sessions) {
      if (version.name !== current.name || version === current) continue;
      sessions.delete(version);
      setTimeout(() => void session.http.close().catch(() => {}), 3 * version.timeoutMs).unref();
    }
  };
  // The internal system's endpoint, per configuration version (a reload may point it elsewhere).
  const sinks = new Map<ConnectorVersion, ClosableHttpClient>();
  const sinkOf = (connector: ConnectorVersion) => {
    let sink = sinks.get(connector);
    if (!sink) {
      const { url, token, timeoutMs } = connector.inbound!.sink;
      sink = createHttpClient({ baseUrl: url, credentials: createCredentials(token === undefined ? { type: 'none' } : { type: 'bearer', token }, { timeoutMs }), timeoutMs, connections: connector.concurrency });
      sinks.set(connector, sink);
    }
    return sink;
  };
  const sessionOf = (connector: ConnectorVersion) => {
    let session = sessions.get(connector);
    if (!session) {
      const credentials = createCredentials(connector.auth, { timeoutMs: connector.timeoutMs });
      session = { credentials, http: createHttpClient({ baseUrl: connector.baseUrl, credentials, timeoutMs: connector.timeoutMs, connections: connector.concurrency }) };
      sessions.set(connector, session);
    }
    return session;
  };

  const workers = options.workers ?? true;
  const config = new ConfigSync({
    registry,
    redis,
    subscriber: () => connectRedis(options.redisUrl, { lazyConnect: true }),
    prefix,
    onLoaded: (version) => {
      retireSessions(version);
      if (workers) startWorker(version);
      if (workers) startInboundWorker(version);
    },
  });
  const sweeper = new Sweeper({
    store,
    queues,
    connectors: () => registry.ready().flatMap((connector) => (connector.inbound ? [connector.name, inboundName(connector.name)] : [connector.name])),
    recoverFailed: (connector, ref, jobId) => recoverGivenUp(connector, ref, jobId, '(found by the sweeper)'),
    ...(options.sweepIntervalMs === undefined ? {} : { intervalMs: options.sweepIntervalMs }),
  });
  const metrics = new Metrics({ registry, store, queues, breakers, config });
  const ingest = new Ingest({ registry, store, queues, metrics });
  const services: Services = {
    registry,
    store,
    queues,
    ingest,
    events: new EventRouter({ registry, ingest, store }),
    webhooks: new WebhookReceiver({ registry, ingest, store, redis, prefix }),
    breakers,
    limiterOf,
    ping: async () => {
      await redis.ping();
    },
    workers,
    config,
    audit: new AuditLog(redis, prefix),
    authOpen,
    sweeper,
    metrics,
  };

  // Every stage is timed for the metrics, in the pipeline builder next to its span.
  const observe = { observe: (stage: string, context: TaskContext, outcome: string, seconds: number) => metrics.stage.observe({ connector: context.connector.name, stage, outcome }, seconds) };
  const pipeline = buildPipeline([validateInput, transform, validateOutput, limit(limiterOf), breaker(breakers), twoWayGuard(store), send(sessionOf)], undefined, observe);
  // The way back: read the object back within the CRM's budget and breaker, then the outbound
  // stages mirrored (validate the CRM object, echo and conflict checks, map, validate our model)
  // and the sink. Two pipelines, so that the sink's failures never count against the CRM's breaker.
  const readPart = buildPipeline([limit(limiterOf), breaker(breakers), readBack(sessionOf)], undefined, observe);
  const deliverPart = buildPipeline([validateInput, suppressEcho(store), decideConflict(store), transform, validateOutput, deliverToSink(sinkOf, store)], undefined, observe);
  const inboundPipeline: Handler = async (context) => {
    const read = await readPart(context);
    return read.kind === 'delivered' ? deliverPart(context) : read;
  };
  /** The way back of a connector whose manifest declares `inbound`: its own queue, record state and dead letters (`<name>.in`). */
  function startInboundWorker(connector: ConnectorVersion): void {
    if (!connector.inbound) return;
    const name = inboundName(connector.name);
    queues.startWorker(
      name,
      { concurrency: connector.concurrency, lockDurationMs: options.worker?.lockDurationMs ?? Math.max(30_000, connector.timeoutMs * 3), ...(options.worker?.stalledIntervalMs === undefined ? {} : { stalledIntervalMs: options.worker.stalledIntervalMs }) },
      createRecordProcessor(name, {
        registry,
        store,
        pipeline: inboundPipeline,
        metrics,
        resolve: (r, object) => {
          const version = r.get(connector.name);
          return version && { version, plan: version.inbound?.objects.get(object) };
        },
      }),
      (job, error) => recoverGivenUp(name, { connector: name, tenant: job.data.tenant, object: job.data.object, recordId: job.data.recordId }, job.id, `after ${job.attemptsStarted} starts: ${error.message}`),
    );
  }
  /** The connector's worker, once per process; it reads the registry's version in service at every job. */
  function startWorker(connector: ConnectorVersion): void {
    queues.startWorker(
      connector.name,
      {
        concurrency: connector.concurrency,
        lockDurationMs: options.worker?.lockDurationMs ?? Math.max(30_000, connector.timeoutMs * 3),
        ...(options.worker?.stalledIntervalMs === undefined ? {} : { stalledIntervalMs: options.worker.stalledIntervalMs }),
      },
      createRecordProcessor(connector.name, { registry, store, pipeline, metrics }),
      (job, error) => recoverGivenUp(connector.name, { connector: connector.name, tenant: job.data.tenant, object: job.data.object, recordId: job.data.recordId }, job.id, `after ${job.attemptsStarted} starts: ${error.message}`),
    );
  }
  /** A job BullMQ gave up on: its version in flight goes to the DLQ with the reason, newer work gets a new job. */
  async function recoverGivenUp(connector: string, ref: RecordRef, jobId: string, why: string): Promise<void> {
    const message = `the record's job failed for good ${why}`;
    const seq = await store.deadLetterOrphan(ref, { code: 'RECSYNC_ERR_INTERNAL', message, at: new Date().toISOString() }, { configVersion: registry.get(connector)?.version ?? 'unknown', jobId });
    if (seq > 0) await queues.enqueue(connector, [{ id: jobIdOf(ref, seq), data: { tenant: ref.tenant, object: ref.object, recordId: ref.recordId, seq } }]);
  }
  if (workers) {
    for (const connector of registry.ready()) startWorker(connector);
    for (const connector of registry.ready()) startInboundWorker(connector);
    sweeper.start();
  }
  await config.start();
  if (options.watch) config.watch();

  let server: FastifyInstance | undefined;
  let url: string | undefined;
  if (options.api ?? true) {
    server = buildServer(services, { bodyLimit: options.bodyLimit ?? 1024 * 1024, logger: options.logger ?? false, auth });
    url = await server.listen({ host: auth.host, port: options.port ?? 0 });
    if (authOpen) server.log.warn('the API runs WITHOUT tokens (development mode on loopback): every caller is admin; configure api.tokens before exposing it');
  }

  return {
    services,
    telemetry,
    server,
    url,
    async close() {
      await server?.close();
      await config.close();
      await sweeper.close();
      await queues.close(options.shutdownGraceMs);
      breakers.shutdown();
      await Promise.all([...sessions.values()].map((session) => session.http.close()));
      await Promise.all([...sinks.values()].map((sink) => sink.close()));
      await redis.quit().catch(() => redis.disconnect());
      // Last: the spans of the jobs that finished during the grace period are exported too.
      await telemetry.shutdown();
    },
  };
}
