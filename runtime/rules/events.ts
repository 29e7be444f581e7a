import { trace } from '@opentelemetry/api';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import type { ConnectorVersion } from '../connectors/load-connector.ts';
import { dryRun, type DryRunResult } from '../dry-run.ts';
import { defaultTenant, type Ingest, type Task, type TaskError } from '../ingest.ts';
import type { RecordStore } from '../records/record-store.ts';
import { decide, payloadOf, RuleError, type ChangeEvent, type Decision } from './rules.ts';

export interface EventDecision extends Decision {
  /** The event's index in the request. */
  index: number;
  /** For a task that was accepted: its id and whether it was a new version or stale. */
  id?: string;
  status?: 'accepted' | 'stale';
}

export interface Explanation {
  connector: string;
  /** Every rule in order; `matches`: whether its condition holds, or the error it raised. */
  rules: Array<{ name: string; matches: boolean | string }>;
  decision: Decision | { error: string };
  /** What the connector would receive, unless the decision is to skip. */
  wouldSend?: DryRunResult;
}

export interface EventError extends TaskError {
  connector: string;
}

/**
 * Change events in, tasks out: every connector that declares rules decides, for every event, to
 * upsert, delete or skip (see rules.ts). The decisions are then accepted exactly like tasks (all or
 * nothing), counted by rule, and noted on the request's span.
 */
export class EventRouter {
  readonly #registry: ConnectorRegistry;
  readonly #ingest: Ingest;
  readonly #store: RecordStore;

  constructor(deps: { registry: ConnectorRegistry; ingest: Ingest; store: RecordStore }) {
    this.#registry = deps.registry;
    this.#ingest = deps.ingest;
    this.#store = deps.store;
  }

  /** Connectors that receive events: the loaded ones with rules. */
  listeners(): ConnectorVersion[] {
    return this.#registry.ready().filter((connector) => connector.rules.length > 0);
  }

  /** Decides every event for every listener; a failing condition is an error of that event. */
  async decide(events: ChangeEvent[]): Promise<{ decisions: EventDecision[]; tasks: Array<{ task: Task; decision: EventDecision }>; errors: EventError[] }> {
    const decisions: EventDecision[] = [];
    const tasks: Array<{ task: Task; decision: EventDecision }> = [];
    const errors: EventError[] = [];
    const listeners = this.listeners();
    for (const [index, event] of events.entries()) {
      for (const connector of listeners) {
        let decision: EventDecision;
        try {
          decision = { index, ...(await decide(connector, event)) };
        } catch (error) {
          if (!(error instanceof RuleError)) throw error;
          errors.push({ index, connector: connector.name, code: 'RECSYNC_ERR_RULE_FAILED', message: error.message, details: [error.detail] });
          continue;
        }
        decisions.push(decision);
        if (decision.decision === 'skip') continue;
        const task: Task = { connector: connector.name, object: decision.object, action: decision.decision, recordId: event.recordId, version: event.version, tenant: event.tenant ?? defaultTenant, payload: payloadOf(decision, event) };
        if (decision.rule !== null) task.rule = decision.rule;
        tasks.push({ task, decision });
      }
    }
    return { decisions, tasks, errors };
  }

  /**
   * Decides and accepts, all or nothing: a failing condition or a task refused by its connector
   * (e.g. the payload does not match the object's input schema) refuses every event of the request.
   */
  async accept(events: ChangeEvent[]): Promise<{ ok: true; decisions: EventDecision[]; accepted: number } | { ok: false; errors: EventError[] }> {
    const { decisions, tasks, errors } = await this.decide(events);
    const refused = this.#ingest.check(tasks.map((t) => t.task)).map((e): EventError => ({ ...e, index: tasks[e.index]!.decision.index, connector: tasks[e.index]!.task.connector }));
    if (errors.length + refused.length > 0) return { ok: false, errors: [...errors, ...refused].sort((a, b) => a.index - b.index) };
    const results = await this.#ingest.accept(tasks.map((t) => t.task));
    results.forEach((result, i) => Object.assign(tasks[i]!.decision, { id: result.id, status: result.status }));

    const counts = new Map<string, Map<string, number>>();
    for (const d of decisions) {
      const byConnector = counts.get(d.connector) ?? new Map<string, number>();
      const field = `${d.rule ?? '(none)'}|${d.decision}`;
      byConnector.set(field, (byConnector.get(field) ?? 0) + 1);
      counts.set(d.connector, byConnector);
    }
    await Promise.all([...counts].map(([connector, byField]) => this.#store.countDecisions(connector, byField)));
    const span = trace.getActiveSpan();
    for (const d of decisions) {
      span?.addEvent('recsync.rule.decision', { 'recsync.connector': d.connector, 'recsync.rule': d.rule ?? '(none)', 'recsync.decision': d.decision, 'recsync.object': d.object, 'recsync.event_index': d.index });
    }
    return { ok: true, decisions, accepted: results.filter((r) => r.status === 'accepted').length };
  }

  /** For one sample event: see `explainEvent`. */
  explain(event: ChangeEvent): Promise<Explanation[]> {
    return explainEvent(this.listeners(), event);
  }
}

/**
 * For one sample event, per connector with rules: every rule with whether its condition holds, the
 * decision, and what the connector would receive (the dry run of its pipeline). Writes nothing.
 */
export async function explainEvent(connectors: readonly ConnectorVersion[], event: ChangeEvent): Promise<Explanation[]> {
  const out: Explanation[] = [];
  for (const connector of connectors.filter((c) => c.rules.length > 0)) {
    const rules: Explanation['rules'] = [];
    for (const rule of connector.rules) {
      try {
        const single = await decide({ name: connector.name, rules: [{ ...rule, action: 'skip' }], objects: connector.objects }, event);
        rules.push({ name: rule.name, matches: single.rule !== null });
      } catch (error) {
        rules.push({ name: rule.name, matches: `error: ${(error as Error).message}` });
      }
    }
    let decision: Decision;
    try {
      decision = await decide(connector, event);
    } catch (error) {
      out.push({ connector: connector.name, rules, decision: { error: (error as Error).message } });
      continue;
    }
    const entry: Explanation = { connector: connector.name, rules, decision };
    if (decision.decision !== 'skip') {
      entry.wouldSend = await dryRun(connector, { object: decision.object, action: decision.decision, recordId: event.recordId, tenant: event.tenant ?? defaultTenant, version: event.version, payload: payloadOf(decision, event) });
    }
    out.push(entry);
  }
  return out;
}
