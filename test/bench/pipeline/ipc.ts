// A tiny request/response channel over Node's IPC, so the benchmark's processes (sandbox, workers,
// load generator) run apart from the orchestrator, each on its own event loop and measured on its
// own CPU line, yet answer its questions (acknowledgements seen, enqueue times, "stop now").
import { fork, type ChildProcess } from 'node:child_process';

type Handler = (args: any) => unknown;

interface Request {
  id: number;
  cmd: string;
  args?: unknown;
}

/** In a child: answers the orchestrator's calls, then says it is ready (with `info`). Exits when the parent goes. */
export function serve(handlers: Record<string, Handler>, info: Record<string, unknown> = {}): void {
  process.on('message', (message: Request) => {
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message.args);
      })
      .then(
        (result) => process.send!({ id: message.id, result }),
        (error: unknown) => process.send!({ id: message.id, error: (error as Error).stack ?? String(error) }),
      );
  });
  // An orchestrator that died must not leave workers pounding Redis.
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: { pid: process.pid, ...info } });
}

export interface Child {
  readonly pid: number;
  readonly info: Record<string, unknown>;
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Forks `file` with Node's IPC (structured-clone serialization: big arrays travel cheaply) and waits for its ready message. */
export async function startChild(file: string, options: { env?: Record<string, string | undefined>; execArgv?: string[] } = {}): Promise<Child> {
  const proc: ChildProcess = fork(file, [], {
    execPath: process.execPath,
    execArgv: options.execArgv ?? [],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let next = 0;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.on('message', (message: { ready?: Record<string, unknown>; id?: number; result?: unknown; error?: string }) => {
      if (message.ready) return resolve(message.ready);
      const waiter = pending.get(message.id!);
      pending.delete(message.id!);
      if (message.error !== undefined) waiter?.reject(new Error(`${file}: ${message.error}`));
      else waiter?.resolve(message.result);
    });
    proc.once('exit', (code, signal) => {
      const error = new Error(`${file} exited (${code ?? signal})`);
      reject(error);
      for (const waiter of pending.values()) waiter.reject(error);
      pending.clear();
    });
  });
  return {
    pid: proc.pid!,
    info,
    call<T>(cmd: string, args?: unknown): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        proc.send({ id, cmd, args } satisfies Request);
      });
    },
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
