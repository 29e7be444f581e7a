import { spawn } from 'node:child_process';
import { onCleanup } from './cleanup.ts';
import { pollUntil } from './poll.ts';

/**
 * A connector's sandbox in its own process, like a real CRM: its event loop does not share the
 * test's, so the times it records are not skewed by the runtime under test. State comes through
 * its control API.
 */
export async function startSandboxProcess(sandboxFile: string, args: string[]): Promise<{ env: Record<string, string>; url: string; control<T>(path: string): Promise<T> }> {
  const child = spawn(process.execPath, [sandboxFile, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  onCleanup(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const env = await pollUntil(
    () => {
      const pairs = [...output.matchAll(/^([A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
      return pairs.length >= 2 ? Object.fromEntries(pairs) : child.exitCode !== null ? Promise.reject(new Error(`sandbox exited: ${output}`)) : undefined;
    },
    { timeoutMs: 15_000 },
  );
  const url = Object.entries(env).find(([key]) => key.endsWith('_BASE_URL'))![1];
  return {
    env,
    url,
    async control<T>(path: string): Promise<T> {
      const response = await fetch(`${url}/__sandbox${path}`);
      if (!response.ok) throw new Error(`sandbox control ${path}: ${response.status}`);
      return (await response.json()) as T;
    },
  };
}
