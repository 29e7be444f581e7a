import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../../runtime/redis/redis-server.ts';
import { onCleanup } from './cleanup.ts';
import { pollUntil } from './poll.ts';

export interface TestCluster {
  /** `redis-cluster://127.0.0.1:<p1>,...`, as recsync's REDIS_URL. */
  url: string;
  nodes: PrivateRedis[];
  /** A plain client per node (for reading what each node holds). */
  clients: Redis[];
}

/**
 * A real Redis Cluster of `size` masters on loopback ports, slots split evenly, for this test file;
 * stopped and removed when the file's tests end. Call it at the top level of the test file.
 */
export async function useRedisCluster(size = 3): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'recsync-cluster-'));
  const nodes = await Promise.all(
    Array.from({ length: size }, (_, i) =>
      startPrivateRedis({ dir: join(dir, `node-${i}`), appendOnly: false, extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }),
    ),
  );
  const clients = nodes.map((node) => new Redis(node.url));
  onCleanup(async () => {
    await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(dir, { recursive: true, force: true });
  });
  const per = Math.ceil(16384 / size);
  await Promise.all(clients.map((client, i) => client.call('CLUSTER', 'ADDSLOTSRANGE', String(i * per), String(Math.min(16383, (i + 1) * per - 1)))));
  for (const node of nodes.slice(1)) await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(node.port));
  await pollUntil(
    async () => {
      const infos = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>));
      return infos.every((info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${size}`)) ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return { url: `redis-cluster://${nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}`, nodes, clients };
}
