import type { QueueSystem } from '../queue/record-queue.ts';
import { jobIdOf, type RecordRef, type RecordStore } from '../records/record-store.ts';

export interface SweeperOptions {
  store: RecordStore;
  queues: QueueSystem;
  /** The connectors this process runs workers for. */
  connectors: () => string[];
  /** What to do with a record whose job BullMQ gave up on (dead-letter its version, queue a new job). */
  recoverFailed: (connector: string, ref: RecordRef, jobId: string) => Promise<void>;
  /** How often to look (default 30 s). */
  intervalMs?: number;
  /** How long a record may owe a job before it is looked at (default 60 s: an enqueue takes milliseconds). */
  graceMs?: number;
  /** Records checked per connector and sweep (default 1,000). */
  batch?: number;
}

/**
 * The safety net under "ingest writes the record, then queues its job": a process that dies
 * between the two (or a Redis that loses the job) would leave a record owing work with no job, and
 * its change would wait for the record's next change. Every record that owes a job is in its
 * connector's `owed` set (record.lua keeps it); the sweeper looks at the ones owed for longer than
 * one interval, queues a job that is missing (the job id is deterministic, so two sweepers or a
 * late enqueue cannot make two), and hands a job BullMQ gave up on to `recoverFailed`.
 */
export class Sweeper {
  readonly #options: SweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  /** Jobs re-queued and failed jobs recovered since start. */
  readonly repaired = { requeued: 0, recovered: 0 };

  constructor(options: SweeperOptions) {
    this.#options = options;
  }

  start(): void {
    const interval = this.#options.intervalMs ?? 30_000;
    this.#timer = setInterval(() => {
      if (!this.#running) this.#running = this.sweep().catch(() => {}).finally(() => (this.#running = undefined));
    }, interval);
    this.#timer.unref();
  }

  /** One pass over every connector; returns what it repaired. */
  async sweep(): Promise<{ requeued: number; recovered: number }> {
    const { store, queues } = this.#options;
    const done = { requeued: 0, recovered: 0 };
    for (const connector of this.#options.connectors()) {
      const owed = await store.owedBefore(connector, this.#options.graceMs ?? 60_000, this.#options.batch ?? 1000);
      for (const { ref, seq } of owed) {
        const id = jobIdOf(ref, seq);
        const state = await queues.jobState(connector, id);
        if (state === 'missing') {
          await queues.enqueue(connector, [{ id, data: { tenant: ref.tenant, object: ref.object, recordId: ref.recordId, seq } }]);
          done.requeued += 1;
        } else if (state === 'failed') {
          await this.#options.recoverFailed(connector, ref, id);
          done.recovered += 1;
        }
      }
    }
    this.repaired.requeued += done.requeued;
    this.repaired.recovered += done.recovered;
    return done;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
