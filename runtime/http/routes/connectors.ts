import type { FastifyPluginAsync } from 'fastify';
import type { ConnectorSlot } from '../../connectors/registry.ts';
import { dryRun, type DryRunInput } from '../../dry-run.ts';
import { RecsyncError } from '../../errors.ts';
import { defaultTenant } from '../../ingest.ts';
import { inboundName } from '../../sync/two-way.ts';
import type { Services } from '../../services.ts';
import { connectorStatusSchema, errorRef } from '../schemas.ts';

type Name = { Params: { name: string } };

const unknownConnector = errorRef('No connector of that name (RECSYNC_ERR_UNKNOWN_CONNECTOR).');
const steered = { type: 'object', properties: { name: { type: 'string' }, state: { enum: ['running', 'paused', 'config-error'] } } } as const;

const tenantQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { tenant: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$', description: 'Whose rate budget to show (default "default").' } },
} as const;

/**
 * Connectors: status (state, configuration version per instance, queue, rate budget, breakers,
 * counters), pause and resume for every instance, reload, and a dry run of a sample record.
 */
export const connectorRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const slotOf = (name: string): ConnectorSlot => {
    const slot = services.registry.slot(name);
    if (!slot) throw new RecsyncError('RECSYNC_ERR_UNKNOWN_CONNECTOR', `unknown connector "${name}"`, [{ field: 'name', message: 'not loaded' }]);
    return slot;
  };

  app.get<{ Querystring: { tenant?: string } }>(
    '/v1/connectors',
    {
      config: { role: 'read' },
      schema: {
        tags: ['connectors'],
        summary: 'Every connector: state, versions, counters, queue, rate budget, breakers',
        querystring: tenantQuery,
        response: { 200: { description: 'Every connector.', type: 'object', properties: { warning: { type: 'string', description: 'Only when the API runs without tokens.' }, connectors: { type: 'array', items: connectorStatusSchema } } } },
      },
    },
    async (request) => {
    const instances = await services.config.instances();
    const connectors = await Promise.all(services.registry.slots().map((slot) => describeConnector(services, slot, instances, request.query.tenant ?? defaultTenant)));
    return { ...(services.authOpen ? { warning: 'the API runs WITHOUT tokens (development mode on loopback): every caller is admin' } : {}), connectors };
    },
  );

  app.get<Name & { Querystring: { tenant?: string } }>(
    '/v1/connectors/:name',
    { config: { role: 'read' }, schema: { tags: ['connectors'], summary: 'One connector, in detail', querystring: tenantQuery, response: { 200: { description: 'The connector.', ...connectorStatusSchema }, 404: unknownConnector } } },
    async (request) =>
    describeConnector(services, slotOf(request.params.name), await services.config.instances(), request.query.tenant ?? defaultTenant),
  );

  const steer = (summary: string) => ({ tags: ['connectors'], summary, response: { 200: { description: 'The state now.', ...steered }, 404: unknownConnector } });

  app.post<Name>('/v1/connectors/:name/pause', { config: { role: 'operate', audit: 'connector.pause' }, schema: steer('Stop delivering on every instance until resumed (persisted; work in progress finishes)') }, async (request) => {
    slotOf(request.params.name);
    await services.queues.pause(request.params.name);
    return { name: request.params.name, state: 'paused' };
  });

  app.post<Name>('/v1/connectors/:name/resume', { config: { role: 'operate', audit: 'connector.resume' }, schema: steer('Deliver again, on every instance') }, async (request) => {
    const slot = slotOf(request.params.name);
    await services.queues.resume(request.params.name);
    return { name: request.params.name, state: slot.current ? 'running' : 'config-error' };
  });

  // Reload also takes a connector folder that appeared since the start.
  app.post<Name>(
    '/v1/connectors/:name/reload',
    {
      config: { role: 'operate', audit: 'connector.reload' },
      schema: {
        tags: ['connectors'],
        summary: "Build the connector anew from its files and swap it in on every instance, or refuse it",
        response: {
          200: { description: 'The version in service now.', type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, changed: { type: 'boolean' } } },
          404: unknownConnector,
          422: errorRef('The new configuration does not load (RECSYNC_ERR_CONFIG_REFUSED): `details` name file, line and field; `version` is the one that stays in service.'),
        },
      },
    },
    async (request, reply) => {
    const result = await services.config.reload(request.params.name);
    if (result.ok) return { name: request.params.name, version: result.version.version, changed: result.changed };
    if (result.current === null && !services.registry.slot(request.params.name)) {
      throw new RecsyncError('RECSYNC_ERR_UNKNOWN_CONNECTOR', `unknown connector "${request.params.name}": ${result.errors[0]?.message ?? ''}`, result.errors);
    }
    const error = new RecsyncError('RECSYNC_ERR_CONFIG_REFUSED', `the new configuration of ${request.params.name} does not load; version ${result.current ?? '(none)'} stays in service`, result.errors);
    return reply.status(error.status).send({ ...error.toJSON(), version: result.current });
    },
  );

  app.post<Name & { Body: DryRunInput }>(
    '/v1/connectors/:name/dry-run',
    {
      config: { role: 'read' },
      bodyLimit: 256 * 1024,
      schema: {
        tags: ['connectors'],
        summary: 'What the CRM would receive for a sample record, without sending it',
        response: {
          200: {
            description: '`ok: true` with the mapped `record`, or `ok: false` with the `stage` that refused it and its `error`.',
            type: 'object',
            properties: { ok: { type: 'boolean' }, configVersion: { type: 'string' }, record: { type: ['object', 'null'] }, stage: { type: 'string' }, error: { type: 'object' } },
          },
          404: unknownConnector,
          503: errorRef('The connector has no loaded configuration (RECSYNC_ERR_CONNECTOR_UNAVAILABLE).'),
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['object'],
          properties: {
            object: { type: 'string', minLength: 1, maxLength: 64 },
            action: { enum: ['upsert', 'delete'] },
            recordId: { type: 'string', minLength: 1, maxLength: 256 },
            tenant: { type: 'string', minLength: 1, maxLength: 128 },
            version: { type: 'integer', minimum: 0 },
            payload: { type: ['object', 'null'] },
          },
        },
      },
    },
    async (request) => {
      const slot = slotOf(request.params.name);
      if (!slot.current) throw new RecsyncError('RECSYNC_ERR_CONNECTOR_UNAVAILABLE', `connector ${slot.name} has no loaded configuration`, slot.errors);
      return dryRun(slot.current, request.body);
    },
  );

  app.get<{ Querystring: { limit?: string; before?: string } }>(
    '/v1/audit',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'The audit log of mutations, newest first',
        response: {
          200: {
            description: 'A page of entries; `next` is the `before` of the next page.',
            type: 'object',
            properties: {
              items: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, at: { type: 'string' }, who: { type: 'string' }, role: { type: 'string' }, action: { type: 'string' }, target: { type: 'object' }, status: { type: 'integer' }, requestId: { type: 'string' }, ip: { type: 'string' } } } },
              next: { type: ['string', 'null'] },
            },
          },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'string', pattern: '^(?:[1-9]\\d?|[1-4]\\d\\d|500)$', description: '1 to 500, default 50' },
            before: { type: 'string', pattern: '^\\d+-\\d+$', description: 'an entry id: older entries only' },
          },
        },
      },
    },
    async (request) => services.audit.list({ limit: request.query.limit === undefined ? 50 : Number(request.query.limit), ...(request.query.before === undefined ? {} : { before: request.query.before }) }),
  );
};

async function describeConnector(services: Services, slot: ConnectorSlot, instances: Awaited<ReturnType<Services['config']['instances']>>, tenant: string) {
  const current = slot.current;
  const limiter = current ? services.limiterOf(current) : undefined;
  const inbound = current?.inbound;
  const [counters, queue, paused, budget, rules, sync, inboundCounters, inboundQueue] = await Promise.all([
    services.store.counters(slot.name),
    services.queues.counts(slot.name),
    services.queues.isPaused(slot.name),
    limiter?.usage(`${slot.name}:${tenant}`),
    services.store.decisionCounters(slot.name),
    services.store.syncCounters(slot.name),
    inbound ? services.store.counters(inboundName(slot.name)) : undefined,
    inbound ? services.queues.counts(inboundName(slot.name)) : undefined,
  ]);
  return {
    name: slot.name,
    state: !current ? 'config-error' : paused ? 'paused' : 'running',
    paused,
    version: current?.version ?? null,
    loadedAt: current?.loadedAt ?? null,
    instances: instances.map((instance) => ({ id: instance.id, host: instance.host, pid: instance.pid, version: instance.versions[slot.name] ?? null })),
    objects: current ? [...current.objects.values()].map((plan) => ({ name: plan.name, mapping: plan.mapping.compiled ? { compiled: true } : { compiled: false, reason: plan.mapping.reason } })) : [],
    errors: slot.errors,
    counters,
    rules: (current?.rules ?? []).map((rule) => ({ name: rule.name, object: rule.object ?? null, action: rule.action, decisions: rules[rule.name] ?? { upsert: 0, delete: 0, skip: 0 } })),
    unmatchedEvents: rules['(none)']?.skip ?? 0,
    queue,
    rateBudget: budget ? { account: `${slot.name}:${tenant}`, ...budget } : null,
    breakers: services.breakers.states(`${slot.name}:`),
    // The way back, when the manifest declares it: its own accounting, and what the two-way sync decided.
    inbound: inbound
      ? {
          name: inboundName(slot.name),
          objects: [...inbound.objects.values()].map((plan) => ({ name: plan.name, conflict: plan.conflict })),
          counters: inboundCounters,
          queue: inboundQueue,
          echoesSuppressed: sync['echoesSuppressed'] ?? 0,
          conflicts: { crm: sync['conflicts.crm'] ?? 0, ours: sync['conflicts.ours'] ?? 0, oursYielded: sync['oursYielded'] ?? 0 },
          deliveredToSink: sync['toSink'] ?? 0,
          webhooks: { received: sync['webhooks'] ?? 0, rejected: { signature: sync['rejected.signature'] ?? 0, stale: sync['rejected.stale'] ?? 0, replayed: sync['rejected.replayed'] ?? 0 } },
        }
      : null,
  };
}
