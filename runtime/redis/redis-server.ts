import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { Redis } from 'ioredis';

/** A private redis-server owned by this process (used by `npm start` without REDIS_URL, by tests and benchmarks). */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The `run_id` from `INFO server`: checked before anything destructive, so we never touch a Redis we did not start. */
  readonly runId: string;
  readonly dir: string;
  /** SIGKILL the server (fault tests). */
  kill(): Promise<void>;
  /** Start it again on the same port and folder (AOF replays); the run id changes. */
  restart(): Promise<PrivateRedis>;
  stop(): Promise<void>;
}

export interface PrivateRedisOptions {
  /** Folder for AOF and RDB files; created when missing. */
  dir: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** `appendonly yes` with `appendfsync everysec` (default true). */
  appendOnly?: boolean;
  /** Path of the binary (default `redis-server` from PATH). */
  binary?: string;
  /** More server arguments, e.g. cluster mode for tests. */
  extraArgs?: string[];
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const address = srv.address();
  srv.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function startPrivateRedis(options: PrivateRedisOptions): Promise<PrivateRedis> {
  await mkdir(options.dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const appendOnly = options.appendOnly ?? true;
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', options.dir,
    '--save', '',
    '--appendonly', appendOnly ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction',
    '--protected-mode', 'yes',
    '--loglevel', 'warning',
    '--logfile', '',
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess;
  try {
    child = spawn(options.binary ?? 'redis-server', args, { stdio: 'ignore' });
  } catch (error) {
    throw new Error(`cannot start redis-server: ${(error as Error).message}`);
  }
  const spawnError = once(child, 'error').then(([error]) => {
    throw new Error(
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'redis-server is not installed: install it with `apt-get install redis-server` (Debian/Ubuntu) or set REDIS_URL'
        : `cannot start redis-server: ${(error as Error).message}`,
    );
  });
  const url = `redis://127.0.0.1:${port}`;
  const runId = await Promise.race([waitForRunId(url, 10_000), spawnError]);
  const pid = child.pid!;
  const exited = once(child, 'exit');
  const server: PrivateRedis = {
    url,
    port,
    pid,
    runId,
    dir: options.dir,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    async restart() {
      await server.kill();
      return startPrivateRedis({ ...options, port });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
  return server;
}

async function waitForRunId(url: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 500, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    client.on('error', () => {});
    try {
      await client.connect();
      const info = await client.info('server');
      await client.quit();
      const match = /run_id:(\w+)/.exec(info);
      if (match) return match[1]!;
    } catch (error) {
      lastError = error;
      client.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server at ${url} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}

/** Throws unless the server at `url` is the one with `runId`: guards every destructive command in tests. */
export async function assertRunId(client: { info(section: string): Promise<string> }, runId: string): Promise<void> {
  const info = await client.info('server');
  const match = /run_id:(\w+)/.exec(info);
  if (!match || match[1] !== runId) throw new Error(`refusing a destructive command: Redis run_id ${match?.[1]} is not ours (${runId})`);
}
