import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.ts';

/** Liveness (the process serves) and readiness (Redis answers, and this process's workers run). */
export const healthRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const status = { type: 'object', properties: { status: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } } } as const;
  app.get(
    '/healthz',
    { config: { role: 'public' }, schema: { tags: ['operations'], summary: 'Liveness: the process serves HTTP', response: { 200: { description: '{"status":"ok"}', ...status } } } },
    async () => ({ status: 'ok' }),
  );
  const ready = { tags: ['operations'], summary: "Readiness: Redis answers and this process's workers run", response: { 200: { description: '{"status":"ready"}', ...status }, 503: { description: '{"status":"not ready","problems":[...]}', ...status } } };
  app.get('/readyz', { config: { role: 'public' }, schema: ready }, async (_request, reply) => {
    const problems: string[] = [];
    try {
      await services.ping();
    } catch (error) {
      problems.push(`redis: ${(error as Error).message}`);
    }
    if (services.workers) {
      for (const connector of services.registry.ready()) {
        if (!services.queues.workerRunning(connector.name)) problems.push(`worker for ${connector.name} is not running`);
      }
    }
    return reply.status(problems.length === 0 ? 200 : 503).send(problems.length === 0 ? { status: 'ready' } : { status: 'not ready', problems });
  });
};
