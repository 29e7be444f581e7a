import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.ts';
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../../runtime/redis/redis-server.ts';

const connect = async (url: string) => {
  const client = new Redis(url, { lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  return client;
};

export type TestRedisClient = Redis;

export interface TestRedis extends PrivateRedis {
  /** A connected client, closed (before the server stops) when the file's tests end. */
  client(): Promise<TestRedisClient>;
}

/**
 * A private redis-server for this test file on a free port, stopped and removed when the file's
 * tests end. Call it at the top level of the test file (not inside a hook).
 */
export async function useRedis(options: { appendOnly?: boolean } = {}): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'recsync-redis-'));
  let server = await startPrivateRedis({ dir, appendOnly: options.appendOnly ?? false });
  const clients: Redis[] = [];
  onCleanup(async () => {
    await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const extra = {
    async client() {
      const client = await connect(server.url);
      clients.push(client);
      return client;
    },
    async restart() {
      server = await server.restart();
      return server;
    },
  };
  return new Proxy(server as TestRedis, {
    get(_target, key) {
      if (key in extra) return extra[key as keyof typeof extra];
      return Reflect.get(server, key);
    },
  });
}

let counter = 0;
/** A name unique to this test run, for queue and key prefixes. */
export function uniqueName(base: string): string {
  counter += 1;
  return `${base}-${process.pid}-${counter}`;
}
