import { relative } from 'node:path';
import { positionOf } from '../runtime/config/yaml-file.ts';
import type { StagePlugin } from '../runtime/pipeline.ts';

/**
 * Maps the producer's payload to the CRM's object model with the object's JSONata expression
 * (compiled once per configuration version, to JavaScript where possible, bounded in time, depth
 * and sequence length).
 * Bindings: $recordId, $tenant, $version, $object, $action.
 */
export const transform: StagePlugin = {
  name: 'transform',
  stage: (next) => async (context) => {
    if (context.action === 'delete' && context.payload === null) return next(context);
    let record: unknown;
    try {
      // Compiled mappings answer synchronously: no promise hop unless the interpreter runs.
      record = context.plan.mapping.evaluate(context.payload, {
        recordId: context.recordId,
        tenant: context.tenant,
        version: context.version,
        object: context.object,
        action: context.action,
      });
      if (record instanceof Promise) record = await record;
    } catch (error) {
      const { code, message, position } = error as { code?: string; message: string; position?: number };
      const file = relative(process.cwd(), context.plan.files.mapping);
      const at = typeof position === 'number' ? positionOf(context.plan.mappingSource, Math.max(0, position - 1)) : undefined;
      const where = at === undefined ? file : `${file}:${at.line}`;
      return {
        kind: 'fatal',
        code: 'RECSYNC_ERR_MAPPING_FAILED',
        message: `${where}: JSONata ${code ?? 'error'}: ${message}`,
        details: [at === undefined ? { file, message } : { file, line: at.line, message }],
      };
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      return { kind: 'fatal', code: 'RECSYNC_ERR_MAPPING_FAILED', message: `${relative(process.cwd(), context.plan.files.mapping)}: the mapping must produce an object, it produced ${record === undefined ? 'nothing' : JSON.stringify(record)}` };
    }
    context.record = record as Record<string, unknown>;
    return next(context);
  },
};
