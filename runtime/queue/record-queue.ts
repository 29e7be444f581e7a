import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { connectRedis, type RedisConnection } from '../redis/connect.ts';

/**
 * The only module that imports BullMQ. One queue per connector, named `{<connector>}` so that its
 * keys share the hash tag of the connector's record state (one Redis Cluster slot per connector).
 * A job means "bring record R of this connector up to date"; its data is only the record's
 * address and job sequence, never the payload (that stays in the record state).
 */
export interface RecordJobData {
  tenant: string;
  object: string;
  recordId: string;
  seq: number;
}

export interface RecordJob {
  id: string;
  data: RecordJobData;
  /** How many times a worker has started this job (every wait or retry is a new start). */
  attemptsStarted: number;
  /** How many times BullMQ found this job stalled (its worker died or froze while holding it). */
  stalls: number;
  /** When the job was queued (ms since the epoch). */
  createdAt?: number;
}

/** What the processor wants next: the job is finished, or it should run again after `ms`. */
export type ProcessResult = { kind: 'done' } | { kind: 'delay'; ms: number };

export interface WorkerSettings {
  concurrency: number;
  /** Must outlive the longest processing step (a CRM request at its timeout). */
  lockDurationMs: number;
  /** How often BullMQ looks for jobs whose worker died (default 30 s); recovery takes up to lock + 2 × this. */
  stalledIntervalMs?: number;
}

export interface QueueSystemOptions {
  redisUrl: string;
  /** Key prefix of every queue key. */
  prefix: string;
}

/** Jobs by state; finished jobs are removed at once, so there is no completed count. `failed`: jobs BullMQ gave up on (kept 7 days). */
export type QueueCounts = Record<'waiting' | 'active' | 'delayed' | 'failed', number>;

const jobOptions = {
  // Only unexpected errors (Redis down mid-job, a bug) reach BullMQ's retries; CRM retries are ours.
  attempts: 25,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

export class QueueSystem {
  readonly #options: QueueSystemOptions;
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Map<string, Worker>();
  /** Connections we hand to BullMQ: it treats them as shared and leaves closing them to us. */
  readonly #connections: RedisConnection[] = [];

  constructor(options: QueueSystemOptions) {
    this.#options = options;
  }

  #connection(role: 'producer' | 'worker'): RedisConnection {
    // Workers never give up on a command while reconnecting (BullMQ's requirement); producers fail
    // fast, so an API caller gets a 503 instead of a request parked until Redis returns.
    const connection = connectRedis(this.#options.redisUrl, role === 'worker' ? { maxRetriesPerRequest: null } : { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    connection.on('error', () => {}); // ioredis reconnects by itself; calls that need Redis fail visibly
    this.#connections.push(connection);
    return connection;
  }

  queue(connector: string): Queue {
    let queue = this.#queues.get(connector);
    if (!queue) {
      queue = new Queue(queueName(connector), { connection: this.#connection('producer'), prefix: this.#options.prefix });
      queue.on('error', () => {}); // connection errors surface on the calls that need Redis
      this.#queues.set(connector, queue);
    }
    return queue;
  }

  /** Adds jobs; a job id that already exists is left as it is (BullMQ ignores the duplicate). */
  async enqueue(connector: string, jobs: Array<{ id: string; data: RecordJobData }>): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue(connector).addBulk(jobs.map((job) => ({ name: 'reconcile', data: job.data, opts: { ...jobOptions, jobId: job.id } })));
  }

  /** Whether a job exists: `failed` when BullMQ gave up on it, `missing` when there is none. */
  async jobState(connector: string, jobId: string): Promise<'missing' | 'failed' | 'present'> {
    const state = await this.queue(connector).getJobState(jobId);
    return state === 'unknown' ? 'missing' : state === 'failed' ? 'failed' : 'present';
  }

  /**
   * Runs `processor` for the connector's jobs. `onGiveUp` is called when BullMQ fails a job for
   * good (its processor threw on every attempt, or the job stalled more often than allowed, e.g.
   * a poison record that crashes the process): the record must not be left owing work with no job.
   */
  startWorker(connector: string, settings: WorkerSettings, processor: (job: RecordJob) => Promise<ProcessResult>, onGiveUp?: (job: RecordJob, error: Error) => Promise<void>): void {
    if (this.#workers.has(connector)) return;
    const worker = new Worker<RecordJobData>(
      queueName(connector),
      async (job: Job<RecordJobData>, token?: string) => {
        const result = await processor({ id: job.id!, data: job.data, attemptsStarted: job.attemptsStarted, stalls: job.stalledCounter, createdAt: job.timestamp });
        if (result.kind === 'delay') {
          await job.moveToDelayed(Date.now() + Math.max(0, Math.ceil(result.ms)), token);
          throw new DelayedError();
        }
      },
      {
        connection: this.#connection('worker'),
        prefix: this.#options.prefix,
        concurrency: settings.concurrency,
        lockDuration: settings.lockDurationMs,
        ...(settings.stalledIntervalMs === undefined ? {} : { stalledInterval: settings.stalledIntervalMs }),
        maxStalledCount: 3,
      },
    );
    worker.on('error', () => {}); // reconnects by itself; failures are visible on jobs and readiness
    worker.on('failed', (job, error) => {
      // 'failed' fires after every failed attempt; finishedOn marks the last one.
      if (!job?.finishedOn || !onGiveUp) return;
      onGiveUp({ id: job.id!, data: job.data, attemptsStarted: job.attemptsStarted, stalls: job.stalledCounter }, error).catch(() => {
        // Left in BullMQ's failed set (kept 7 days) with the record still owing work.
      });
    });
    this.#workers.set(connector, worker);
  }

  /**
   * Pauses the connector's queue for every instance at once: BullMQ keeps the flag in Redis, so a
   * restarted instance stays paused. Workers take no new job; jobs in progress finish.
   */
  async pause(connector: string): Promise<void> {
    await this.queue(connector).pause();
  }

  async resume(connector: string): Promise<void> {
    await this.queue(connector).resume();
  }

  async isPaused(connector: string): Promise<boolean> {
    return this.queue(connector).isPaused();
  }

  workerRunning(connector: string): boolean {
    return this.#workers.get(connector)?.isRunning() ?? false;
  }

  async counts(connector: string): Promise<QueueCounts> {
    const counts = await this.queue(connector).getJobCounts('waiting', 'active', 'delayed', 'failed');
    return { waiting: counts['waiting'] ?? 0, active: counts['active'] ?? 0, delayed: counts['delayed'] ?? 0, failed: counts['failed'] ?? 0 };
  }

  /** When the oldest job now waiting for a worker was queued (ms since the epoch), if any waits. */
  async oldestWaitingAt(connector: string): Promise<number | undefined> {
    const [oldest] = await this.queue(connector).getJobs(['wait'], 0, 0, true);
    return oldest?.timestamp;
  }

  /**
   * Stops taking jobs and waits up to `graceMs` for the ones in progress, then closes every
   * connection. Past the grace period (or with Redis gone) connections are cut: jobs still active
   * keep their record state and come back through BullMQ's stalled-job check.
   */
  async close(graceMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const orderly = (async () => {
      await Promise.all([...this.#workers.values()].map((worker) => worker.close()));
      await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
      await Promise.all(this.#connections.map((connection) => connection.quit().catch(() => {})));
      return 'closed' as const;
    })();
    const result = await Promise.race([orderly, grace]);
    clearTimeout(timer);
    if (result === 'timeout') {
      // BullMQ's own connections too (a worker's blocking connection is its own copy): a
      // connection left reconnecting to a Redis that is gone would keep the process alive.
      // Not awaited: against a Redis that is gone, a disconnect waits for a close that never comes.
      for (const owner of [...this.#workers.values(), ...this.#queues.values()]) void owner.disconnect().catch(() => {});
      for (const connection of this.#connections) connection.disconnect();
    }
    this.#workers.clear();
    this.#queues.clear();
    this.#connections.length = 0;
  }
}

export function queueName(connector: string): string {
  return `{${connector}}`;
}

/** The messaging semantic conventions of a connector's queue, for producer and consumer spans. */
export function messagingAttributes(connector: string, operation: 'send' | 'process') {
  return {
    'messaging.system': 'bullmq',
    'messaging.destination.name': queueName(connector),
    'messaging.operation.type': operation,
    'messaging.operation.name': operation === 'send' ? 'add' : 'process',
  };
}
