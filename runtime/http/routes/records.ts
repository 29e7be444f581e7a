import type { FastifyPluginAsync } from 'fastify';
import { RecsyncError } from '../../errors.ts';
import { defaultTenant } from '../../ingest.ts';
import type { Services } from '../../services.ts';
import { slotOfFlow } from '../../sync/two-way.ts';
import { errorRef, recordStatusSchema } from '../schemas.ts';

/** `GET /v1/records/:connector/:recordId`: was change X of record Y delivered, and what is its CRM id? */
export const recordRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  app.get<{ Params: { connector: string; recordId: string }; Querystring: { object?: string; tenant?: string } }>(
    '/v1/records/:connector/:recordId',
    {
      config: { role: 'read' },
      schema: {
        tags: ['records'],
        summary: 'State of one record for one connector: versions, CRM id, last error',
        response: {
          200: { description: 'The record.', ...recordStatusSchema },
          400: errorRef('The connector has several objects and no ?object= was given (RECSYNC_ERR_VALIDATION).'),
          404: errorRef('No such connector (RECSYNC_ERR_UNKNOWN_CONNECTOR) or record (RECSYNC_ERR_NOT_FOUND).'),
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { object: { type: 'string', minLength: 1, maxLength: 64 }, tenant: { type: 'string', minLength: 1, maxLength: 128 } },
        },
      },
    },
    async (request) => {
      const { connector, recordId } = request.params;
      // `<name>.in`: the way back of connector <name>, whose record ids are the CRM's object ids.
      const flow = slotOfFlow(services.registry, connector);
      if (!flow) throw new RecsyncError('RECSYNC_ERR_UNKNOWN_CONNECTOR', `unknown connector "${connector}"`, [{ field: 'connector', message: 'not loaded' }]);
      const { slot, inbound } = flow;
      let object = request.query.object;
      if (object === undefined) {
        const objects = [...((inbound ? slot.current?.inbound?.objects : slot.current?.objects)?.keys() ?? [])];
        if (objects.length !== 1) {
          throw new RecsyncError('RECSYNC_ERR_VALIDATION', `connector "${connector}" has several objects: add ?object=`, [{ field: 'querystring.object', message: `is required, one of ${JSON.stringify(objects)}` }]);
        }
        object = objects[0]!;
      }
      const status = await services.store.status({ connector, tenant: request.query.tenant ?? defaultTenant, object, recordId });
      if (!status) throw new RecsyncError('RECSYNC_ERR_NOT_FOUND', `no record ${recordId} of object ${object} for connector ${connector}`);
      return status;
    },
  );
};
