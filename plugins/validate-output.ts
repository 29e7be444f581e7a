import { schemaErrors } from '../runtime/config/json-schema.ts';
import type { StagePlugin } from '../runtime/pipeline.ts';

/** Checks the mapped CRM object against the object's output JSON Schema before anything is sent. */
export const validateOutput: StagePlugin = {
  name: 'validate-output',
  stage: (next) => async (context) => {
    if (context.record === undefined) return next(context);
    const validate = context.plan.validateOutput;
    if (validate(context.record)) return next(context);
    const details = schemaErrors(validate.errors, { prefix: 'record' });
    return {
      kind: 'fatal',
      code: 'RECSYNC_ERR_OUTPUT_INVALID',
      message: details.map((d) => `${d.field} ${d.message}`).join('; '),
      details,
    };
  },
};
