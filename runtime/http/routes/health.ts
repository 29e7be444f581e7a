import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.ts';

/** Liveness (the process serves) and readiness (Redis answers, and this process's workers run). */
export const healthRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  app.get('/healthz', { config: { role: 'public' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { role: 'public' } }, async (_request, reply) => {
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
