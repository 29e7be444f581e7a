// The bare baseline: a BullMQ worker whose processor POSTs the job's ready-made HubSpot body to
// the sandbox with undici, and nothing else (no validation, mapping, limiter, breaker, record
// state, timeout or tracing). It is the floor of what our stack (Redis, BullMQ, undici, loopback
// HTTP) can do with the same concurrency and the same bytes on the wire.
// Env: REDIS_URL, BENCH_PREFIX, BENCH_CONCURRENCY, HUBSPOT_BASE_URL, HUBSPOT_TOKEN.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { serve } from './ipc.ts';
import { baselineQueue } from './workload.ts';

const env = process.env;
const concurrency = Number(env['BENCH_CONCURRENCY']);
const url = `${env['HUBSPOT_BASE_URL']}/crm/v3/objects/contacts/batch/upsert`;
const headers = { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${env['HUBSPOT_TOKEN']}` };
const dispatcher = new Agent({ connections: concurrency, keepAliveTimeout: 30_000, pipelining: 1 });
const connection = new Redis(env['REDIS_URL']!, { maxRetriesPerRequest: null });

const worker = new Worker<{ body: unknown }>(
  baselineQueue,
  async (job) => {
    const response = await request(url, { method: 'POST', headers, body: JSON.stringify(job.data.body), dispatcher });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`HubSpot sandbox answered ${response.statusCode}: ${text.slice(0, 200)}`);
    return (JSON.parse(text) as { results: Array<{ id: string }> }).results[0]?.id;
  },
  { connection, prefix: env['BENCH_PREFIX']!, concurrency },
);
worker.on('error', () => {});
serve({});
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
