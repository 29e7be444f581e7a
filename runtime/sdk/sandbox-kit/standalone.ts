import { parseArgs } from 'node:util';
import type { SandboxHarness } from './harness.ts';
import type { FaultSpec, LoggedRequest } from './types.ts';

/** The options every sandbox takes, whatever its CRM; a sandbox's own options extend these. */
export interface SandboxBaseOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (a random free port). */
  port?: number;
  /** Injectable clock in ms, default Date.now (see MonotonicClock). */
  now?: () => number;
  /** Fixed extra latency in real milliseconds on every API answer, default 0. */
  latencyMs?: number;
  /** How many requests the request log keeps, default 10000. */
  requestLogSize?: number;
  /** Keep request and response bodies in the request log, default true. Turn off for long benchmarks. */
  logBodies?: boolean;
  /**
   * Never issue an id issued in an earlier run (the SandboxModule contract; `npm start` sets it):
   * recsync's record state and stored CRM ids outlive a restarted, empty sandbox.
   */
  freshIds?: boolean;
}

/** The harness settings among the base options, only those given (the harness's defaults apply to the rest). */
export function harnessSettings(options: SandboxBaseOptions): { latencyMs?: number; logBodies?: boolean; requestLogSize?: number } {
  const settings: { latencyMs?: number; logBodies?: boolean; requestLogSize?: number } = {};
  if (options.latencyMs !== undefined) settings.latencyMs = options.latencyMs;
  if (options.logBodies !== undefined) settings.logBodies = options.logBodies;
  if (options.requestLogSize !== undefined) settings.requestLogSize = options.requestLogSize;
  return settings;
}

/** What every started sandbox offers in-process, besides its CRM-specific parts. */
export interface SandboxControls {
  /** The base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  /** Ends hung and delayed requests, then every socket. */
  close(): Promise<void>;
  /** The request log, oldest first. */
  requests(): LoggedRequest[];
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
}

/** Starts listening on the options' host and port; returns the controls every sandbox hands out. */
export async function listenSandbox<R extends { key: string }>(harness: SandboxHarness<R>, options: SandboxBaseOptions): Promise<SandboxControls> {
  const url = await harness.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  return {
    url,
    close: () => harness.close(),
    requests: () => harness.requests(),
    injectFault: (fault) => harness.injectFault(fault),
    clearFaults: () => harness.clearFaults(),
  };
}

/** Parses a whole-number command-line flag; undefined when absent, a TypeError when not a whole number. */
export function intFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new TypeError(`--${name} needs a whole number, got ${raw}`);
  return Number(raw);
}

export interface SandboxArgs {
  options: SandboxBaseOptions;
  /** `--no-limits` was given: the sandbox should turn its limits off. */
  noLimits: boolean;
  /** The sandbox's own whole-number flags, by name. */
  ints: Record<string, number | undefined>;
  /** The sandbox's own repeatable string flags, by name. */
  lists: Record<string, string[] | undefined>;
}

/**
 * Parses the flags every sandbox takes (`--port N`, `--host H`, `--latency MS`, `--fresh-ids`,
 * `--no-limits`) and the sandbox's own: whole-number flags (`ints`) and repeatable string flags
 * (`lists`). Anything else throws, which `runStandalone` turns into a usage error.
 */
export function parseSandboxArgs(args: string[], own: { ints?: string[]; lists?: string[] } = {}): SandboxArgs {
  const ownOptions = Object.fromEntries([
    ...(own.ints ?? []).map((name) => [name, { type: 'string' as const }]),
    ...(own.lists ?? []).map((name) => [name, { type: 'string' as const, multiple: true }]),
  ]);
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      latency: { type: 'string' },
      'fresh-ids': { type: 'boolean' },
      'no-limits': { type: 'boolean' },
      ...ownOptions,
    },
    strict: true,
  });
  const flags = values as Record<string, string | boolean | string[] | undefined>;
  const text = (name: string) => (typeof flags[name] === 'string' ? flags[name] : undefined);
  const options: SandboxBaseOptions = {};
  const port = intFlag('port', text('port'));
  if (port !== undefined) options.port = port;
  if (text('host') !== undefined) options.host = text('host')!;
  const latency = intFlag('latency', text('latency'));
  if (latency !== undefined) options.latencyMs = latency;
  if (flags['fresh-ids'] === true) options.freshIds = true;
  return {
    options,
    noLimits: flags['no-limits'] === true,
    ints: Object.fromEntries((own.ints ?? []).map((name) => [name, intFlag(name, text(name))])),
    lists: Object.fromEntries((own.lists ?? []).map((name) => [name, flags[name] as string[] | undefined])),
  };
}

/**
 * Runs a sandbox as a standalone process: `parse` turns the process arguments into options (any error
 * it throws is a usage error: message on stderr, exit code 2), `start` starts the sandbox; its env lines
 * are printed under `title`, then it serves until SIGINT or SIGTERM.
 */
export async function runStandalone<O, S extends { env: Record<string, string>; close(): Promise<void> }>(
  title: string,
  parse: (args: string[]) => O,
  start: (options: O) => Promise<S>,
): Promise<S | undefined> {
  let options: O;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
    return undefined;
  }
  const sandbox = await start(options);
  process.stdout.write(`${title} listening\n${Object.entries(sandbox.env).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  const stop = (): void => {
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while closing: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return sandbox;
}
