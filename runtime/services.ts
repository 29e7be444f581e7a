import type { AuditLog } from './audit.ts';
import type { BreakerRegistry } from './breakers.ts';
import type { ConfigSync } from './connectors/config-sync.ts';
import type { ConnectorVersion } from './connectors/load-connector.ts';
import type { ConnectorRegistry } from './connectors/registry.ts';
import type { Ingest } from './ingest.ts';
import type { EventRouter } from './rules/events.ts';
import type { Sweeper } from './worker/sweeper.ts';
import type { Metrics } from './metrics.ts';
import type { RateLimiter } from './limiter/rate-limiter.ts';
import type { QueueSystem } from './queue/record-queue.ts';
import type { RecordStore } from './records/record-store.ts';
import type { WebhookReceiver } from './sync/webhooks.ts';

/** What the HTTP routes and workers share; built once by `createRecsync`, passed explicitly. */
export interface Services {
  registry: ConnectorRegistry;
  store: RecordStore;
  queues: QueueSystem;
  ingest: Ingest;
  /** The CRMs' webhooks (the way back). */
  webhooks: WebhookReceiver;
  /** Change events decided by the connectors' rules. */
  events: EventRouter;
  breakers: BreakerRegistry;
  limiterOf(connector: ConnectorVersion): RateLimiter | undefined;
  /** Resolves when Redis answers a PING. */
  ping(): Promise<void>;
  /** True when this process runs workers (readiness then requires them to run). */
  workers: boolean;
  /** Reloads connectors here and on every instance; the instance table. */
  config: ConfigSync;
  audit: AuditLog;
  /** Queues jobs that records owe but that were never queued. */
  sweeper: Sweeper;
  /** The API runs without tokens (development mode on loopback). */
  authOpen: boolean;
  /** This process's Prometheus metrics. */
  metrics: Metrics;
}
