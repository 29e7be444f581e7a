// The benchmark's fixed surroundings: one private redis-server (AOF everysec, as `npm start`),
// the HubSpot sandbox in its own process, connector folders tuned for the run, and a way to start
// either system (recsync or the bare baseline) on a clean Redis with its own worker processes.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QueueSystem } from '../../../runtime/queue/record-queue.ts';
import { assertRunId, startPrivateRedis, type PrivateRedis } from '../../../runtime/redis/redis-server.ts';
import { startChild, type Child } from './ipc.ts';
import { baselineQueue } from './workload.ts';

export type System = 'recsync' | 'baseline';

const here = new URL('./', import.meta.url).pathname;
export const repoRoot = new URL('../../../', import.meta.url).pathname;

export interface BenchSettings {
  /** Worker processes per system. */
  workers: number;
  /** Jobs in progress per worker process (the manifest's concurrency, and the baseline's). */
  concurrency: number;
  /** Write a V8 CPU profile of every recsync worker into this folder. */
  profileDir?: string;
}

/** A system started for one scenario run: its workers and load generator, on a clean Redis. */
export interface Run {
  system: System;
  prefix: string;
  workers: Child[];
  loadgen: Child;
  sandbox: Child;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** recsync's accounting counters (empty for the baseline). */
  counters(): Promise<Record<string, number>>;
}

export class BenchEnv {
  readonly settings: BenchSettings;
  readonly redis: PrivateRedis;
  readonly admin: Redis;
  readonly sandbox: Child;
  readonly #dirs: string[];
  readonly #connectors: string;
  #limited: { sandbox: Child; connectors: string; limit: number } | undefined;
  #runs = 0;

  private constructor(settings: BenchSettings, redis: PrivateRedis, admin: Redis, sandbox: Child, connectors: string, dirs: string[]) {
    this.settings = settings;
    this.redis = redis;
    this.admin = admin;
    this.sandbox = sandbox;
    this.#connectors = connectors;
    this.#dirs = dirs;
  }

  static async start(settings: BenchSettings): Promise<BenchEnv> {
    const redisDir = await mkdtemp(join(tmpdir(), 'recsync-bench-'));
    const redis = await startPrivateRedis({ dir: redisDir, appendOnly: true });
    const admin = new Redis(redis.url);
    const sandbox = await startChild(join(here, 'sandbox-main.ts'));
    // The CRM's limits are not what throughput runs measure: raised far above the workload.
    const connectors = await connectorCopy(settings.concurrency, [100_000_000, 100_000_000_000]);
    return new BenchEnv(settings, redis, admin, sandbox, connectors, [redisDir, connectors]);
  }

  /** The sandbox and connector copy of the rate-limited scenario: the same limit on both sides. */
  async limited(limit: number): Promise<{ sandbox: Child; connectors: string }> {
    if (this.#limited?.limit === limit) return this.#limited;
    await this.#limited?.sandbox.stop();
    const connectors = await connectorCopy(this.settings.concurrency, [limit, 1_000_000_000]);
    this.#dirs.push(connectors);
    this.#limited = { sandbox: await startChild(join(here, 'sandbox-main.ts'), { env: { BENCH_SANDBOX_LIMIT: String(limit) } }), connectors, limit };
    return this.#limited;
  }

  /**
   * Runs `body` with `system` started on a flushed Redis and an emptied sandbox: its worker
   * processes (paused first when `paused`, so a backlog can be built) and a load generator.
   */
  async run<T>(system: System, options: { paused?: boolean; limited?: number }, body: (run: Run) => Promise<T>): Promise<T> {
    await assertRunId(this.admin, this.redis.runId);
    await this.admin.flushall();
    const { sandbox, connectors } = options.limited ? await this.limited(options.limited) : { sandbox: this.sandbox, connectors: this.#connectors };
    await sandbox.call('reset');
    const prefix = `${system === 'recsync' ? 'rs' : 'bl'}${this.#runs++}`;
    const queue = queueControl(system, this.redis.url, prefix);
    if (options.paused) await queue.pause();
    const env = {
      REDIS_URL: this.redis.url,
      RECSYNC_CONNECTORS_DIR: connectors,
      RECSYNC_PREFIX: prefix,
      BENCH_PREFIX: prefix,
      BENCH_SYSTEM: system,
      BENCH_CONCURRENCY: String(this.settings.concurrency),
      ...(sandbox.info['env'] as Record<string, string>),
    };
    const workerFile = join(here, system === 'recsync' ? 'recsync-worker-main.ts' : 'baseline-worker-main.ts');
    const execArgv = system === 'recsync' && this.settings.profileDir ? ['--cpu-prof', '--cpu-prof-dir', this.settings.profileDir] : [];
    if (execArgv.length > 0) await mkdir(this.settings.profileDir!, { recursive: true });
    const workers = await Promise.all(Array.from({ length: this.settings.workers }, () => startChild(workerFile, { env, execArgv })));
    const loadgen = await startChild(join(here, 'loadgen-main.ts'), { env });
    try {
      return await body({
        system,
        prefix,
        workers,
        loadgen,
        sandbox,
        pause: () => queue.pause(),
        resume: () => queue.resume(),
        counters: async () => (system === 'recsync' ? Object.fromEntries(Object.entries(await this.admin.hgetall(`${prefix}:{hubspot}:counters`)).map(([k, v]) => [k, Number(v)])) : {}),
      });
    } finally {
      await loadgen.stop();
      await Promise.all(workers.map((worker) => worker.stop()));
      await queue.close();
    }
  }

  async close(): Promise<void> {
    await this.sandbox.stop();
    await this.#limited?.sandbox.stop();
    await this.admin.quit();
    await this.redis.stop();
    for (const dir of this.#dirs) await rm(dir, { recursive: true, force: true });
  }
}

/** Pause and resume for every worker at once (BullMQ keeps the flag in Redis). */
function queueControl(system: System, redisUrl: string, prefix: string) {
  if (system === 'recsync') {
    const queues = new QueueSystem({ redisUrl, prefix: `${prefix}:q` });
    return { pause: () => queues.pause('hubspot'), resume: () => queues.resume('hubspot'), close: () => queues.close() };
  }
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(baselineQueue, { connection, prefix });
  return {
    pause: () => queue.pause(),
    resume: () => queue.resume(),
    close: async () => {
      await queue.close();
      await connection.quit();
    },
  };
}

/** A copy of connectors/hubspot with the given concurrency and limits ([per 10 s, per day]). */
async function connectorCopy(concurrency: number, [perTenSeconds, perDay]: [number, number]): Promise<string> {
  // Inside the repository (git-ignored `.tmp-*`), so the connector's relative imports of runtime/sdk resolve.
  const root = await mkdtemp(join(repoRoot, '.tmp-connectors-bench-'));
  await cp(join(repoRoot, 'connectors/hubspot'), join(root, 'hubspot'), { recursive: true });
  const manifest = join(root, 'hubspot/manifest.yaml');
  const text = await readFile(manifest, 'utf8');
  const edited = text
    .replace('concurrency: 50', `concurrency: ${concurrency}`)
    .replace('{ requests: 100, per: 10s }', `{ requests: ${perTenSeconds}, per: 10s }`)
    .replace('{ requests: 250000, per: 1d }', `{ requests: ${perDay}, per: 1d }`);
  if ((edited.match(/requests: \d+/g) ?? []).length !== 2 || edited === text) throw new Error('connectors/hubspot/manifest.yaml changed: update the bench edits');
  await writeFile(manifest, edited);
  return root;
}
