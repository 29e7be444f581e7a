import type { FastifyPluginAsync } from 'fastify';
import type { ConnectorSlot } from '../../connectors/registry.ts';
import type { Services } from '../../services.ts';

/** `GET /v1/connectors`: every connector with its state, configuration version, counters and queue. */
export const connectorRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  app.get('/v1/connectors', async () => ({ connectors: await Promise.all(services.registry.slots().map((slot) => describeConnector(services, slot))) }));
};

async function describeConnector(services: Services, slot: ConnectorSlot) {
  const current = slot.current;
  const [counters, queue] = await Promise.all([services.store.counters(slot.name), services.queues.counts(slot.name)]);
  return {
    name: slot.name,
    state: current ? 'running' : 'config-error',
    version: current?.version ?? null,
    loadedAt: current?.loadedAt ?? null,
    objects: current ? [...current.objects.values()].map((plan) => ({ name: plan.name, mapping: plan.mapping.compiled ? { compiled: true } : { compiled: false, reason: plan.mapping.reason } })) : [],
    errors: slot.errors,
    counters,
    queue,
    breakers: services.breakers.states(`${slot.name}:`),
  };
}
