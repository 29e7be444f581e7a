import { SpanStatusCode } from '@opentelemetry/api';
import { producerSpan } from './ingest.ts';
import type { QueueSystem } from './queue/record-queue.ts';
import { jobIdOf, parseDeadLetterId, type DeadLetterQuery, type RecordStore } from './records/record-store.ts';
import { attr, traceparentOf } from './tracing.ts';

export interface ReplaySelection {
  ids?: string[];
  /** Inclusive time range of the dead letters to replay, ms since the epoch. */
  from?: number;
  to?: number;
  all?: boolean;
}

export interface ReplayReport {
  replayed: number;
  superseded: number;
  skipped: number;
  items: Array<{ id: string; result: 'replayed' | 'superseded' | 'skipped'; reason?: string }>;
}

/**
 * Replays dead letters: each one whose record has not moved on is owed again and goes through
 * today's mapping, schemas, rate budget and breaker like any change; one whose record has since
 * delivered or accepted a newer version is marked superseded instead. Replaying the same letter
 * twice sends it once: a replayed letter leaves the queue. Each replay is a producer span of the
 * replay request's trace, and the replayed version's worker joins that trace, as for a new task.
 */
export async function replayDeadLetters(store: RecordStore, queues: QueueSystem, connector: string, selection: ReplaySelection): Promise<ReplayReport> {
  const report: ReplayReport = { replayed: 0, superseded: 0, skipped: 0, items: [] };
  const replayOne = async (id: string) => {
    const parsed = parseDeadLetterId(id);
    const span = parsed ? producerSpan({ connector, ...parsed }) : undefined;
    let outcome: Awaited<ReturnType<RecordStore['replay']>>;
    try {
      outcome = await store.replay(connector, id, span ? traceparentOf(span) : '');
      span?.setAttributes({ [attr.version]: parsed!.version, 'recsync.replay.result': outcome.result });
      if (outcome.result === 'replayed') {
        const { ref, seq } = outcome;
        span?.setAttribute('messaging.message.id', jobIdOf(ref, seq));
        await queues.enqueue(connector, [{ id: jobIdOf(ref, seq), data: { tenant: ref.tenant, object: ref.object, recordId: ref.recordId, seq } }]);
      }
    } catch (error) {
      span?.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).name });
      throw error;
    } finally {
      span?.end();
    }
    report[outcome.result] += 1;
    if (report.items.length < 1000) report.items.push(outcome.result === 'skipped' ? { id, result: outcome.result, reason: outcome.reason ?? '' } : { id, result: outcome.result });
  };
  if (selection.ids) {
    for (const id of selection.ids) await replayOne(id);
    return report;
  }
  const query: DeadLetterQuery = { limit: 200, state: 'dead' };
  if (selection.from !== undefined) query.from = selection.from;
  if (selection.to !== undefined) query.to = selection.to;
  // Collect first, then replay: replayed letters leave the index the listing walks.
  const ids: string[] = [];
  for (;;) {
    const page = await store.deadLetters(connector, query);
    ids.push(...page.items.map((item) => item.id));
    if (page.next === null) break;
    query.cursor = page.next;
  }
  for (const id of ids) await replayOne(id);
  return report;
}
