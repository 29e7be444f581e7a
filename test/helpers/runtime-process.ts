import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { onCleanup } from './cleanup.ts';
import { pollUntil } from './poll.ts';

const entry = new URL('./runtime-process-main.ts', import.meta.url).pathname;

export interface RuntimeProcess {
  url: string;
  pid: number;
  /** SIGTERM, and wait for the exit (graceful shutdown). */
  stop(): Promise<void>;
}

/**
 * A whole recsync instance (API, workers, file watching) in its own process, as an orchestrator
 * runs several of them on one Redis. `env`: REDIS_URL and the CRM URLs it needs.
 */
export async function startRuntimeProcess(options: { redisUrl: string; connectorsDir: string; env: Record<string, string>; watch?: boolean }): Promise<RuntimeProcess> {
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, ...options.env, REDIS_URL: options.redisUrl, RECSYNC_CONNECTORS_DIR: options.connectorsDir, RECSYNC_WATCH: options.watch ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  onCleanup(stop);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await pollUntil(() => (/^ready (\S+)$/m.exec(output)?.[1] ?? (child.exitCode !== null ? Promise.reject(new Error(`runtime exited: ${output}`)) : undefined)), { timeoutMs: 20_000 });
  return { url, pid: child.pid!, stop };
}
