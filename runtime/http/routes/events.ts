import type { FastifyPluginAsync } from 'fastify';
import { createAjv, schemaErrors } from '../../config/json-schema.ts';
import { RecsyncError } from '../../errors.ts';
import type { ChangeEvent } from '../../rules/rules.ts';
import type { Services } from '../../services.ts';
import { acceptedEventsSchema, errorRef, eventArraySchema, eventBodySchema, eventExplanationSchema, eventSchema } from '../schemas.ts';

const ajv = createAjv();
const validateEvent = ajv.compile(eventSchema);
const validateEvents = ajv.compile(eventArraySchema);

/** Checks one event or an array against the API schema; the fields of an array name the index. */
function eventsOf(body: unknown): ChangeEvent[] {
  const many = Array.isArray(body);
  const validate = many ? validateEvents : validateEvent;
  if (!validate(body)) {
    const details = schemaErrors(validate.errors).map((d) => ({ ...d, field: many ? (d.field ?? '').replace(/^(\d+)/, '[$1]') : d.field }));
    throw new RecsyncError('RECSYNC_ERR_VALIDATION', details.map((d) => `${d.field} ${d.message}`).join('; '), details);
  }
  return (many ? body : [body]) as ChangeEvent[];
}

/**
 * `POST /v1/events`: change events, one or many. Every connector with rules decides what each
 * event means for it; the resulting tasks are accepted all or nothing, like `POST /v1/tasks`.
 * `POST /v1/events/dry-run`: which rules match one event and what each connector would receive.
 */
export const eventRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/v1/events',
    {
      config: { role: 'ingest' },
      schema: {
        tags: ['events'],
        summary: "Send change events; each connector's rules decide what it receives",
        description: 'All or nothing, like tasks: a failing rule condition or a decided task its connector refuses refuses every event (`errors`, by event index and connector).',
        body: eventBodySchema,
        response: {
          202: { description: 'Every event decided, every decided task accepted.', ...acceptedEventsSchema },
          400: errorRef('The body does not match the event schema.'),
          422: errorRef('A rule condition failed (RECSYNC_ERR_RULE_FAILED) or a decided task was refused; `errors` lists each.'),
          503: errorRef('Redis is not reachable.'),
        },
      },
      // Validated by the handler with the same objects, so that every invalid event is named by index.
      validatorCompiler: () => () => true,
    },
    async (request, reply) => {
    const events = eventsOf(request.body);
    const result = await services.events.accept(events);
    if (!result.ok) {
      return reply.status(422).send({
        code: result.errors.some((e) => e.code === 'RECSYNC_ERR_RULE_FAILED') ? 'RECSYNC_ERR_RULE_FAILED' : result.errors[0]!.code,
        message: `${new Set(result.errors.map((e) => e.index)).size} of ${events.length} event(s) refused, none accepted: ${result.errors.map((e) => `[${e.index}] ${e.connector}: ${e.message}`).join('; ')}`.slice(0, 2000),
        errors: result.errors,
      });
    }
    return reply.status(202).send({ events: events.length, accepted: result.accepted, decisions: result.decisions });
    },
  );

  app.post(
    '/v1/events/dry-run',
    {
      config: { role: 'read' },
      schema: {
        tags: ['events'],
        summary: 'For one event: which rules hold and what each connector would receive',
        body: eventSchema,
        response: { 200: { description: 'Per connector with rules: the rules, the decision and the dry run.', ...eventExplanationSchema }, 400: errorRef('The body is not one valid event.') },
      },
      validatorCompiler: () => () => true,
    },
    async (request) => {
    const [event] = eventsOf(request.body);
    if (Array.isArray(request.body)) throw new RecsyncError('RECSYNC_ERR_VALIDATION', 'send one event to a dry run', [{ field: '(root)', message: 'must be one event, not an array' }]);
    return { connectors: await services.events.explain(event!) };
    },
  );
};
