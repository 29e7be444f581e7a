import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BreakerRegistry } from './breakers.ts';
import type { ConfigSync } from './connectors/config-sync.ts';
import type { ConnectorRegistry } from './connectors/registry.ts';
import type { QueueSystem } from './queue/record-queue.ts';
import type { RecordStore } from './records/record-store.ts';

/** What the worker decided for one claimed version (per process; the shared ledger is `recsync_ledger`). */
export type TaskOutcome = 'accepted' | 'superseded' | 'delivered' | 'retried' | 'dead_lettered' | 'waited';

/** What a scrape reads from Redis and this process's registries, so that gauges show the present. */
export interface MetricsSources {
  registry: ConnectorRegistry;
  store: RecordStore;
  queues: QueueSystem;
  breakers: BreakerRegistry;
  config: ConfigSync;
}

const breakerValue = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * The Prometheus metrics of one recsync process, in a registry of its own (not prom-client's
 * global one: tests build several runtimes in one process). Counters and histograms count what
 * this process did, as Prometheus expects of every instance (sum them in queries); gauges that
 * describe shared state (queue depth, dead letters, the ledger) are read from Redis at scrape
 * time, so every instance reports the same value (use max, not sum, across instances).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #sources: MetricsSources;

  readonly tasks: Counter<'connector' | 'outcome'>;
  readonly waits: Counter<'connector' | 'reason'>;
  readonly waitSeconds: Counter<'connector' | 'reason'>;
  readonly endToEnd: Histogram<'connector'>;
  readonly stage: Histogram<'connector' | 'stage' | 'outcome'>;
  readonly #queueJobs: Gauge<'connector' | 'state'>;
  readonly #oldestWaiting: Gauge<'connector'>;
  readonly #breaker: Gauge<'connector' | 'account'>;
  readonly #dlq: Gauge<'connector'>;
  readonly #ledger: Gauge<'connector' | 'counter'>;
  readonly #reloads: Counter<'result'>;

  constructor(sources: MetricsSources) {
    this.#sources = sources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.tasks = new Counter({
      name: 'recsync_tasks_total',
      help: 'Task events in this process, by outcome: accepted (every task answered 202) and superseded (of those, versions not newer than one accepted) at ingest; delivered, retried (an attempt failed, a retry is due), dead_lettered and waited (no rate budget, breaker open or CRM throttling; no attempt spent) in the workers.',
      labelNames: ['connector', 'outcome'],
      registers,
    });
    this.waits = new Counter({ name: 'recsync_waits_total', help: 'Jobs put back to wait without spending an attempt, by reason: rate-limit, breaker, crm-throttle.', labelNames: ['connector', 'reason'], registers });
    this.waitSeconds = new Counter({ name: 'recsync_wait_seconds_total', help: 'Seconds of those waits, summed.', labelNames: ['connector', 'reason'], registers });
    this.endToEnd = new Histogram({
      name: 'recsync_delivery_latency_seconds',
      help: 'From the moment a version was accepted (202) to its delivery to the CRM.',
      labelNames: ['connector'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400],
      registers,
    });
    this.stage = new Histogram({
      name: 'recsync_stage_duration_seconds',
      help: "Time spent in one pipeline stage, without the stages after it, by the stage's outcome.",
      labelNames: ['connector', 'stage', 'outcome'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#queueJobs = new Gauge({ name: 'recsync_queue_jobs', help: "Jobs in the connector's queue by state (shared: read from Redis at scrape).", labelNames: ['connector', 'state'], registers });
    this.#oldestWaiting = new Gauge({ name: 'recsync_queue_oldest_waiting_seconds', help: 'Age of the oldest job waiting for a worker, since it was queued; 0 when none waits (shared).', labelNames: ['connector'], registers });
    this.#breaker = new Gauge({ name: 'recsync_breaker_state', help: "This process's circuit breaker per account: 0 closed, 1 half-open, 2 open.", labelNames: ['connector', 'account'], registers });
    this.#dlq = new Gauge({ name: 'recsync_dlq_entries', help: 'Dead letters kept for the connector, in any state (shared).', labelNames: ['connector'], registers });
    this.#ledger = new Gauge({
      name: 'recsync_ledger',
      help: 'The shared ledger of every instance (accepted = delivered + superseded + deadLettered + open), read from Redis at scrape.',
      labelNames: ['connector', 'counter'],
      registers,
    });
    this.#reloads = new Counter({ name: 'recsync_config_reloads_total', help: 'Connector reloads (API, file watch or announced by another instance) in this process, by result: loaded or refused.', labelNames: ['result'], registers });
  }

  /** The text exposition, with the shared gauges read now. */
  async render(): Promise<string> {
    await this.#refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async #refresh(): Promise<void> {
    const { registry, store, queues, breakers, config } = this.#sources;
    const names = registry.slots().map((slot) => slot.name);
    const now = Date.now();
    const rows = await Promise.all(
      names.map(async (name) => {
        const [counts, oldest, ledger, dlq] = await Promise.all([queues.counts(name), queues.oldestWaitingAt(name), store.counters(name), store.deadLetterCount(name)]);
        return { name, counts, oldest, ledger, dlq };
      }),
    );
    // Reset first: a connector or account that disappeared must not keep its last value.
    for (const gauge of [this.#queueJobs, this.#oldestWaiting, this.#breaker, this.#dlq, this.#ledger]) gauge.reset();
    for (const { name, counts, oldest, ledger, dlq } of rows) {
      for (const [state, value] of Object.entries(counts)) this.#queueJobs.set({ connector: name, state }, value);
      this.#oldestWaiting.set({ connector: name }, oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000));
      for (const [counter, value] of Object.entries(ledger)) this.#ledger.set({ connector: name, counter }, value);
      this.#dlq.set({ connector: name }, dlq);
      for (const [account, state] of Object.entries(breakers.states(`${name}:`))) this.#breaker.set({ connector: name, account }, breakerValue[state]);
    }
    // ConfigSync keeps the count; the counter mirrors it (it only grows).
    this.#reloads.reset();
    this.#reloads.inc({ result: 'loaded' }, config.reloads.loaded);
    this.#reloads.inc({ result: 'refused' }, config.reloads.refused);
  }
}
