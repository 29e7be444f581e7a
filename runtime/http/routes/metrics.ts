import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.ts';

/** `GET /metrics`: Prometheus text format; shared gauges are read from Redis at each scrape. */
export const metricsRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/metrics',
    {
      config: { role: 'read' },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics of this instance',
        description: 'Counters and histograms count what this instance did; gauges of shared state (queues, dead letters, the ledger) are read from Redis at scrape. Names: docs/operations/operating.md#metrics.',
        produces: ['text/plain'],
        response: { 200: { description: 'Prometheus text exposition format 0.0.4.', type: 'string' } },
      },
    },
    async (_request, reply) => {
      const text = await services.metrics.render();
      return reply.type(services.metrics.contentType).send(text);
    },
  );
};
