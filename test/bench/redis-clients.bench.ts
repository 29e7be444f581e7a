// Which Redis client should BullMQ and recsync run on? The same work through node-redis (the
// `redis` package, via BullMQ's createNodeRedisClient) and through ioredis, side by side, in one
// run against one private redis-server. Run: npm run bench:clients
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker, createNodeRedisClient } from 'bullmq';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RecordStore } from '../../runtime/records/record-store.ts';
import { startPrivateRedis } from '../../runtime/redis/redis-server.ts';

const jobs = Number(process.env['BENCH_JOBS'] ?? 20_000);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const dir = await mkdtemp(join(tmpdir(), 'recsync-bench-'));
const server = await startPrivateRedis({ dir, appendOnly: true });

type Kind = 'node-redis' | 'ioredis';
const connection = (kind: Kind) => {
  if (kind === 'ioredis') return new Redis(server.url, { maxRetriesPerRequest: null });
  const client = createClient({ url: server.url });
  client.on('error', () => {});
  return createNodeRedisClient(client);
};

async function queueRound(kind: Kind, round: number): Promise<{ addPerS: number; drainPerS: number }> {
  const name = `{bench-${kind}-${round}}`;
  const producer = connection(kind);
  const consumer = connection(kind);
  const queue = new Queue(name, { connection: producer });
  const batch = Array.from({ length: jobs }, (_, i) => ({ name: 'r', data: { tenant: 't', object: 'contact', recordId: `r${i}`, seq: 1 }, opts: { jobId: `r|t|contact|r${i}|1`, removeOnComplete: true } }));
  let started = performance.now();
  for (let i = 0; i < jobs; i += 500) await queue.addBulk(batch.slice(i, i + 500));
  const addPerS = jobs / ((performance.now() - started) / 1000);
  let done = 0;
  started = performance.now();
  let worker: Worker | undefined;
  await new Promise<void>((resolve) => {
    worker = new Worker(name, async () => {
      if (++done === jobs) resolve();
    }, { connection: consumer, concurrency: 100 });
  });
  const drainPerS = jobs / ((performance.now() - started) / 1000);
  await worker!.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await Promise.all([producer, consumer].map((c) => (c as { quit(): Promise<unknown> }).quit()));
  return { addPerS, drainPerS };
}

async function scriptRound(kind: Kind, round: number): Promise<number> {
  // recsync's scripts run on ioredis; node-redis gets a thin adapter for the same EVALSHA calls.
  const { store, close } = kind === 'ioredis'
    ? (() => {
        const client = new Redis(server.url);
        return { store: new RecordStore(client, `b${round}`), close: () => client.quit() };
      })()
    : await (async () => {
        const client = createClient({ url: server.url });
        await client.connect();
        const adapter = {
          evalsha: (sha: string, n: number, ...rest: string[]) => client.evalSha(sha, { keys: rest.slice(0, n), arguments: rest.slice(n) }),
          eval: (lua: string, n: number, ...rest: string[]) => client.eval(lua, { keys: rest.slice(0, n), arguments: rest.slice(n) }),
        };
        // Only the calls ingest makes are adapted.
        return { store: new RecordStore(adapter as unknown as ConstructorParameters<typeof RecordStore>[0], `b${round}`), close: () => client.close() };
      })();
  const started = performance.now();
  const inFlight = 200;
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < jobs) {
      const i = next++;
      await store.ingest({ connector: `bench-${kind}`, tenant: 't', object: 'contact', recordId: `r${i}` }, { version: 1, action: 'upsert', payload: { email: `r${i}@example.com`, firstName: 'A' } });
    }
  }));
  const perS = jobs / ((performance.now() - started) / 1000);
  await close();
  return perS;
}

const results: Record<Kind, { add: number[]; drain: number[]; script: number[] }> = { 'node-redis': { add: [], drain: [], script: [] }, ioredis: { add: [], drain: [], script: [] } };
for (let round = 0; round < rounds; round += 1) {
  for (const kind of (round % 2 === 0 ? ['node-redis', 'ioredis'] : ['ioredis', 'node-redis']) as Kind[]) {
    const q = await queueRound(kind, round);
    results[kind].add.push(q.addPerS);
    results[kind].drain.push(q.drainPerS);
    results[kind].script.push(await scriptRound(kind, round));
  }
}
await server.stop();
await rm(dir, { recursive: true, force: true });

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`Redis clients, ${jobs} jobs per round, ${rounds} rounds (median), Redis ${server.url} with AOF everysec`);
console.log('| client | BullMQ addBulk jobs/s | BullMQ worker drain jobs/s (concurrency 100, no-op) | record ingest script calls/s (200 in flight) |');
console.log('|---|---|---|---|');
for (const kind of ['node-redis', 'ioredis'] as Kind[]) {
  console.log(`| ${kind} | ${Math.round(median(results[kind].add))} | ${Math.round(median(results[kind].drain))} | ${Math.round(median(results[kind].script))} |`);
}
