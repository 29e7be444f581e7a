import type { ErrorDetail } from '../errors.ts';
import type { CompiledMapping } from '../mapping/index.ts';
import type { Action } from '../records/record-store.ts';

/** A change in the producer's system, as its CDC pipeline sees it (`POST /v1/events`). */
export interface ChangeEvent {
  object: string;
  recordId: string;
  op: 'insert' | 'update' | 'delete';
  version: number;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  tenant?: string;
  occurredAt?: string;
}

/** One rule of a connector's manifest, compiled. */
export interface Rule {
  name: string;
  /** The JSONata condition over the event; none: always. */
  when: CompiledMapping | undefined;
  /** The connector object to act on; none: the event's own `object`. */
  object: string | undefined;
  /** `sync`: upsert for insert and update, delete for delete. */
  action: 'sync' | 'upsert' | 'delete' | 'skip';
  /**
   * Skip an update whose mapping output is the same for `before` and `after`, when the rule already
   * covered the record before the change (so the CRM has that output): consent given, for
   * instance, must still send the record.
   */
  skipUnchanged: boolean;
  /** Where the rule is written, for errors: `connectors/x/manifest.yaml:12`. */
  where: string;
}

/** What one connector does with one event. `rule` null: no rule matched. */
export interface Decision {
  connector: string;
  rule: string | null;
  decision: 'upsert' | 'delete' | 'skip';
  object: string;
  /** Why a matching rule skipped, or why nothing matched. */
  reason?: string;
}

/** A rule's condition failed: the event is refused, naming the rule and where it is written. */
export class RuleError extends Error {
  readonly detail: ErrorDetail;
  constructor(rule: Rule, message: string) {
    super(`rule "${rule.name}" (${rule.where}): ${message}`);
    const [file, line] = rule.where.split(/:(?=\d+$)/);
    this.detail = { file: file!, ...(line === undefined ? {} : { line: Number(line) }), field: `rules.${rule.name}.when`, message };
  }
}

interface Target {
  name: string;
  rules: readonly Rule[];
  objects: ReadonlyMap<string, { mapping: CompiledMapping }>;
}

/**
 * The first rule whose condition holds decides; no rule: skip. A condition must give true or false
 * (missing counts as false); anything else, or an evaluation error, refuses the event.
 */
export async function decide(connector: Target, event: ChangeEvent): Promise<Decision> {
  for (const rule of connector.rules) {
    if (rule.when && !(await holds(rule, event))) continue;
    const object = rule.object ?? event.object;
    const decided = (decision: Decision['decision'], reason?: string): Decision => ({ connector: connector.name, rule: rule.name, decision, object, ...(reason === undefined ? {} : { reason }) });
    if (rule.action === 'skip') return decided('skip', 'the rule skips');
    const plan = connector.objects.get(object);
    if (!plan) return decided('skip', `connector ${connector.name} has no object "${object}"`);
    const action: Action = rule.action === 'sync' ? (event.op === 'delete' ? 'delete' : 'upsert') : rule.action;
    if (action === 'upsert' && rule.skipUnchanged && event.op === 'update' && event.before && event.after && (await coveredBefore(rule, event)) && (await sameMapping(plan.mapping, event, object))) {
      return decided('skip', 'no field the mapping reads changed');
    }
    return decided(action);
  }
  return { connector: connector.name, rule: null, decision: 'skip', object: event.object, reason: 'no rule matched' };
}

/** The payload a decision sends: the newest data of the record (a delete may have only `before`). */
export function payloadOf(decision: Decision, event: ChangeEvent): Record<string, unknown> | null {
  return decision.decision === 'delete' ? (event.after ?? event.before ?? null) : (event.after ?? null);
}

async function holds(rule: Rule, event: ChangeEvent): Promise<boolean> {
  let result: unknown;
  try {
    result = rule.when!.evaluate(event);
    if (result instanceof Promise) result = await result;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    throw new RuleError(rule, `JSONata ${code ?? 'error'}: ${message}`);
  }
  if (result === undefined) return false;
  if (typeof result !== 'boolean') throw new RuleError(rule, `"when" must give true or false, it gave ${JSON.stringify(result)?.slice(0, 100)}`);
  return result;
}

/** Whether the rule's condition held for the record as it was: the change seen as the previous state's own update. */
async function coveredBefore(rule: Rule, event: ChangeEvent): Promise<boolean> {
  if (!rule.when) return true;
  return holds(rule, { ...event, before: null, after: event.before ?? null });
}

/** Whether the mapping makes the same CRM object of `before` and `after` (an error counts as changed). */
async function sameMapping(mapping: CompiledMapping, event: ChangeEvent, object: string): Promise<boolean> {
  const bindings = { recordId: event.recordId, tenant: event.tenant ?? 'default', version: event.version, object, action: 'upsert' };
  try {
    const run = async (data: unknown) => {
      const out = mapping.evaluate(data, bindings);
      return JSON.stringify(out instanceof Promise ? await out : out);
    };
    return (await run(event.before)) === (await run(event.after));
  } catch {
    return false;
  }
}
