import type { FastifyPluginAsync } from 'fastify';
import { createAjv, schemaErrors } from '../../config/json-schema.ts';
import { RecsyncError } from '../../errors.ts';
import type { Task, TaskError } from '../../ingest.ts';
import type { Services } from '../../services.ts';
import { acceptedTasksSchema, errorRef, taskArraySchema, taskBodySchema, taskSchema } from '../schemas.ts';

const ajv = createAjv();
const validateTask = ajv.compile(taskSchema);
const validateTasks = ajv.compile(taskArraySchema);

/**
 * `POST /v1/tasks`: one task or an array. All or nothing: when any task is invalid the answer lists
 * every invalid one by index and nothing is queued. 202 means Redis has acknowledged every task.
 */
export const taskRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/v1/tasks',
    {
      config: { role: 'ingest' },
      schema: {
        tags: ['tasks'],
        summary: 'Send one task or an array of 1 to 1,000 tasks',
        description: 'All or nothing: when any task is invalid, every invalid one is listed by index (`errors`) and none is queued. 202 means Redis has every task.',
        body: taskBodySchema,
        response: {
          202: { description: 'Every task accepted (stale versions included, counted as superseded).', ...acceptedTasksSchema },
          400: errorRef('The body does not match the task schema (RECSYNC_ERR_VALIDATION, RECSYNC_ERR_BAD_JSON).'),
          404: errorRef('A task names an unknown connector; `errors` lists each task.'),
          413: errorRef('The body is larger than server.bodyLimit.'),
          422: errorRef('A task names an undeclared object or its payload fails the input schema; `errors` lists each task.'),
          503: errorRef('A connector has no valid configuration, or Redis is not reachable.'),
        },
      },
      // The schema above documents the body; the handler validates it with the same objects, by its
      // own ajv, so that an array's answer names every invalid task by index (Fastify's stops at one).
      validatorCompiler: () => () => true,
    },
    async (request, reply) => {
    const body = request.body;
    const many = Array.isArray(body);
    const validate = many ? validateTasks : validateTask;
    if (!validate(body)) {
      const details = schemaErrors(validate.errors).map((d) => ({ ...d, field: many ? (d.field ?? '').replace(/^(\d+)/, '[$1]') : d.field }));
      throw new RecsyncError('RECSYNC_ERR_VALIDATION', details.map((d) => `${d.field} ${d.message}`).join('; '), details);
    }
    const tasks = (many ? body : [body]) as Task[];
    const errors: TaskError[] = services.ingest.check(tasks);
    if (errors.length > 0) {
      // The answer's status and code are those of the most severe problem; every problem is listed.
      const worst = (['RECSYNC_ERR_CONNECTOR_UNAVAILABLE', 'RECSYNC_ERR_UNKNOWN_CONNECTOR'] as const).find((code) => errors.some((e) => e.code === code)) ?? errors[0]!.code;
      const status = worst === 'RECSYNC_ERR_CONNECTOR_UNAVAILABLE' ? 503 : worst === 'RECSYNC_ERR_UNKNOWN_CONNECTOR' ? 404 : 422;
      return reply.status(status).send({
        code: worst,
        message: `${errors.length} of ${tasks.length} task(s) invalid, none accepted: ${errors.map((e) => `[${e.index}] ${e.message}`).join('; ')}`.slice(0, 2000),
        errors,
      });
    }
    const items = await services.ingest.accept(tasks);
    return reply.status(202).send({ accepted: items.filter((i) => i.status === 'accepted').length, items });
    },
  );
};
