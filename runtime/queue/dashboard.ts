import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginAsync } from 'fastify';
import { queueName, type QueueSystem } from './record-queue.ts';

/** Where the queue dashboard is served. */
export const dashboardPath = '/queues';

/**
 * bull-board over every connector's queue, read-only: a job retried, removed or promoted by hand
 * would leave its record's state (and so the ledger and the dead-letter queue) out of step, so the
 * board only shows; operators steer through the API (pause, resume, replay). Register it with the
 * prefix `dashboardPath`. Queues of connectors loaded later (a reload of a new folder) are added
 * on the next request to the board. Reading it needs `read`, except the Redis server's statistics,
 * which need `admin`.
 */
export function queueDashboard(queues: QueueSystem, connectors: () => string[]): FastifyPluginAsync {
  return async (scope) => {
    // The Redis server's details (version, memory, clients) are for admins, like the audit log.
    scope.addHook('onRoute', (route) => {
      if (route.url.endsWith('/api/redis/stats')) route.config = { ...route.config, role: 'admin' };
    });
    const adapter = new FastifyAdapter();
    adapter.setBasePath(dashboardPath);
    const shown = new Set<string>();
    const adapterOf = (name: string) => new BullMQAdapter(queues.queue(name), { readOnlyMode: true, displayName: name, description: `connector ${name}, queue ${queueName(name)}` });
    const initial = connectors();
    for (const name of initial) shown.add(name);
    const board = createBullBoard({ queues: initial.map(adapterOf), serverAdapter: adapter, options: { uiConfig: { boardTitle: 'recsync queues' } } });
    scope.addHook('onRequest', async () => {
      for (const name of connectors()) {
        if (shown.has(name)) continue;
        shown.add(name);
        board.addQueue(adapterOf(name));
      }
    });
    await scope.register(adapter.registerPlugin());
  };
}
