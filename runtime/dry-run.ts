import { validateInput } from '../plugins/validate-input.ts';
import { transform } from '../plugins/transform.ts';
import { validateOutput } from '../plugins/validate-output.ts';
import type { ConnectorVersion } from './connectors/load-connector.ts';
import type { ErrorCode, ErrorDetail } from './errors.ts';
import { buildPipeline, type Outcome, type TaskContext } from './pipeline.ts';
import type { Action } from './records/record-store.ts';

export interface DryRunInput {
  object: string;
  action?: Action;
  recordId?: string;
  tenant?: string;
  version?: number;
  payload: unknown;
}

export type DryRunResult =
  | { ok: true; configVersion: string; record: Record<string, unknown> | null }
  | { ok: false; configVersion: string; stage: string; error: { code: ErrorCode; message: string; details?: ErrorDetail[] } };

/**
 * What the connector would send for a sample record, without sending it: the same validate-input,
 * transform and validate-output stages the workers run, on the configuration version in service.
 */
export async function dryRun(connector: ConnectorVersion, input: DryRunInput): Promise<DryRunResult> {
  const plan = connector.objects.get(input.object);
  if (!plan) {
    return { ok: false, configVersion: connector.version, stage: 'plan', error: { code: 'RECSYNC_ERR_UNKNOWN_OBJECT', message: `connector ${connector.name} has no object "${input.object}" (objects: ${[...connector.objects.keys()].join(', ')})` } };
  }
  let reached = 'validate-input';
  let mapped: Record<string, unknown> | null = null;
  const stages = [validateInput, transform, validateOutput].map((plugin) => ({
    name: plugin.name,
    stage: (next: (context: TaskContext) => Promise<Outcome>) => {
      const inner = plugin.stage(next);
      return (context: TaskContext) => {
        reached = plugin.name;
        return inner(context);
      };
    },
  }));
  const run = buildPipeline(stages, async (context) => {
    // As plain JSON: compiled mappings may build objects without a prototype.
    mapped = context.record === undefined ? null : (JSON.parse(JSON.stringify(context.record)) as Record<string, unknown>);
    return { kind: 'delivered' };
  });
  const outcome = await run({
    connector,
    plan,
    tenant: input.tenant ?? 'default',
    object: input.object,
    recordId: input.recordId ?? 'dry-run',
    version: input.version ?? 0,
    action: input.action ?? 'upsert',
    payload: input.payload ?? null,
    crmId: undefined,
    attempts: 0,
    acceptedAt: Date.now(),
    holder: 'dry-run',
  });
  if (outcome.kind === 'fatal') {
    return { ok: false, configVersion: connector.version, stage: reached, error: { code: outcome.code, message: outcome.message, ...(outcome.details ? { details: outcome.details } : {}) } };
  }
  return { ok: true, configVersion: connector.version, record: mapped };
}
