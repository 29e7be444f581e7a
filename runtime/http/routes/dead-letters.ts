import type { FastifyPluginAsync } from 'fastify';
import { replayDeadLetters } from '../../dead-letters.ts';
import { RecsyncError } from '../../errors.ts';
import type { DeadLetterQuery } from '../../records/record-store.ts';
import type { Services } from '../../services.ts';
import { slotOfFlow } from '../../sync/two-way.ts';
import { deadLetterSchema, errorRef } from '../schemas.ts';

const timeSchema = { type: 'string', format: 'date-time' } as const;
const unknownConnector = errorRef('No connector of that name (RECSYNC_ERR_UNKNOWN_CONNECTOR).');
const noSuchLetter = errorRef('No such dead letter (RECSYNC_ERR_NOT_FOUND).');

/** The dead-letter queue of a connector: list, show, replay, drop. */
export const deadLetterRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  // A connector, or the way back of one that receives webhooks (`<name>.in`): its own dead letters.
  const known = (name: string) => {
    if (!slotOfFlow(services.registry, name)) throw new RecsyncError('RECSYNC_ERR_UNKNOWN_CONNECTOR', `unknown connector "${name}"`, [{ field: 'name', message: 'not loaded' }]);
  };

  app.get<{ Params: { name: string }; Querystring: { from?: string; to?: string; code?: string; state?: 'dead' | 'superseded'; limit?: string; cursor?: string } }>(
    '/v1/connectors/:name/dlq',
    {
      config: { role: 'read' },
      schema: {
        tags: ['dead letters'],
        summary: "A connector's dead letters, oldest first, filtered and paginated",
        response: {
          200: { description: 'A page; `next` is the cursor of the next page, `total` counts every letter.', type: 'object', properties: { items: { type: 'array', items: deadLetterSchema }, next: { type: ['string', 'null'] }, total: { type: 'integer' } } },
          400: errorRef('A bad query (RECSYNC_ERR_VALIDATION).'),
          404: unknownConnector,
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: timeSchema,
            to: timeSchema,
            code: { type: 'string', pattern: '^RECSYNC_ERR_[A-Z_]+$' },
            state: { enum: ['dead', 'superseded'] },
            // A string: query values are not coerced (coercion is off so bodies keep their types).
            limit: { type: 'string', pattern: '^(?:[1-9]\\d?|[1-4]\\d\\d|500)$', description: '1 to 500, default 50' },
            cursor: { type: 'string', maxLength: 2000 },
          },
        },
      },
    },
    async (request) => {
      known(request.params.name);
      const { from, to, code, state, limit, cursor } = request.query;
      const query: DeadLetterQuery = { limit: limit === undefined ? 50 : Number(limit) };
      if (from !== undefined) query.from = Date.parse(from);
      if (to !== undefined) query.to = Date.parse(to);
      if (code !== undefined) query.code = code;
      if (state !== undefined) query.state = state;
      if (cursor !== undefined) query.cursor = cursor;
      return services.store.deadLetters(request.params.name, query);
    },
  );

  app.get<{ Params: { name: string; id: string } }>(
    '/v1/connectors/:name/dlq/:id',
    { config: { role: 'read' }, schema: { tags: ['dead letters'], summary: 'One dead letter, with its payload', response: { 200: { description: 'The letter.', ...deadLetterSchema }, 404: noSuchLetter } } },
    async (request) => {
    known(request.params.name);
    const entry = await services.store.getDeadLetter(request.params.name, request.params.id);
    if (!entry) throw new RecsyncError('RECSYNC_ERR_NOT_FOUND', `no dead letter ${request.params.id} for connector ${request.params.name}`);
    return entry;
    },
  );

  app.post<{ Params: { name: string }; Body: { ids?: string[]; from?: string; to?: string; all?: boolean } }>(
    '/v1/connectors/:name/dlq/replay',
    {
      config: { role: 'operate', audit: 'dlq.replay' },
      bodyLimit: 256 * 1024,
      schema: {
        tags: ['dead letters'],
        summary: 'Send dead letters again: by ids, by time range, or all',
        response: {
          200: {
            description: 'What happened to each letter.',
            type: 'object',
            properties: {
              replayed: { type: 'integer' },
              superseded: { type: 'integer' },
              skipped: { type: 'integer' },
              items: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, result: { enum: ['replayed', 'superseded', 'skipped'] }, reason: { type: 'string' } } } },
            },
          },
          400: errorRef('The body says nothing to replay, or is malformed (RECSYNC_ERR_VALIDATION).'),
          404: unknownConnector,
        },
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            ids: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 1000 } },
            from: timeSchema,
            to: timeSchema,
            all: { const: true },
          },
        },
      },
    },
    async (request) => {
      known(request.params.name);
      const { ids, from, to, all } = request.body;
      if (ids === undefined && from === undefined && to === undefined && all !== true) {
        throw new RecsyncError('RECSYNC_ERR_VALIDATION', 'say what to replay: ids, a time range (from/to), or all: true', [{ field: 'body', message: 'needs ids, from/to or all' }]);
      }
      const selection: Parameters<typeof replayDeadLetters>[3] = {};
      if (ids !== undefined) selection.ids = ids;
      if (from !== undefined) selection.from = Date.parse(from);
      if (to !== undefined) selection.to = Date.parse(to);
      const report = await replayDeadLetters(services.store, services.queues, request.params.name, selection);
      request.log.info({ connector: request.params.name, replayed: report.replayed, superseded: report.superseded, skipped: report.skipped }, 'dead letters replayed');
      return report;
    },
  );

  app.delete<{ Params: { name: string; id: string } }>(
    '/v1/connectors/:name/dlq/:id',
    { config: { role: 'admin', audit: 'dlq.drop' }, schema: { tags: ['dead letters'], summary: 'Drop one dead letter for good', response: { 204: { description: 'Dropped.', type: 'null' }, 404: noSuchLetter } } },
    async (request, reply) => {
    known(request.params.name);
    if (!(await services.store.dropDeadLetter(request.params.name, request.params.id))) {
      throw new RecsyncError('RECSYNC_ERR_NOT_FOUND', `no dead letter ${request.params.id} for connector ${request.params.name}`);
    }
    request.log.warn({ connector: request.params.name, id: request.params.id }, 'dead letter dropped');
    return reply.status(204).send();
    },
  );
};
