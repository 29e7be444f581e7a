// The load generator, in its own process: sends tasks to recsync through its ingest path (the
// Ingest class the API runs: check against the input schema, then record state + queue, answered
// once Redis acknowledged both), or to the bare baseline as BullMQ jobs carrying the ready-made
// HubSpot body. It returns when each task was enqueued: the start of its end-to-end latency.
// Env: REDIS_URL, RECSYNC_CONNECTORS_DIR, BENCH_SYSTEM (recsync | baseline), BENCH_PREFIX,
//      HUBSPOT_BASE_URL, HUBSPOT_TOKEN.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ConnectorRegistry } from '../../../runtime/connectors/registry.ts';
import { Ingest, type Task } from '../../../runtime/ingest.ts';
import { QueueSystem } from '../../../runtime/queue/record-queue.ts';
import { RecordStore } from '../../../runtime/records/record-store.ts';
import { serve } from './ipc.ts';
import { baselineQueue, payloadOf, taskOf } from './workload.ts';

const env = process.env;
const system = env['BENCH_SYSTEM'] as 'recsync' | 'baseline';
const prefix = env['BENCH_PREFIX']!;
const registry = await ConnectorRegistry.load(env['RECSYNC_CONNECTORS_DIR']!, { HUBSPOT_BASE_URL: env['HUBSPOT_BASE_URL'], HUBSPOT_TOKEN: env['HUBSPOT_TOKEN'] });
const redis = new Redis(env['REDIS_URL']!);

type Send = (batch: Array<{ recordId: string; version: number }>) => Promise<void>;
let send: Send;
if (system === 'recsync') {
  const ingest = new Ingest({ registry, store: new RecordStore(redis, prefix), queues: new QueueSystem({ redisUrl: env['REDIS_URL']!, prefix: `${prefix}:q` }) });
  send = async (batch) => {
    const tasks: Task[] = batch.map(({ recordId, version }) => ({ connector: 'hubspot', object: 'contact', action: 'upsert', recordId, version, payload: payloadOf(recordId, version) }));
    const errors = ingest.check(tasks);
    if (errors.length > 0) throw new Error(`the bench's tasks were refused: ${JSON.stringify(errors[0])}`);
    await ingest.accept(tasks);
  };
} else {
  // The baseline's job holds what recsync would send, mapped by the same mapping ahead of time.
  const plan = registry.get('hubspot')!.objects.get('contact')!;
  const queue = new Queue(baselineQueue, { connection: redis, prefix });
  const jobOptions = { attempts: 25, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } } as const;
  send = async (batch) => {
    const jobs = await Promise.all(
      batch.map(async ({ recordId, version }) => {
        const properties = (await plan.mapping.evaluate(payloadOf(recordId, version), { recordId, tenant: 'default', version, object: 'contact', action: 'upsert' })) as Record<string, string>;
        const body = { inputs: [{ idProperty: 'email', id: properties['email'], properties, objectWriteTraceId: `${recordId}@${version}` }] };
        return { name: 'post', data: { body }, opts: { ...jobOptions, jobId: `${recordId}|${version}` } };
      }),
    );
    await queue.addBulk(jobs);
  };
}

interface Run {
  tag: string;
  /** Tasks to send (closed loop, as fast as `inFlight` batches allow) ... */
  count?: number;
  /** ... or an offered rate (tasks/s, open loop) ... */
  rate?: number;
  /** ... for this long (with `rate`, or as a cap on the closed loop). */
  durationMs?: number;
  hotRecords?: number;
  batch: number;
  inFlight: number;
}

/**
 * Sends the run's tasks; returns each task's enqueue time (ms since the epoch, by index). At an
 * offered rate a task's time is when the schedule says it is due, not when it went out: a
 * generator that falls behind (Redis slow to answer) must not hide that wait from the latency
 * (coordinated omission). `maxLagMs` says how far behind the schedule sending fell.
 */
async function run(spec: Run): Promise<{ sent: number; times: number[]; elapsedMs: number; maxLagMs: number }> {
  const planned = spec.rate !== undefined ? Math.floor((spec.rate * spec.durationMs!) / 1000) : spec.count ?? Number.MAX_SAFE_INTEGER;
  const times: number[] = [];
  const start = Date.now();
  const deadline = spec.durationMs === undefined ? Infinity : start + spec.durationMs;
  let next = 0;
  let maxLagMs = 0;
  let failure: unknown;
  const inFlight = new Set<Promise<void>>();
  const sendFrom = (from: number, to: number, stamp: (i: number) => number) => {
    const batch = [];
    for (let i = from; i < to; i += 1) {
      times[i] = stamp(i);
      batch.push(taskOf(spec.tag, i, spec.hotRecords));
    }
    const promise: Promise<void> = send(batch).then(
      () => void inFlight.delete(promise),
      (error: unknown) => {
        failure = error;
        inFlight.delete(promise);
      },
    );
    inFlight.add(promise);
  };
  while (next < planned && failure === undefined) {
    const now = Date.now();
    if (spec.rate === undefined) {
      if (now >= deadline) break;
      if (inFlight.size >= spec.inFlight) await Promise.race(inFlight);
      else sendFrom(next, (next = Math.min(planned, next + spec.batch)), () => Date.now());
      continue;
    }
    const due = Math.min(planned, Math.floor(((now - start) * spec.rate) / 1000));
    while (next < due && inFlight.size < spec.inFlight) {
      const to = Math.min(due, next + spec.batch);
      maxLagMs = Math.max(maxLagMs, now - (start + (next * 1000) / spec.rate));
      sendFrom(next, (next = to), (i) => start + (i * 1000) / spec.rate!);
    }
    if (next < planned) await new Promise((resolve) => setTimeout(resolve, next < due ? 1 : 5));
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  return { sent: next, times, elapsedMs: Date.now() - start, maxLagMs };
}

serve({ run });
process.once('SIGTERM', () => process.exit(0));
