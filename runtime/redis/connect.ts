import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A Redis connection: one server, or a Redis Cluster (ioredis routes every command by its key's slot). */
export type RedisConnection = Redis | Cluster;

const clusterScheme = /^redis-cluster:\/\//;

/**
 * Opens a connection for `url`: `redis://host:port[/db]` (or `rediss://`) for one server,
 * `redis-cluster://host:port,host:port,...` for a Redis Cluster given by some of its nodes.
 * Every key recsync writes carries a hash tag (`{connector}` or `{connector:tenant}`), so a
 * connector's record state, queue and scripts stay in one slot and its Lua scripts run on one node.
 */
export function connectRedis(url: string, options: RedisOptions = {}): RedisConnection {
  if (!clusterScheme.test(url)) return new Redis(url, options);
  const nodes = url.replace(clusterScheme, '').split(',').map((node) => {
    const match = /^([^:/]+):(\d+)\/?$/.exec(node.trim());
    if (!match) throw new Error(`REDIS_URL ${url}: "${node}" is not host:port`);
    return { host: match[1]!, port: Number(match[2]) };
  });
  const { enableOfflineQueue, lazyConnect, maxRetriesPerRequest, ...perNode } = options;
  return new Cluster(nodes, {
    redisOptions: { ...perNode, ...(maxRetriesPerRequest === undefined ? {} : { maxRetriesPerRequest }) },
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
  });
}
