import { schemaErrors } from '../runtime/config/json-schema.ts';
import type { StagePlugin } from '../runtime/pipeline.ts';

/** Checks the producer's payload against the object's input JSON Schema (compiled once per configuration version). */
export const validateInput: StagePlugin = {
  name: 'validate-input',
  stage: (next) => async (context) => {
    if (context.action === 'delete' && context.payload === null) return next(context);
    const validate = context.plan.validateInput;
    if (validate(context.payload)) return next(context);
    const details = schemaErrors(validate.errors, { prefix: 'payload' });
    return {
      kind: 'fatal',
      code: 'RECSYNC_ERR_INPUT_INVALID',
      message: details.map((d) => `${d.field} ${d.message}`).join('; '),
      details,
    };
  },
};
