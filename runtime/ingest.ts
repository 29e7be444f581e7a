import type { ConnectorRegistry } from './connectors/registry.ts';
import { schemaErrors } from './config/json-schema.ts';
import { RecsyncError, type ErrorCode, type ErrorDetail } from './errors.ts';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { messagingAttributes, type QueueSystem, type RecordJobData } from './queue/record-queue.ts';
import type { Metrics } from './metrics.ts';
import { jobIdOf, type Action, type RecordStore } from './records/record-store.ts';
import { attr, contextOf, traceparentOf, tracer } from './tracing.ts';

/** A task as producers send it (`POST /v1/tasks`), already checked against the API schema. */
export interface Task {
  connector: string;
  object: string;
  action: Action;
  recordId: string;
  version?: number;
  tenant?: string;
  payload?: unknown;
  /** The rule that made this task from a change event (not part of the tasks API). */
  rule?: string;
}

export interface TaskError {
  index: number;
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
}

export interface AcceptedTask {
  index: number;
  /** `<connector>/<tenant>/<object>/<recordId>@<version>`, the parts URI-encoded. */
  id: string;
  /** `accepted`: a new version; `stale`: not newer than a version already accepted (counted as superseded). */
  status: 'accepted' | 'stale';
  version: number;
}

export const defaultTenant = 'default';

/**
 * Accepts tasks all or nothing: every task is checked (connector loaded, object declared, payload
 * valid against the object's input schema) before anything is written; then each is written to
 * its record state and its record's job is queued. The answer is sent only after Redis
 * acknowledged both.
 */
export class Ingest {
  readonly #registry: ConnectorRegistry;
  readonly #store: RecordStore;
  readonly #queues: QueueSystem;
  readonly #metrics: Metrics | undefined;

  constructor(deps: { registry: ConnectorRegistry; store: RecordStore; queues: QueueSystem; metrics?: Metrics }) {
    this.#registry = deps.registry;
    this.#store = deps.store;
    this.#queues = deps.queues;
    this.#metrics = deps.metrics;
  }

  check(tasks: Task[]): TaskError[] {
    const errors: TaskError[] = [];
    tasks.forEach((task, index) => {
      const slot = this.#registry.slot(task.connector);
      const connector = slot?.current;
      if (!connector) {
        errors.push(
          slot
            ? { index, code: 'RECSYNC_ERR_CONNECTOR_UNAVAILABLE', message: `connector "${task.connector}" has no valid configuration loaded`, details: slot.errors }
            : { index, code: 'RECSYNC_ERR_UNKNOWN_CONNECTOR', message: `unknown connector "${task.connector}"`, details: [{ field: 'connector', message: `must be one of ${JSON.stringify(this.#registry.slots().map((s) => s.name))}` }] },
        );
        return;
      }
      const plan = connector.objects.get(task.object);
      if (!plan) {
        errors.push({ index, code: 'RECSYNC_ERR_UNKNOWN_OBJECT', message: `connector "${task.connector}" has no object "${task.object}"`, details: [{ field: 'object', message: `must be one of ${JSON.stringify([...connector.objects.keys()])}` }] });
        return;
      }
      const payload = task.payload ?? null;
      if (task.action === 'delete' && payload === null) return;
      if (!plan.validateInput(payload)) {
        const details = schemaErrors(plan.validateInput.errors, { prefix: 'payload' });
        errors.push({ index, code: 'RECSYNC_ERR_INPUT_INVALID', message: details.map((d) => `${d.field} ${d.message}`).join('; '), details });
      }
    });
    return errors;
  }

  /**
   * Each task gets a producer span (a child of the request's span) whose traceparent is stored with
   * the version in the record state: the worker that later claims that version joins its trace.
   */
  async accept(tasks: Task[]): Promise<AcceptedTask[]> {
    const results: AcceptedTask[] = [];
    const jobs = new Map<string, Map<string, { id: string; data: RecordJobData }>>();
    const spans: Span[] = [];
    try {
      // Record writes run concurrently: ioredis writes them back to back on one connection.
      const written = await Promise.all(
        tasks.map(async (task) => {
          const ref = { connector: task.connector, tenant: task.tenant ?? defaultTenant, object: task.object, recordId: task.recordId };
          const change: { version?: number; action: Action; payload: unknown; rule?: string } = { action: task.action, payload: task.payload ?? null };
          if (task.version !== undefined) change.version = task.version;
          if (task.rule !== undefined) change.rule = task.rule;
          const span = producerSpan(ref);
          spans.push(span);
          const result = await this.#store.ingest(ref, change, traceparentOf(span));
          span.setAttributes({ [attr.version]: result.version, 'recsync.ingest.status': result.status === 'new' ? 'accepted' : 'stale' });
          // The waiting version this one replaced will never be sent: its trace ends at its
          // producer span, and this link leads from the version that is sent back to it.
          const superseded = result.supersededTraceparent && trace.getSpanContext(contextOf(result.supersededTraceparent));
          if (superseded) span.addLink({ context: superseded, attributes: { 'recsync.link': 'superseded' } });
          if (result.seq > 0) span.setAttribute('messaging.message.id', jobIdOf(ref, result.seq));
          return { ref, result };
        }),
      );
      written.forEach(({ ref, result }, index) => {
        results.push({
          index,
          id: `${ref.connector}/${encodeURIComponent(ref.tenant)}/${encodeURIComponent(ref.object)}/${encodeURIComponent(ref.recordId)}@${result.version}`,
          status: result.status === 'new' ? 'accepted' : 'stale',
          version: result.version,
        });
        if (result.seq > 0) {
          const id = jobIdOf(ref, result.seq);
          const byConnector = jobs.get(ref.connector) ?? new Map();
          byConnector.set(id, { id, data: { tenant: ref.tenant, object: ref.object, recordId: ref.recordId, seq: result.seq } });
          jobs.set(ref.connector, byConnector);
        }
      });
      await Promise.all([...jobs].map(([connector, byId]) => this.#queues.enqueue(connector, [...byId.values()])));
    } catch (error) {
      for (const span of spans) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      }
      throw new RecsyncError('RECSYNC_ERR_REDIS_UNAVAILABLE', `Redis did not acknowledge the tasks (${(error as Error).message}); send them again: resending the same versions is safe`, [], { cause: error });
    } finally {
      for (const span of spans) span.end();
    }
    // Counted once Redis has acknowledged everything, like the 202, and as the ledger counts: a
    // stale version is accepted and superseded at once.
    for (const [index, item] of results.entries()) {
      this.#metrics?.tasks.inc({ connector: tasks[index]!.connector, outcome: 'accepted' });
      if (item.status === 'stale') this.#metrics?.tasks.inc({ connector: tasks[index]!.connector, outcome: 'superseded' });
    }
    return results;
  }
}

/** The span of one task's hand-over to the queue: its record write and its job. */
export function producerSpan(ref: { connector: string; tenant: string; object: string; recordId: string }): Span {
  const messaging = messagingAttributes(ref.connector, 'send');
  return tracer().startSpan(`send ${messaging['messaging.destination.name']}`, {
    kind: SpanKind.PRODUCER,
    attributes: { ...messaging, [attr.connector]: ref.connector, [attr.tenant]: ref.tenant, [attr.object]: ref.object, [attr.recordId]: ref.recordId },
  });
}
